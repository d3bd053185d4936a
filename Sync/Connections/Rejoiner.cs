using System.Collections.Immutable;
using Microsoft.Extensions.Options;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Connections;

/// <summary>
/// Re-joins a room's local clients to its owner (docs/architecture.md §9.6) whenever <see cref="GatewayRooms"/> asks:
/// a seq gap, a new owner, a lost owner, a restored subscription, this node having been pruned. Each
/// heartbeat it also re-joins rooms whose owner is no longer usable (the owner died quietly).
/// </summary>
internal sealed partial class Rejoiner(
    GatewayRooms gateways,
    RoomManager rooms,
    NodeBus bus,
    NodeIdentity node,
    Membership membership,
    ConnectionRegistry registry,
    TimeProvider time,
    OttMetrics metrics,
    IOptions<ClusterOptions> cluster,
    ILogger<Rejoiner> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var liveness = WatchOwnersAsync(stoppingToken);
        try
        {
            await foreach (var gateway in gateways.RejoinRequests.ReadAllAsync(stoppingToken))
            {
                gateway.RejoinAgain = true;
                if (Interlocked.Exchange(ref gateway.Rejoining, 1) == 0)
                {
                    _ = RejoinAsync(gateway);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        await liveness;
    }

    private async Task RejoinAsync(GatewayRoom gateway)
    {
        var drain = registry.DrainToken;
        var sentAny = false;
        var unseen = 0;
        try
        {
            while (gateway.RejoinAgain && !gateways.IsStopped)
            {
                gateway.RejoinAgain = false;
                var users = gateway.Closed
                    ? []
                    : gateway.Clients().Where(c => !c.IsClosing).Select(c => c.User).OfType<RoomUser>().ToImmutableList();
                if (users.IsEmpty && !sentAny)
                {
                    break; // nobody here, and nobody announced from here by this rejoin
                }
                metrics.Resync();
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(drain);
                timeout.CancelAfter(cluster.Value.RequestTimeout * 4);
                var before = gateway.Applied;
                OttFailure? failure;
                try
                {
                    // An empty rejoin only removes this node's users; it never loads a room.
                    failure = await rooms.SendAsync(gateway.Key, new RejoinCommand(node.Id, users), timeout.Token, activate: !users.IsEmpty);
                }
                catch (OperationCanceledException)
                {
                    failure = OttFailure.RoomUnavailable();
                }
                if (failure is null && !users.IsEmpty && unseen < 3 && !await BatchArrivedAsync(gateway, before, drain))
                {
                    // Applied, but the batch with the full sync never reached this node: it was published while this
                    // node's subscription was being restored (§9.6). Nothing later shows the gap when the room then
                    // goes quiet, so the clients are re-joined again (up to three times: a rejoin of users who are
                    // all banned is answered by a batch this node may never get) rather than left with a stale view.
                    unseen++;
                    Log.RejoinUnseen(logger, gateway.Key);
                    sentAny = true;
                    gateway.RejoinAgain = true;
                    continue;
                }
                switch (failure?.Name)
                {
                    case null:
                        sentAny = !users.IsEmpty;
                        // A client that left while this rejoin was on its way was just re-added by it (its Leave
                        // found no owner): go round once more, so the owner drops it again (no ghost users).
                        var here = gateway.Clients().Where(c => !c.IsClosing).Select(c => c.ClientId).ToHashSet(StringComparer.Ordinal);
                        if (users.Any(u => !here.Contains(u.ClientId)))
                        {
                            gateway.RejoinAgain = true;
                        }
                        break;
                    case "RoomNotFoundException" when users.IsEmpty:
                        return;
                    case "RoomNotFoundException":
                        // The state is gone from a healthy store: every node closes its clients with 4003 (§9.6).
                        Log.RoomGone(logger, gateway.Key);
                        bus.PublishRoom(gateway.Key, new BusHeader(BusType.RoomUnloaded) { Epoch = gateway.Epoch },
                            w => GatewayRooms.WriteUnloaded(w, 4003, "Room was unloaded"));
                        gateways.CloseRoom(gateway.Key, 4003, "Room was unloaded");
                        return;
                    case "Unknown":
                        // The stored state cannot be read: retrying cannot help, the clients are told (docs/protocol.md §1.7).
                        Log.RoomUnreadable(logger, gateway.Key);
                        foreach (var client in gateway.Clients())
                        {
                            client.Close(1011, "Room state is unavailable");
                        }
                        return;
                    default:
                        // Unavailable for now (no owner yet, or the store is unreachable): try again shortly.
                        Log.RejoinFailed(logger, gateway.Key, failure.Name ?? failure.Message);
                        gateway.RejoinAgain = true;
                        await Task.Delay(TimeSpan.FromMilliseconds(250), time, drain);
                        break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            Log.RejoinCrashed(logger, e, gateway.Key);
        }
        finally
        {
            Volatile.Write(ref gateway.Rejoining, 0);
            if (gateway.RejoinAgain && !gateways.IsStopped)
            {
                gateways.RequestRejoin(gateway);
            }
        }
    }

    // A rejoin with users is always answered by a batch of the owner's (the full sync, then the user list), applied
    // here before the reply when the owner is this node and normally before it too when the batch comes over the
    // room channel, which the same subscription carries. Waits up to a request timeout for the room to move past
    // where it was when the rejoin was sent.
    private async Task<bool> BatchArrivedAsync(GatewayRoom gateway, (long Epoch, long Seq) before, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        while (true)
        {
            var now = gateway.Applied;
            if (now.Epoch != before.Epoch || now.Seq > before.Seq || gateway.Closed)
            {
                return true;
            }
            if (time.GetElapsedTime(started) >= cluster.Value.RequestTimeout)
            {
                return false;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(10), time, ct);
        }
    }

    /// <summary>Every heartbeat: rooms whose owner is no longer usable re-join their clients.</summary>
    private async Task WatchOwnersAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(cluster.Value.HeartbeatInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                foreach (var gateway in gateways.Rooms)
                {
                    if (gateway.Owner is { } owner && !membership.IsUsable(owner))
                    {
                        gateway.ForgetOwner();
                        rooms.ForgetOwner(gateway.Key);
                        gateways.RequestRejoin(gateway);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Information, "Room {Room} no longer exists; closing its clients with 4003")]
        public static partial void RoomGone(ILogger logger, string room);

        [LoggerMessage(LogLevel.Error, "Room {Room}: its stored state is unreadable; closing its clients here with 1011")]
        public static partial void RoomUnreadable(ILogger logger, string room);

        [LoggerMessage(LogLevel.Information, "Room {Room}: re-join failed ({Failure}); retrying")]
        public static partial void RejoinFailed(ILogger logger, string room, string failure);

        [LoggerMessage(LogLevel.Warning, "Room {Room}: re-join applied, but its full sync did not arrive within a request timeout; re-joining again")]
        public static partial void RejoinUnseen(ILogger logger, string room);

        [LoggerMessage(LogLevel.Error, "Room {Room}: re-join crashed")]
        public static partial void RejoinCrashed(ILogger logger, Exception e, string room);
    }
}
