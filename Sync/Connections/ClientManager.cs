using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Ott.Sync.Auth;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Connections;

/// <summary>
/// Every local socket, and one <see cref="GatewayRoom"/> per room with local clients (design.md §4). It
/// applies the owners' batches to local clients (in-process from a local owner, from the room channel
/// otherwise), re-joins its clients when their room's owner changes, is lost, or events were missed
/// (§9.5, §9.6), and carries announcements and session changes across nodes. The drain token that
/// closes every socket at shutdown is deliberately not linked to ApplicationStopping (§12).
/// </summary>
internal sealed partial class ClientManager(
    TimeProvider time,
    NodeBus bus,
    NodeIdentity node,
    Membership membership,
    IServiceProvider services,
    OttMetrics metrics,
    IOptions<ClusterOptions> cluster,
    ILogger<ClientManager> logger) : BackgroundService, ISessionChangeListener, IGatewayHandler
{
    private readonly ConcurrentDictionary<string, RoomConnection> _connections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, GatewayRoom> _rooms = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _drain = new();
    private RoomManager? _roomManager;
    private volatile bool _draining;

    private RoomManager Rooms => _roomManager ??= services.GetRequiredService<RoomManager>();

    public CancellationToken DrainToken => _drain.Token;

    public int Count => _connections.Count;

    public IEnumerable<RoomConnection> Connections => _connections.Values;

    /// <summary>Rooms with local clients (debug view).</summary>
    public IEnumerable<GatewayRoom> GatewayRooms => _rooms.Values;

    public void Register(RoomConnection connection) => _connections[connection.ClientId] = connection;

    public void Unregister(RoomConnection connection) =>
        _connections.TryRemove(new KeyValuePair<string, RoomConnection>(connection.ClientId, connection));

    // ----- rooms -----

    /// <summary>Adds a joining client to its room here, subscribing to the room channel first (design.md §5.3 step 2).</summary>
    public async Task AddToRoomAsync(string room, RoomConnection connection, CancellationToken ct)
    {
        var key = RoomManager.KeyOf(room);
        while (true)
        {
            var gateway = _rooms.GetOrAdd(key, k => new GatewayRoom(k));
            if (gateway.TryAdd(connection))
            {
                break;
            }
            _rooms.TryRemove(new KeyValuePair<string, GatewayRoom>(key, gateway)); // closed by its last client meanwhile
        }
        await bus.SubscribeRoomAsync(key, ct);
    }

    public async Task RemoveFromRoomAsync(string room, RoomConnection connection)
    {
        var key = RoomManager.KeyOf(room);
        if (_rooms.TryGetValue(key, out var gateway) && gateway.Remove(connection))
        {
            _rooms.TryRemove(new KeyValuePair<string, GatewayRoom>(key, gateway));
            if (!_rooms.ContainsKey(key))
            {
                await bus.UnsubscribeRoomAsync(key);
                if (_rooms.ContainsKey(key))
                {
                    await bus.SubscribeRoomAsync(key, CancellationToken.None); // a client arrived meanwhile
                }
            }
        }
    }

    /// <summary>A batch released by an owner on this node.</summary>
    public void Deliver(RoomDelivery delivery)
    {
        if (_rooms.TryGetValue(delivery.Room, out var gateway) && gateway.Apply(delivery, node.Id))
        {
            RequestRejoin(gateway);
        }
    }

    /// <summary>The local owner released or lost the room: re-join its clients wherever it goes next.</summary>
    public void OwnerLost(string room)
    {
        Rooms.ForgetOwner(room);
        if (_rooms.TryGetValue(room, out var gateway))
        {
            gateway.ForgetOwner();
            RequestRejoin(gateway);
        }
    }

    /// <summary>The room is gone: its local clients are closed with <paramref name="code"/> (protocol.md §8.3).</summary>
    public void CloseRoom(string room, int code, string reason)
    {
        Rooms.ForgetOwner(room);
        if (_rooms.TryGetValue(room, out var gateway))
        {
            gateway.Reset();
            foreach (var client in gateway.Clients())
            {
                client.Close(code, reason);
            }
        }
    }

    // ----- envelopes from other nodes -----

    public void OnRoomMessage(BusMessage message)
    {
        if (message.Room is not { } room || !_rooms.TryGetValue(room, out var gateway))
        {
            return;
        }
        switch (message.Type)
        {
            case BusType.Event when message.Seq is { } seq:
                var delivery = new RoomDelivery(room, message.Epoch, seq, RoomDelivery.ReadOps(message.Payload));
                if (gateway.Apply(delivery, message.From))
                {
                    RequestRejoin(gateway);
                }
                break;
            case BusType.OwnerChanged:
                Rooms.ForgetOwner(room);
                if (gateway.OwnerChanged(message.Epoch, message.From))
                {
                    RequestRejoin(gateway);
                }
                break;
            case BusType.OwnerLost when message.Epoch >= gateway.Epoch:
                OwnerLost(room); // an older owner's goodbye says nothing about the current one
                break;
            case BusType.RoomUnloaded:
                var code = message.Payload.ValueKind == JsonValueKind.Object && message.Payload.TryGetProperty("code", out var c) ? c.GetInt32() : 4003;
                var reason = message.Payload.ValueKind == JsonValueKind.Object && message.Payload.TryGetProperty("reason", out var r) ? r.GetString() ?? "" : "";
                CloseRoom(room, code, reason);
                break;
        }
    }

    public void OnClusterMessage(BusMessage message)
    {
        switch (message.Type)
        {
            case BusType.NodeDown:
                membership.MarkDown(message.From);
                foreach (var gateway in _rooms.Values.Where(g => g.Owner == message.From))
                {
                    RequestRejoin(gateway);
                }
                break;
            case BusType.Announcement when message.Payload.ValueKind == JsonValueKind.Object:
                AnnounceLocally(message.Payload.GetProperty("text").GetString() ?? "");
                break;
            case BusType.UserChanged when message.Payload.ValueKind == JsonValueKind.Object:
                var sessionKey = message.Payload.GetProperty("sessionKey").GetString() ?? "";
                _ = RefreshSessionAsync(sessionKey, CancellationToken.None);
                break;
        }
    }

    public void OnConnectionRestored() => RejoinAll();

    /// <summary>Re-joins every room's clients (a restored connection, or this node had been pruned).</summary>
    public void RejoinAll()
    {
        foreach (var gateway in _rooms.Values)
        {
            RequestRejoin(gateway);
        }
    }

    /// <summary>A node left: owners drop its users, and rooms it owned re-join their clients elsewhere (§9.6).</summary>
    public void NodeLeft(string nodeId)
    {
        Rooms.GatewayLost(nodeId);
        foreach (var gateway in _rooms.Values.Where(g => g.Owner == nodeId))
        {
            RequestRejoin(gateway);
        }
    }

    // ----- rejoin (design.md §9.6) -----

    private void RequestRejoin(GatewayRoom gateway)
    {
        if (_draining)
        {
            return;
        }
        gateway.RejoinAgain = true;
        if (Interlocked.Exchange(ref gateway.Rejoining, 1) == 0)
        {
            _ = Task.Run(() => RejoinAsync(gateway));
        }
    }

    private async Task RejoinAsync(GatewayRoom gateway)
    {
        try
        {
            while (gateway.RejoinAgain && !gateway.Closed && !_draining)
            {
                gateway.RejoinAgain = false;
                var users = gateway.Clients().Where(c => !c.IsClosing).Select(c => c.User).OfType<RoomUser>().ToImmutableList();
                if (users.IsEmpty)
                {
                    break;
                }
                metrics.Resync();
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_drain.Token);
                timeout.CancelAfter(cluster.Value.RequestTimeout * 4);
                OttFailure? failure;
                try
                {
                    failure = await Rooms.SendAsync(gateway.Key, new RejoinCommand(node.Id, users), timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    failure = OttFailure.RoomUnavailable();
                }
                if (failure?.Name == "RoomNotFoundException")
                {
                    // The state is gone from a healthy store: every node closes its clients with 4003 (§9.6).
                    Log.RoomGone(logger, gateway.Key);
                    bus.PublishRoom(gateway.Key, new BusHeader(BusType.RoomUnloaded), w => WriteUnloaded(w, 4003, "Room was unloaded"));
                    CloseRoom(gateway.Key, 4003, "Room was unloaded");
                    break;
                }
                if (failure is not null)
                {
                    // Unavailable for now (no owner yet, or the store is unreachable): try again shortly.
                    Log.RejoinFailed(logger, gateway.Key, failure.Name ?? failure.Message);
                    gateway.RejoinAgain = true;
                    await Task.Delay(TimeSpan.FromMilliseconds(250), time, _drain.Token);
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
            if (gateway.RejoinAgain && !gateway.Closed && !_draining)
            {
                RequestRejoin(gateway);
            }
        }
    }

    public static void WriteUnloaded(Utf8JsonWriter w, int code, string reason)
    {
        w.WriteStartObject();
        w.WriteNumber("code", code);
        w.WriteString("reason", reason);
        w.WriteEndObject();
    }

    /// <summary>Every second: rooms whose owner is no longer usable re-join their clients (the owner died quietly).</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        membership.NodeLeft += NodeLeft;
        membership.Pruned += RejoinAll;
        membership.CutOff += CloseAllCutOff;
        using var timer = new PeriodicTimer(cluster.Value.HeartbeatInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var gateway in _rooms.Values)
                {
                    if (gateway.Owner is { } owner && !membership.IsUsable(owner))
                    {
                        gateway.ForgetOwner();
                        Rooms.ForgetOwner(gateway.Key);
                        RequestRejoin(gateway);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            membership.NodeLeft -= NodeLeft;
            membership.Pruned -= RejoinAll;
            membership.CutOff -= CloseAllCutOff;
        }
    }

    private void CloseAllCutOff()
    {
        foreach (var connection in _connections.Values)
        {
            connection.Close(1012, "Server cannot reach its store");
        }
    }

    // ----- announcements and sessions -----

    /// <summary>Sends an announcement to every socket on every node, joined or not (protocol.md §1.5).</summary>
    public void Announce(string text)
    {
        bus.PublishCluster(new BusHeader(BusType.Announcement), w =>
        {
            w.WriteStartObject();
            w.WriteString("text", text);
            w.WriteEndObject();
        });
        AnnounceLocally(text);
    }

    private void AnnounceLocally(string text)
    {
        var frame = FrameWriter.Write(new AnnouncementFrame(text));
        foreach (var connection in _connections.Values)
        {
            connection.Send(frame);
        }
    }

    /// <summary>Every connection using the session, on every node, re-reads it and refreshes its room user (protocol.md §3.3).</summary>
    public async Task SessionChangedAsync(string sessionKey, CancellationToken ct)
    {
        bus.PublishCluster(new BusHeader(BusType.UserChanged), w =>
        {
            w.WriteStartObject();
            w.WriteString("sessionKey", sessionKey);
            w.WriteEndObject();
        });
        await RefreshSessionAsync(sessionKey, ct);
    }

    private async Task RefreshSessionAsync(string sessionKey, CancellationToken ct)
    {
        try
        {
            var refreshes = _connections.Values.Where(c => c.SessionKey == sessionKey).Select(c => c.RefreshUserAsync(ct));
            await Task.WhenAll(refreshes);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.RefreshFailed(logger, e);
        }
    }

    /// <summary>§10.4 step 3: closes every direct socket with 1001.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        _draining = true;
        foreach (var connection in _connections.Values)
        {
            connection.Close(1001, "Server shutting down");
        }
        var deadline = time.GetTimestamp();
        while (!_connections.IsEmpty && time.GetElapsedTime(deadline) < timeout)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), time);
        }
        await _drain.CancelAsync();
    }

    /// <summary>From the first moment of a drain, no room is re-joined from here.</summary>
    public void StopRejoining() => _draining = true;

    public override void Dispose()
    {
        _drain.Dispose();
        base.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Information, "Room {Room} no longer exists; closing its clients with 4003")]
        public static partial void RoomGone(ILogger logger, string room);

        [LoggerMessage(LogLevel.Information, "Room {Room}: re-join failed ({Failure}); retrying")]
        public static partial void RejoinFailed(ILogger logger, string room, string failure);

        [LoggerMessage(LogLevel.Error, "Room {Room}: re-join crashed")]
        public static partial void RejoinCrashed(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Warning, "Refreshing a session's connections failed")]
        public static partial void RefreshFailed(ILogger logger, Exception e);
    }
}

/// <summary>An owner's outputs: to this node's clients in-process, and to the room channel for other nodes.</summary>
internal sealed class RoomFanout(ClientManager clients, NodeBus bus) : IRoomFanout
{
    public void Deliver(RoomDelivery delivery, bool publish)
    {
        clients.Deliver(delivery);
        if (publish)
        {
            bus.PublishRoom(delivery.Room, new BusHeader(BusType.Event) { Epoch = delivery.Epoch, Seq = delivery.Seq }, delivery.WritePayload);
        }
    }

    public void OwnerChanged(string room, long epoch) =>
        bus.PublishRoom(room, new BusHeader(BusType.OwnerChanged) { Epoch = epoch }, null);

    public void OwnerLost(string room, long epoch)
    {
        bus.PublishRoom(room, new BusHeader(BusType.OwnerLost) { Epoch = epoch }, null);
        clients.OwnerLost(room);
    }

    public void Unloaded(string room, int code, string reason)
    {
        bus.PublishRoom(room, new BusHeader(BusType.RoomUnloaded), w => ClientManager.WriteUnloaded(w, code, reason));
        clients.CloseRoom(room, code, reason);
    }
}
