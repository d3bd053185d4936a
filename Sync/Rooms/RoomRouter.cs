using System.Text.Json;
using Microsoft.Extensions.Options;
using Ott.Sync.Cluster;
using Ott.Sync.Media;
using Ott.Sync.Protocol;
using Ott.Sync.Storage;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Rooms;

/// <summary>
/// Routes every room command to its owner (design.md §9.3): the local actor, a usable remote owner
/// (forwarded over its node channel), or a new activation. It keeps the owner cache, and it answers the
/// <c>cmd</c>/<c>activate</c> requests other nodes address to this one (the owner check of §9.3).
/// </summary>
internal sealed partial class RoomRouter(
    RoomHost host,
    OwnerCache owners,
    RoomStore store,
    NodeBus bus,
    NodeIdentity node,
    ClusterClock clock,
    Membership membership,
    MediaService media,
    IOptions<LeaseOptions> leaseOptions,
    IOptions<ClusterOptions> clusterOptions,
    OttMetrics metrics,
    ILogger<RoomRouter> logger) : BackgroundService
{
    private long _reqIds;

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
            if (clock.Time.GetTimestamp() > giveUpAt)
            {
                throw new OttException(OttFailure.RoomUnavailable());
            }
            var lease = await ReadLeaseAsync(key, ct);
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
                if (owners.Contains(key) || await ReadLeaseAsync(key, ct) is not null)
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

    private async Task<LeaseHolder?> ReadLeaseAsync(string key, CancellationToken ct)
    {
        try
        {
            return await store.ReadLeaseAsync(key, ct);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            throw new OttException(OttFailure.RoomUnavailable());
        }
    }

    private Task PauseAsync(TimeSpan pttl, CancellationToken ct)
    {
        // Re-read at most once per 100 ms while a lease lapses (design.md §9.3 step 3).
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
        Func<JsonElement, T> readOk, TimeSpan timeout, CancellationToken ct)
    {
        using var reply = await bus.RequestAsync(target, header, payload, timeout, ct);
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
    public async Task<OttFailure?> SendAsync(string key, RoomCommand command, bool activate, OttFailure? whenNotLoaded, CancellationToken ct)
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
                        return await SendLocalAsync(local.Actor, command, ct);
                    case RemoteRoute remote:
                        if (command is RequestCommand { ReqId: null, Request: not ChatRequest } storable)
                        {
                            // Minted once: a retry after an owner change carries the same id (design.md §9.4).
                            command = storable with { ReqId = $"{node.Id}:{Interlocked.Increment(ref _reqIds)}" };
                        }
                        var (done, failure) = await ForwardAsync(key, remote, command, ct);
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
    private async Task<(bool Done, OttFailure? Failure)> ForwardAsync(string key, RemoteRoute remote, RoomCommand command, CancellationToken ct)
    {
        metrics.Forwarded();
        var header = new BusHeader(BusType.Cmd) { Room = key, Epoch = remote.Epoch, ReqId = command.ReqId };
        var answer = await AskAsync(remote.Node, header, w => CommandCodec.Write(w, command), _ => true, Cluster.RequestTimeout, ct);
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
                // Storable requests are retried under their reqId, presence is idempotent; chat and status are not retried.
                return Retriable(command) ? (false, null) : (true, OttFailure.RoomUnavailable());
            default:
                owners.Forget(key);
                return (false, null);
        }
    }

    private static bool Retriable(RoomCommand command) =>
        command.ReqId is not null || command is JoinCommand or RejoinCommand or LeaveCommand or UpdateUserCommand or ClaimCommand;

    private async Task<OttFailure?> SendLocalAsync(RoomActor actor, RoomCommand command, CancellationToken ct)
    {
        switch (command)
        {
            case RequestCommand { Request: AddRequest or PlayNowRequest } request:
                var state = actor.State;
                var lookup = await media.LookupAsync(request.Request,
                    id => request.Request is PlayNowRequest && state.Queue.Any(i => i.Is(id)), ct);
                command = request with { Media = lookup };
                break;
            case UnloadRoomCommand unload:
                await actor.UnloadAsync(unload.Reason, ct);
                await actor.Completion.WaitAsync(ct);
                return null;
        }
        return await actor.SendAsync(command, ct);
    }

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

    // ----- requests from other nodes -----

    /// <summary>Reads the requests other nodes address to this one; each is handled on its own, so one slow room never blocks another.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var request in bus.Requests.ReadAllAsync(stoppingToken))
            {
                _ = HandleAsync(request);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task HandleAsync(BusMessage request)
    {
        using (request)
        {
            try
            {
                await HandleRequestAsync(request);
            }
            catch (Exception e)
            {
                Log.HandlerFailed(logger, e, request.Type, request.Room);
            }
        }
    }

    /// <summary>A <c>cmd</c> or <c>activate</c> addressed to this node (design.md §9.3 owner check).</summary>
    private async Task HandleRequestAsync(BusMessage request)
    {
        if (request.Room is not { } key)
        {
            return;
        }
        using var timeout = new CancellationTokenSource(Cluster.RequestTimeout);
        try
        {
            if (request.Type == BusType.Activate)
            {
                await HandleActivateAsync(request, key, timeout.Token);
                return;
            }
            if (request.Type != BusType.Cmd)
            {
                return;
            }
            var actor = host.Loaded(key);
            if (actor is null || !actor.DeadlineValid || (request.Epoch != 0 && request.Epoch != actor.Token.Epoch))
            {
                bus.Reply(request, w => CommandCodec.NotOwner(w, null));
                return;
            }
            RoomCommand command;
            try
            {
                command = CommandCodec.Read(request.Payload, request.ReqId);
            }
            catch (OttException e)
            {
                bus.Reply(request, w => CommandCodec.Error(w, e.Failure));
                return;
            }
            if (command is SnapshotCommand)
            {
                var state = actor.State;
                bus.Reply(request, w => CommandCodec.Snapshot(w, state));
                return;
            }
            var failure = await SendLocalAsync(actor, command, timeout.Token);
            bus.Reply(request, w =>
            {
                if (failure is null) CommandCodec.Ok(w); else CommandCodec.Error(w, failure);
            });
        }
        catch (OttException e)
        {
            bus.Reply(request, w => CommandCodec.Error(w, e.Failure));
        }
        catch (OperationCanceledException)
        {
            // The requester has given up by now; it routes again.
        }
    }

    private async Task HandleActivateAsync(BusMessage request, string key, CancellationToken ct)
    {
        if (host.IsDraining)
        {
            bus.Reply(request, w => CommandCodec.NotOwner(w, null));
            return;
        }
        var activation = await host.ActivateAsync(key, ct);
        if (activation.Actor is { } actor)
        {
            bus.Reply(request, w => CommandCodec.Activated(w, actor.Token.Epoch));
        }
        else if (activation.NotFound)
        {
            bus.Reply(request, CommandCodec.NotFound);
        }
        else
        {
            bus.Reply(request, w => CommandCodec.NotOwner(w, activation.Holder));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Error, "Handling a {Type} request for room {Room} failed")]
        public static partial void HandlerFailed(ILogger logger, Exception e, string type, string? room);
    }
}
