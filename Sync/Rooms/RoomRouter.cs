using System.Text.Json;
using Microsoft.Extensions.Options;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;
using Ott.Sync.Storage;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Rooms;

/// <summary>
/// Routes every room command to its owner (docs/architecture.md §9.3): the local actor, a usable remote owner
/// (forwarded over its node channel), or a new activation. <see cref="OwnerRequests"/> is the other end:
/// it answers what other nodes' routers send here.
/// </summary>
internal sealed class RoomRouter(
    RoomHost host,
    OwnerCache owners,
    RoomStore store,
    NodeBus bus,
    NodeIdentity node,
    ClusterClock clock,
    Membership membership,
    StallWatch stalls,
    IOptions<LeaseOptions> leaseOptions,
    IOptions<ClusterOptions> clusterOptions,
    OttMetrics metrics)
{

    private ClusterOptions Cluster => clusterOptions.Value;

    // ----- resolving the owner -----

    private abstract record Route;
    private sealed record LocalRoute(RoomActor Actor) : Route;
    private sealed record RemoteRoute(string Node, long Epoch) : Route;
    private sealed record NoRoom : Route;
    private sealed record NotLoaded : Route;

    private long GiveUpAt() =>
        clock.Time.GetTimestamp() + (long)((leaseOptions.Value.Ttl + Cluster.RequestTimeout).TotalSeconds * clock.Time.TimestampFrequency);

    /// <summary>Finds the room's owner: local, a usable remote node, or (with <paramref name="activate"/>) a new activation.</summary>
    private async Task<Route> ResolveAsync(string key, bool activate, long giveUpAt, CancellationToken ct)
    {
        while (true)
        {
            if (host.Loaded(key) is { } local)
            {
                return new LocalRoute(local);
            }
            if (owners.TryGet(key, out var known) && membership.IsUsable(known.Node))
            {
                return new RemoteRoute(known.Node, known.Epoch);
            }
            owners.Forget(key);
            ThrowIfGivenUp(giveUpAt);
            var lease = await ReadLeaseAsync(key, giveUpAt, ct);
            if (lease is not null)
            {
                if (lease.NodeId != node.Id && membership.IsUsable(lease.NodeId))
                {
                    owners.Set(key, lease.NodeId, lease.Epoch);
                    return new RemoteRoute(lease.NodeId, lease.Epoch);
                }
                if (lease.NodeId == node.Id && host.InFlight(key) is { } inFlight)
                {
                    await inFlight.WaitAsync(ct);
                    continue;
                }
                // Held by a node that is not usable (or by this node's stopped actor): it lapses within its PTTL.
                await PauseAsync(lease.Pttl, ct);
                continue;
            }
            if (!activate)
            {
                return new NotLoaded();
            }
            if (host.IsDraining)
            {
                throw new OttException(OttFailure.RoomUnavailable());
            }
            if (!membership.IsSettled)
            {
                // Activations wait for the live set to settle, which avoids a restart stampede (§10.1).
                try
                {
                    await membership.WaitSettledAsync(ct).WaitAsync(Cluster.RequestTimeout, ct);
                }
                catch (TimeoutException)
                {
                    // A node that cannot settle still serves: placement is advice, the lease decides.
                }
            }
            var preferred = Placement.Preferred(key, membership.UsableNodes()) ?? node.Id;
            if (preferred != node.Id)
            {
                var asked = await AskToActivateAsync(preferred, key, ct);
                if (asked is not null)
                {
                    return asked;
                }
                if (owners.Contains(key) || await ReadLeaseAsync(key, giveUpAt, ct) is not null)
                {
                    continue; // someone holds it now: route there
                }
            }
            var activation = await host.ActivateAsync(key, ct);
            if (activation.Actor is { } actor)
            {
                return new LocalRoute(actor);
            }
            if (activation.NotFound)
            {
                return new NoRoom();
            }
        }
    }

    /// <summary>
    /// Sends <c>activate</c> to the preferred node. Null means "go on": it timed out or nobody listens (then
    /// this node acquires), or the reply named a holder (then the lease is read again).
    /// </summary>
    private async Task<Route?> AskToActivateAsync(string preferred, string key, CancellationToken ct)
    {
        var answer = await AskAsync(preferred, new BusHeader(BusType.Activate) { Room = key }, null,
            p => p.TryGetProperty("epoch", out var e) ? e.GetInt64() : 0, Cluster.ActivateTimeout, ct);
        switch (answer.Kind)
        {
            case AnswerKind.Ok:
                owners.Set(key, preferred, answer.Value);
                return new RemoteRoute(preferred, answer.Value);
            case AnswerKind.NotFound:
                return new NoRoom();
            case AnswerKind.Error:
                throw new OttException(answer.Failure!);
            default:
                return null;
        }
    }

    // A store error while the owner is looked up (a Redis Cluster shard failing over, a reconnect) is retried until
    // the request's deadline, as a lapsing lease is: the request may already be applied by the owner it was sent to,
    // and a retry under its id gets that answer (docs/architecture.md §9.3, §9.4).
    private async Task<LeaseHolder?> ReadLeaseAsync(string key, long giveUpAt, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return await store.ReadLeaseAsync(key, ct);
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
            {
                ThrowIfGivenUp(giveUpAt);
            }
            await PauseAsync(TimeSpan.Zero, ct);
        }
    }

    // Past the request's deadline, the room is unavailable. A deadline that passed while this node itself was
    // stopped is not the owner's fault: a request whose answer was on its way gets one more try, which the owner
    // recognises (§9.4).
    private void ThrowIfGivenUp(long giveUpAt)
    {
        if (clock.Time.GetTimestamp() > giveUpAt && !stalls.InGrace)
        {
            throw new OttException(OttFailure.RoomUnavailable());
        }
    }

    private Task PauseAsync(TimeSpan pttl, CancellationToken ct)
    {
        // Re-read at most once per 100 ms while a lease lapses (docs/architecture.md §9.3 step 3).
        var wait = pttl > TimeSpan.FromMilliseconds(100) || pttl <= TimeSpan.Zero ? TimeSpan.FromMilliseconds(100) : pttl;
        return Task.Delay(wait, clock.Time, ct);
    }

    // ----- asking an owner: the one place a reply's status is read -----

    private enum AnswerKind
    {
        Ok,
        Error,
        NotFound,
        NotOwner,
        Unreachable,
    }

    private readonly record struct Answer<T>(AnswerKind Kind, T? Value = default, OttFailure? Failure = null);

    /// <summary>One request to another node and its reply, read while the envelope is still alive.</summary>
    private async Task<Answer<T>> AskAsync<T>(string target, BusHeader header, Action<Utf8JsonWriter>? payload,
        Func<JsonElement, T> readOk, TimeSpan timeout, CancellationToken ct, Action? published = null)
    {
        // A target that stops being usable (its heartbeats lapsed) is not waited for: failover starts now.
        using var reply = await bus.RequestAsync(target, header, payload, timeout, ct, () => !membership.IsUsable(target), published);
        switch (reply.Outcome)
        {
            case BusOutcome.NoListener:
                // Nobody listens on its channel: not usable for one node timeout (§9.3 step 4).
                membership.MarkSuspect(target);
                return new Answer<T>(AnswerKind.Unreachable);
            case BusOutcome.TimedOut:
                return new Answer<T>(AnswerKind.Unreachable);
        }
        var body = reply.Message!.Payload;
        return CommandCodec.Status(body) switch
        {
            "ok" => new Answer<T>(AnswerKind.Ok, readOk(body)),
            "error" => new Answer<T>(AnswerKind.Error, Failure: CommandCodec.ReadError(body)),
            "not_found" => new Answer<T>(AnswerKind.NotFound),
            _ => new Answer<T>(AnswerKind.NotOwner),
        };
    }

    // ----- commands -----

    /// <summary>
    /// Sends a command to its room, wherever it is owned, and waits until it is applied, persisted and
    /// released. With <paramref name="activate"/> false a room that nobody owns answers <paramref name="whenNotLoaded"/>.
    /// </summary>
    /// <remarks><paramref name="posted"/> runs once the command is queued for its owner (its mailbox, or the owner's channel).</remarks>
    public Task<OttFailure?> SendAsync(string key, RoomCommand command, bool activate, OttFailure? whenNotLoaded, CancellationToken ct,
        Action? posted = null) =>
        // Most commands are for a room this node owns: straight to its actor, with nothing to resolve.
        host.Loaded(key) is { } local
            ? RoomHost.SendLocalAsync(local, command, ct, posted)
            : RouteAsync(key, command, activate, whenNotLoaded, posted, ct);

    private async Task<OttFailure?> RouteAsync(string key, RoomCommand command, bool activate, OttFailure? whenNotLoaded, Action? posted,
        CancellationToken ct)
    {
        var giveUpAt = GiveUpAt();
        try
        {
            while (true)
            {
                switch (await ResolveAsync(key, activate, giveUpAt, ct))
                {
                    case NoRoom:
                        return OttFailure.RoomNotFound();
                    case NotLoaded:
                        return whenNotLoaded ?? OttFailure.RoomNotFound();
                    case LocalRoute local:
                        return await RoomHost.SendLocalAsync(local.Actor, command, ct, posted);
                    case RemoteRoute remote:
                        var (done, failure) = await ForwardAsync(key, remote, command, posted, ct);
                        if (done)
                        {
                            return failure;
                        }
                        // The owner moved or is going: the next lease read tells where, without spinning.
                        await PauseAsync(TimeSpan.FromMilliseconds(50), ct);
                        break;
                }
            }
        }
        catch (OttException e)
        {
            return e.Failure;
        }
    }

    /// <summary>One forward; (false, _) means route again (the owner moved or is gone).</summary>
    private async Task<(bool Done, OttFailure? Failure)> ForwardAsync(string key, RemoteRoute remote, RoomCommand command, Action? posted,
        CancellationToken ct)
    {
        metrics.Forwarded();
        var header = new BusHeader(BusType.Cmd) { Room = key, Epoch = remote.Epoch, ReqId = command.Id?.ToString() };
        var answer = await AskAsync(remote.Node, header, w => CommandCodec.Write(w, command), _ => true, Cluster.RequestTimeout, ct, posted);
        switch (answer.Kind)
        {
            case AnswerKind.Ok:
                return (true, null);
            case AnswerKind.Error:
                return (true, answer.Failure);
            case AnswerKind.NotFound:
                return (true, OttFailure.RoomNotFound());
            case AnswerKind.Unreachable:
                owners.Forget(key);
                // Requests with an id are retried under it (the owner applies one at most once), presence is
                // idempotent; chat and status are not retried.
                return Retriable(command) ? (false, null) : (true, OttFailure.RoomUnavailable());
            default:
                owners.Forget(key);
                return (false, null);
        }
    }

    private static bool Retriable(RoomCommand command) =>
        command.Id is not null || command is JoinCommand or RejoinCommand or LeaveCommand or UpdateUserCommand or ClaimCommand;

    /// <summary>The room's state from its owner (REST reads); null when the room does not exist, or is not loaded and <paramref name="activate"/> is false.</summary>
    public async Task<RoomState?> GetStateAsync(string key, bool activate, CancellationToken ct)
    {
        var giveUpAt = GiveUpAt();
        while (true)
        {
            switch (await ResolveAsync(key, activate, giveUpAt, ct))
            {
                case LocalRoute local:
                    return local.Actor.State;
                case RemoteRoute remote:
                    var header = new BusHeader(BusType.Cmd) { Room = key, Epoch = remote.Epoch };
                    var answer = await AskAsync(remote.Node, header, w => CommandCodec.Write(w, new SnapshotCommand()),
                        CommandCodec.ReadSnapshot, Cluster.RequestTimeout, ct);
                    switch (answer.Kind)
                    {
                        case AnswerKind.Ok:
                            return answer.Value;
                        case AnswerKind.Error:
                            throw new OttException(answer.Failure!);
                        case AnswerKind.NotFound:
                            return null;
                    }
                    owners.Forget(key);
                    await PauseAsync(TimeSpan.FromMilliseconds(50), ct);
                    break;
                default:
                    return null;
            }
        }
    }

}
