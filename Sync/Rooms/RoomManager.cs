using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Ott.Sync.Cluster;
using Ott.Sync.Media;
using Ott.Sync.Protocol;
using Ott.Sync.Storage;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Rooms;

/// <summary>What <c>POST /api/room/create</c> and <c>generate</c> ask for.</summary>
internal sealed record CreateRoomSpec(
    string Name,
    bool IsTemporary,
    string Title = "",
    string Description = "",
    Visibility Visibility = Visibility.Unlisted,
    QueueMode QueueMode = QueueMode.Manual,
    IReadOnlyList<string>? AutoSkipSegmentCategories = null);

/// <summary>
/// The single entry point for endpoints and sockets (design.md §4): creates rooms, activates them on
/// demand (single-flight per room), routes commands to their actor, and resolves media first (§5.4).
/// </summary>
internal sealed partial class RoomManager(
    RoomStore store,
    NodeIdentity node,
    ClusterClock clock,
    Membership membership,
    NodeBus bus,
    IRoomFanout fanout,
    MediaService media,
    ISegmentSource segments,
    IOptions<RoomsOptions> roomsOptions,
    IOptions<LeaseOptions> leaseOptions,
    IOptions<ClusterOptions> clusterOptions,
    IOptions<SponsorBlockOptions> sponsorBlock,
    OttMetrics metrics,
    ILoggerFactory loggers) : INodeRequestHandler, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, RoomActor> _actors = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<Activation>>> _activations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string Node, long Epoch)> _owners = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger<RoomManager>();
    private readonly RoomContext _ctx = new(() => Guid.NewGuid().ToString(), Random.Shared, sponsorBlock.Value.Enabled);
    private long _reqIds;
    private volatile bool _draining;

    private RoomsOptions Rooms => roomsOptions.Value;
    private LeaseOptions Lease => leaseOptions.Value;
    private ClusterOptions Cluster => clusterOptions.Value;

    public IReadOnlyCollection<RoomActor> Actors => (IReadOnlyCollection<RoomActor>)_actors.Values;

    public bool IsDraining => _draining;

    public string NodeId => node.Id;

    public static string KeyOf(string room) => room.ToLowerInvariant();

    /// <summary>The owner this node last routed a room to (debug view).</summary>
    public IReadOnlyDictionary<string, (string Node, long Epoch)> KnownOwners => _owners;

    // ----- create and activate -----

    public async Task<OttFailure?> CreateAsync(CreateRoomSpec spec, RoomOwner? owner, CancellationToken ct)
    {
        if (_draining)
        {
            return OttFailure.RoomUnavailable();
        }
        var key = KeyOf(spec.Name);
        var now = clock.Now;
        var state = RoomState.Create(spec.Name, spec.IsTemporary, now) with
        {
            Title = spec.Title,
            Description = spec.Description,
            Visibility = spec.Visibility,
            QueueMode = spec.QueueMode,
            Owner = owner,
            AutoSkipSegmentCategories = spec.AutoSkipSegmentCategories is { } c ? SegmentCategories.Normalize(c) : SegmentCategories.All,
        };
        var json = RoomActor.Serialize(state);
        var sent = clock.Time.GetTimestamp();
        var token = await store.CreateAsync(key, node.Id, json, Lease.Ttl, spec.IsTemporary ? Rooms.TemporaryStateTtl : null, ct);
        if (token is not { } t)
        {
            return OttFailure.RoomNameTaken(spec.Name);
        }
        // The creating node owns the room; HRW is not consulted (design.md §10.2).
        var actor = StartActor(key, t, state, json, sent);
        fanout.OwnerChanged(key, t.Epoch);
        await PublishDirectoryAsync(actor, ct);
        Log.Created(_logger, spec.Name, node.Id);
        return null;
    }

    /// <summary>The owned actor if the room is loaded here; never activates.</summary>
    public RoomActor? Loaded(string room) =>
        _actors.TryGetValue(KeyOf(room), out var actor) && !actor.IsStopped ? actor : null;

    /// <summary>What one local activation found: the actor, no such room, or a lease held by <see cref="Holder"/>.</summary>
    private sealed record Activation(RoomActor? Actor, bool NotFound, string? Holder);

    /// <summary>One single-flight ACQUIRE of a room on this node (design.md §4).</summary>
    private async Task<Activation> ActivateLocalAsync(string key, CancellationToken ct)
    {
        if (_actors.TryGetValue(key, out var existing) && !existing.IsStopped)
        {
            return new Activation(existing, false, null);
        }
        if (_draining)
        {
            throw new OttException(OttFailure.RoomUnavailable());
        }
        // Lazy makes the activation truly single-flight: GetOrAdd may run its factory twice.
        var activation = _activations.GetOrAdd(key, k => new Lazy<Task<Activation>>(() => ActivateOnceAsync(k)));
        try
        {
            return await activation.Value.WaitAsync(ct);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            // The store failed under the activation: the room is unavailable, not missing.
            throw new OttException(OttFailure.RoomUnavailable());
        }
    }

    /// <summary>One activation; it removes its own entry when done, whoever is still waiting for it.</summary>
    private async Task<Activation> ActivateOnceAsync(string key)
    {
        try
        {
            // Activation is shared by every waiter, so it must not observe one caller's cancellation.
            var sent = clock.Time.GetTimestamp();
            var result = await store.AcquireAsync(key, node.Id, Lease.Ttl, Rooms.TemporaryStateTtl, CancellationToken.None);
            return result switch
            {
                AcquireResult.NotFound => new Activation(null, true, null),
                AcquireResult.Acquired acquired => new Activation(await LoadAsync(key, acquired, sent), false, null),
                AcquireResult.Held when _actors.TryGetValue(key, out var local) && !local.IsStopped => new Activation(local, false, null),
                AcquireResult.Held held => new Activation(null, false, LeaseHolder.Parse(held.HolderToken, held.Pttl).NodeId),
                _ => throw new InvalidOperationException("unknown acquire result"),
            };
        }
        finally
        {
            _activations.TryRemove(key, out _);
        }
    }

    private async Task<RoomActor> LoadAsync(string key, AcquireResult.Acquired acquired, long sent)
    {
        RoomState state;
        try
        {
            var stored = JsonSerializer.Deserialize(acquired.StateJson, StateJsonContext.Default.StorableRoom)
                ?? throw new JsonException("null state");
            state = RoomTransitions.OnLoad(stored.FromStorable(), clock.Now, _ctx);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            // An unreadable record is released at once and left in Redis for an operator (design.md §7.6).
            Log.UnreadableState(_logger, e, key);
            await store.ReleaseAsync(key, acquired.Token, null, null, CancellationToken.None);
            throw new OttException(OttFailure.Unknown() with { Reason = "unreadable" });
        }
        var json = RoomActor.Serialize(state);
        if (json != acquired.StateJson)
        {
            // The load transition (restore-queue rules) changed the record: persist it before anyone sees it.
            state = state with { Version = state.Version + 1 };
            json = RoomActor.Serialize(state);
            if (!await store.FencedWriteAsync(key, acquired.Token, json, state.IsTemporary ? Rooms.TemporaryStateTtl : null, CancellationToken.None))
            {
                throw new OttException(OttFailure.RoomUnavailable());
            }
        }
        var actor = StartActor(key, acquired.Token, state, json, sent);
        // Gateways with clients in the room re-join them to this owner (design.md §9.6).
        fanout.OwnerChanged(key, acquired.Token.Epoch);
        await PublishDirectoryAsync(actor, CancellationToken.None);
        Log.Activated(_logger, key, acquired.Token.Epoch, node.Id);
        return actor;
    }

    private RoomActor StartActor(string key, LeaseToken token, RoomState state, string json, long sentAt)
    {
        var deadline = sentAt + (long)((Lease.Ttl - Lease.EffectiveMargin).TotalSeconds * clock.Time.TimestampFrequency);
        var actor = new RoomActor(key, token, state, json, deadline, store, clock, Rooms, Lease, _ctx,
            loggers.CreateLogger<RoomActor>(), OnStopped, FetchSegmentsAsync, metrics, fanout, node.Id);
        _actors[key] = actor;
        _owners.TryRemove(key, out _);
        metrics.LeaseAcquired();
        metrics.RoomLoaded();
        return actor;
    }

    private void OnStopped(RoomActor actor)
    {
        _actors.TryRemove(new KeyValuePair<string, RoomActor>(actor.Key, actor));
        metrics.RoomStopped();
    }

    private async Task FetchSegmentsAsync(FetchSegments fetch, RoomActor actor)
    {
        try
        {
            var found = await segments.GetSegmentsAsync(fetch.Item, fetch.Categories, CancellationToken.None);
            actor.Post(new SegmentsLoadedCommand(fetch.Item, found));
        }
        catch (Exception e)
        {
            Log.SegmentsFailed(_logger, e, actor.Key);
        }
    }

    // ----- routing (design.md §9.3) -----

    private abstract record Route;
    private sealed record LocalRoute(RoomActor Actor) : Route;
    private sealed record RemoteRoute(string Node, long Epoch) : Route;
    private sealed record NoRoom : Route;
    private sealed record NotLoaded : Route;

    private long GiveUpAt() =>
        clock.Time.GetTimestamp() + (long)((Lease.Ttl + Cluster.RequestTimeout).TotalSeconds * clock.Time.TimestampFrequency);

    /// <summary>Finds the room's owner: local, a usable remote node, or (with <paramref name="activate"/>) a new activation.</summary>
    private async Task<Route> ResolveAsync(string key, bool activate, long giveUpAt, CancellationToken ct)
    {
        while (true)
        {
            if (_actors.TryGetValue(key, out var local) && !local.IsStopped)
            {
                return new LocalRoute(local);
            }
            if (_owners.TryGetValue(key, out var known) && membership.IsUsable(known.Node))
            {
                return new RemoteRoute(known.Node, known.Epoch);
            }
            _owners.TryRemove(key, out _);
            if (clock.Time.GetTimestamp() > giveUpAt)
            {
                throw new OttException(OttFailure.RoomUnavailable());
            }
            var lease = await ReadLeaseAsync(key, ct);
            if (lease is not null)
            {
                if (lease.NodeId != node.Id && membership.IsUsable(lease.NodeId))
                {
                    _owners[key] = (lease.NodeId, lease.Epoch);
                    return new RemoteRoute(lease.NodeId, lease.Epoch);
                }
                if (lease.NodeId == node.Id && _activations.TryGetValue(key, out var inFlight))
                {
                    await inFlight.Value.WaitAsync(ct);
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
            if (_draining)
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
                if (_owners.ContainsKey(key) || await ReadLeaseAsync(key, ct) is not null)
                {
                    continue; // someone holds it now: route there
                }
            }
            var activation = await ActivateLocalAsync(key, ct);
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
        using var reply = await bus.RequestAsync(preferred, new BusHeader(BusType.Activate) { Room = key }, null, Cluster.ActivateTimeout, ct);
        switch (reply.Outcome)
        {
            case BusOutcome.NoListener:
                membership.MarkSuspect(preferred);
                return null;
            case BusOutcome.TimedOut:
                return null;
        }
        var payload = reply.Message!.Payload;
        switch (CommandCodec.Status(payload))
        {
            case "ok":
                var epoch = payload.TryGetProperty("epoch", out var e) ? e.GetInt64() : 0;
                _owners[key] = (preferred, epoch);
                return new RemoteRoute(preferred, epoch);
            case "not_found":
                return new NoRoom();
            case "error":
                throw new OttException(CommandCodec.ReadError(payload));
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

    // ----- commands -----

    /// <summary>
    /// Sends a command to its room, wherever it is owned, and waits until it is applied, persisted and
    /// released. Add and PlayNow resolve their media first, outside the room. With <paramref name="activate"/>
    /// false a room that nobody owns answers <paramref name="whenNotLoaded"/>.
    /// </summary>
    public async Task<OttFailure?> SendAsync(string room, RoomCommand command, CancellationToken ct,
        bool activate = true, OttFailure? whenNotLoaded = null)
    {
        var key = KeyOf(room);
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
        using var reply = await bus.RequestAsync(remote.Node, header, w => CommandCodec.Write(w, command), Cluster.RequestTimeout, ct);
        switch (reply.Outcome)
        {
            case BusOutcome.NoListener:
                membership.MarkSuspect(remote.Node);
                _owners.TryRemove(key, out _);
                return (false, null); // never delivered: safe to send again
            case BusOutcome.TimedOut:
                _owners.TryRemove(key, out _);
                // Storable requests are retried under their reqId, presence is idempotent; chat and status are not retried.
                return Retriable(command) ? (false, null) : (true, OttFailure.RoomUnavailable());
        }
        var payload = reply.Message!.Payload;
        switch (CommandCodec.Status(payload))
        {
            case "ok":
                return (true, null);
            case "error":
                return (true, CommandCodec.ReadError(payload));
            case "not_found":
                return (true, OttFailure.RoomNotFound());
            default:
                _owners.TryRemove(key, out _);
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
    public async Task<RoomState?> GetStateAsync(string room, bool activate, CancellationToken ct)
    {
        var key = KeyOf(room);
        var giveUpAt = GiveUpAt();
        while (true)
        {
            switch (await ResolveAsync(key, activate, giveUpAt, ct))
            {
                case LocalRoute local:
                    return local.Actor.State;
                case RemoteRoute remote:
                    var header = new BusHeader(BusType.Cmd) { Room = key, Epoch = remote.Epoch };
                    using (var reply = await bus.RequestAsync(remote.Node, header, w => CommandCodec.Write(w, new SnapshotCommand()), Cluster.RequestTimeout, ct))
                    {
                        if (reply.Outcome == BusOutcome.Replied)
                        {
                            var payload = reply.Message!.Payload;
                            switch (CommandCodec.Status(payload))
                            {
                                case "ok":
                                    return CommandCodec.ReadSnapshot(payload);
                                case "error":
                                    throw new OttException(CommandCodec.ReadError(payload));
                                case "not_found":
                                    return null;
                            }
                        }
                        else if (reply.Outcome == BusOutcome.NoListener)
                        {
                            membership.MarkSuspect(remote.Node);
                        }
                    }
                    _owners.TryRemove(key, out _);
                    await PauseAsync(TimeSpan.FromMilliseconds(50), ct);
                    break;
                default:
                    return null;
            }
        }
    }

    /// <summary>Sends a disconnect's Leave to wherever the room is owned; never throws, never activates.</summary>
    public async Task LeaveAsync(string room, string clientId, CancellationToken ct)
    {
        if (Loaded(room) is { } actor)
        {
            // Waits for mailbox space: a disconnect's Leave must not be lost to a busy room.
            await actor.PostAsync(new LeaveCommand(clientId), ct);
            return;
        }
        try
        {
            await SendAsync(room, new LeaveCommand(clientId), ct, activate: false);
        }
        catch (OperationCanceledException)
        {
            // The owner is unreachable: the next rejoin of this node's clients drops the user (§9.6).
        }
    }

    /// <summary>Unloads the room wherever it is owned; false when nobody owns it.</summary>
    public async Task<bool> UnloadAsync(string room, UnloadReason reason, CancellationToken ct)
    {
        if (Loaded(room) is { } actor)
        {
            await actor.UnloadAsync(reason, ct);
            await actor.Completion.WaitAsync(ct);
            return true;
        }
        var failure = await SendAsync(room, new UnloadRoomCommand(reason), ct, activate: false, whenNotLoaded: OttFailure.RoomNotFound());
        return failure is null;
    }

    // ----- requests from other nodes -----

    /// <summary>A <c>cmd</c> or <c>activate</c> addressed to this node (design.md §9.3 owner check).</summary>
    public async Task HandleRequestAsync(BusMessage request)
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
            var actor = Loaded(key);
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
        if (_draining)
        {
            bus.Reply(request, w => CommandCodec.NotOwner(w, null));
            return;
        }
        var activation = await ActivateLocalAsync(key, ct);
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

    /// <summary>A gateway node died: every owned room drops its users (design.md §9.6).</summary>
    public void GatewayLost(string nodeId)
    {
        if (membership.LiveNodes.Contains(nodeId, StringComparer.Ordinal))
        {
            return; // back already (it was stalled, not dead): its users stay
        }
        _owners.Where(o => o.Value.Node == nodeId).Select(o => o.Key).ToList().ForEach(k => _owners.TryRemove(k, out _));
        foreach (var actor in _actors.Values)
        {
            if (!actor.IsStopped && actor.State.Users.Any(u => u.GatewayNodeId == nodeId))
            {
                _ = actor.PostAsync(new GatewayLostCommand(nodeId), CancellationToken.None);
            }
        }
    }

    /// <summary>Forgets a cached owner (it released the room or died).</summary>
    public void ForgetOwner(string room) => _owners.TryRemove(KeyOf(room), out _);

    // ----- directory -----

    public static RoomListItem ListItem(RoomState state, int users) => state.ToListItem(users);

    public async Task PublishDirectoryAsync(RoomActor actor, CancellationToken ct)
    {
        var item = ListItem(actor.State, actor.ConnectionCount);
        var json = JsonSerializer.Serialize(item, StateJsonContext.Default.RoomListItem);
        try
        {
            await store.MarkActiveAsync(actor.Key, clock.Now + TimeSpan.FromSeconds(30), json, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.DirectoryFailed(_logger, e, actor.Key);
        }
    }

    public async Task<IReadOnlyList<RoomListItem>> ListAsync(CancellationToken ct)
    {
        var metas = await store.ListMetaAsync(clock.Now, ct);
        var items = new List<RoomListItem>(metas.Count);
        foreach (var meta in metas)
        {
            try
            {
                if (JsonSerializer.Deserialize(meta, StateJsonContext.Default.RoomListItem) is { } item)
                {
                    // Local rooms report their live count; others as their owner last wrote it.
                    items.Add(Loaded(item.Name) is { } local ? ListItem(local.State, local.ConnectionCount) : item);
                }
            }
            catch (JsonException)
            {
            }
        }
        return items;
    }

    // ----- lifecycle -----

    /// <summary>Restores the rooms that were loaded when their node stopped (design.md §10.1 step 5).</summary>
    public async Task RestoreAsync(CancellationToken ct)
    {
        await membership.WaitSettledAsync(ct);
        var started = clock.Time.GetTimestamp();
        IReadOnlyList<string> rooms;
        while (true)
        {
            try
            {
                rooms = await store.ActiveRoomsAsync(ct);
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A store blip right after start must not stop the node: retry (house style #8).
                Log.RestoreFailed(_logger, e, "*");
                await Task.Delay(TimeSpan.FromSeconds(1), clock.Time, ct);
            }
        }
        var live = membership.UsableNodes().ToList();
        var mine = rooms.Where(r => (Placement.Preferred(r, live) ?? node.Id) == node.Id).ToList();
        var restored = 0;
        await Parallel.ForEachAsync(mine, new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = Rooms.RestoreConcurrency }, async (room, token) =>
        {
            // Placement is read again per room: nodes that start together may become live while a long
            // restore runs, and the rooms HRW now gives them are theirs to restore (design.md §10.1).
            if ((Placement.Preferred(room, membership.UsableNodes()) ?? node.Id) != node.Id)
            {
                return;
            }
            try
            {
                if (await RestoreOneAsync(room, token))
                {
                    Interlocked.Increment(ref restored);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.RestoreFailed(_logger, e, room);
            }
        });
        metrics.Restored(clock.Time.GetElapsedTime(started));
        Log.Restored(_logger, restored, node.Id);
    }

    /// <summary>§10.1 step 5 for one room: acquire; wait out a dead incarnation's lease; skip a live holder. True when this node owns it.</summary>
    private async Task<bool> RestoreOneAsync(string room, CancellationToken ct)
    {
        var giveUpAt = GiveUpAt();
        while (clock.Time.GetTimestamp() < giveUpAt)
        {
            var activation = await ActivateLocalAsync(room, ct);
            if (activation.NotFound)
            {
                await store.RemoveActiveAsync(room, ct);
                return false;
            }
            if (activation.Actor is not null)
            {
                return true;
            }
            if (activation.Holder is { } holder && holder != node.Id && membership.IsUsable(holder))
            {
                return false;
            }
            await PauseAsync(TimeSpan.FromMilliseconds(100), ct);
        }
        return false;
    }

    /// <summary>Hands every owned room back to the store with its live state (design.md §10.4 step 2).</summary>
    public async Task ReleaseAllAsync(CancellationToken ct)
    {
        _draining = true;
        // An activation already in flight may start an actor after the snapshot below: go round again.
        for (var round = 0; round < 3 && !_actors.IsEmpty; round++)
        {
            await ReleaseSnapshotAsync(ct);
        }
    }

    private async Task ReleaseSnapshotAsync(CancellationToken ct)
    {
        await Parallel.ForEachAsync(_actors.Values.ToList(), new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = 32 }, async (actor, token) =>
        {
            try
            {
                await actor.UnloadAsync(UnloadReason.Shutdown, token);
                await actor.Completion.WaitAsync(token);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.ReleaseFailed(_logger, e, actor.Key);
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var actor in _actors.Values)
        {
            await actor.DisposeAsync();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Information, "Room {Room} created on node {NodeId}")]
        public static partial void Created(ILogger logger, string room, string nodeId);

        [LoggerMessage(LogLevel.Information, "Room {Room} activated at epoch {Epoch} on node {NodeId}")]
        public static partial void Activated(ILogger logger, string room, long epoch, string nodeId);

        [LoggerMessage(LogLevel.Error, "Room {Room}: stored state is unreadable; released and left for an operator")]
        public static partial void UnreadableState(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Warning, "Room {Room}: segment lookup failed")]
        public static partial void SegmentsFailed(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Warning, "Room {Room}: directory update failed")]
        public static partial void DirectoryFailed(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Error, "Room {Room}: restore failed")]
        public static partial void RestoreFailed(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Error, "Room {Room}: release at shutdown failed")]
        public static partial void ReleaseFailed(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Information, "Restored {Count} room(s) on node {NodeId}")]
        public static partial void Restored(ILogger logger, int count, string nodeId);
    }
}
