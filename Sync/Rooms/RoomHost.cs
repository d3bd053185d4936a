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

/// <summary>What one local activation found: the actor, no such room, or a lease held by <see cref="Holder"/>.</summary>
internal sealed record Activation(RoomActor? Actor, bool NotFound, string? Holder);

/// <summary>
/// The rooms this node owns (docs/architecture.md §4): it creates them, activates them on demand (single-flight per
/// room), loads their stored record, restores the ones it owned before a restart, and hands them all back
/// at shutdown. It never routes: <see cref="RoomRouter"/> decides whether a room is local.
/// </summary>
internal sealed partial class RoomHost(
    RoomStore store,
    NodeIdentity node,
    ClusterClock clock,
    Membership membership,
    IRoomFanout fanout,
    RoomDirectory directory,
    ISegmentSource segments,
    IOptions<RoomsOptions> roomsOptions,
    IOptions<LeaseOptions> leaseOptions,
    IOptions<ClusterOptions> clusterOptions,
    IOptions<SponsorBlockOptions> sponsorBlock,
    OttMetrics metrics,
    ILoggerFactory loggers) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, RoomActor> _actors = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<Activation>>> _activations = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger<RoomHost>();
    private readonly RoomContext _ctx = new(() => Guid.NewGuid().ToString(), Random.Shared, sponsorBlock.Value.Enabled)
    {
        // Never shorter than twice the longest retry horizon (give-up time plus one request in flight).
        RequestRetention = TimeSpan.FromTicks(Math.Max(roomsOptions.Value.RequestRetention.Ticks,
            2 * (leaseOptions.Value.Ttl + 2 * clusterOptions.Value.RequestTimeout).Ticks)),
        IpBansEnabled = roomsOptions.Value.IpBans,
        MaxBans = roomsOptions.Value.MaxBans,
    };
    private RoomActorServices? _actorServices;
    private volatile bool _draining;

    private RoomsOptions Rooms => roomsOptions.Value;
    private LeaseOptions Lease => leaseOptions.Value;

    public IReadOnlyCollection<RoomActor> Actors => (IReadOnlyCollection<RoomActor>)_actors.Values;

    public bool IsDraining => _draining;

    /// <summary>The owned actor if the room is loaded here; never activates.</summary>
    public RoomActor? Loaded(string key) =>
        _actors.TryGetValue(key, out var actor) && !actor.IsStopped ? actor : null;

    /// <summary>The activation of <paramref name="key"/> in flight on this node, if any.</summary>
    public Task? InFlight(string key) => _activations.TryGetValue(key, out var inFlight) ? inFlight.Value : null;

    public async Task<OttFailure?> CreateAsync(string key, CreateRoomSpec spec, RoomOwner? owner, CancellationToken ct)
    {
        if (_draining)
        {
            return OttFailure.RoomUnavailable();
        }
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
        // The creating node owns the room; HRW is not consulted (docs/architecture.md §10.2).
        var actor = StartActor(key, t, state, json, sent);
        fanout.OwnerChanged(key, t.Epoch);
        await directory.PublishAsync(actor, ct);
        Log.Created(_logger, spec.Name, node.Id);
        return null;
    }

    /// <summary>One single-flight ACQUIRE of a room on this node (docs/architecture.md §4).</summary>
    public async Task<Activation> ActivateAsync(string key, CancellationToken ct)
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
            // An unreadable record is released at once and left in Redis for an operator (docs/architecture.md §7.6).
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
        // Gateways with clients in the room re-join them to this owner (docs/architecture.md §9.6).
        fanout.OwnerChanged(key, acquired.Token.Epoch);
        await directory.PublishAsync(actor, CancellationToken.None);
        Log.Activated(_logger, key, acquired.Token.Epoch, node.Id);
        return actor;
    }

    private RoomActor StartActor(string key, LeaseToken token, RoomState state, string json, long sentAt)
    {
        // Made on first use: its callbacks are this host's own methods, which a field initializer cannot name.
        var services = _actorServices ??= new RoomActorServices(store, clock, Rooms, Lease, _ctx,
            loggers.CreateLogger<RoomActor>(), metrics, fanout, node.Id, FetchSegmentsAsync, OnStopped);
        var actor = new RoomActor(key, RoomLease.Start(key, token, sentAt, clock.Time, Lease), state, json, services);
        _actors[key] = actor;
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

    /// <summary>Hands a command to an owned room and waits for its outcome; an unload waits for the room to stop.</summary>
    public static Task<OttFailure?> SendLocalAsync(RoomActor actor, RoomCommand command, CancellationToken ct, Action? posted = null)
    {
        if (command is UnloadRoomCommand unload)
        {
            return UnloadLocalAsync(actor, unload.Reason, ct);
        }
        // The actor queues the command before it returns: whatever is posted after this comes after it.
        var reply = actor.SendAsync(command, ct);
        posted?.Invoke();
        return reply;
    }

    private static async Task<OttFailure?> UnloadLocalAsync(RoomActor actor, UnloadReason reason, CancellationToken ct)
    {
        await actor.UnloadAsync(reason, ct);
        await actor.Completion.WaitAsync(ct);
        return null;
    }

    /// <summary>A gateway node died: every owned room with users there drops them (docs/architecture.md §9.6).</summary>
    public void GatewayLost(string nodeId)
    {
        foreach (var actor in _actors.Values)
        {
            if (!actor.IsStopped && actor.State.Users.Any(u => u.GatewayNodeId == nodeId))
            {
                _ = actor.PostAsync(new GatewayLostCommand(nodeId), CancellationToken.None);
            }
        }
    }

    // ----- restore and release -----

    /// <summary>Restores the rooms that were loaded when their node stopped (docs/architecture.md §10.1 step 5).</summary>
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
            // restore runs, and the rooms HRW now gives them are theirs to restore (docs/architecture.md §10.1).
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
        var giveUp = clock.Time.GetTimestamp();
        var limit = Lease.Ttl + clusterOptions.Value.RequestTimeout;
        while (clock.Time.GetElapsedTime(giveUp) < limit)
        {
            var activation = await ActivateAsync(room, ct);
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
            await Task.Delay(TimeSpan.FromMilliseconds(100), clock.Time, ct);
        }
        return false;
    }

    /// <summary>Hands every owned room back to the store with its live state (docs/architecture.md §10.4 step 2).</summary>
    public async Task ReleaseAllAsync(CancellationToken ct)
    {
        _draining = true;
        // An activation already in flight may start an actor after the snapshot below: go round again.
        for (var round = 0; round < 3 && !_actors.IsEmpty; round++)
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

        [LoggerMessage(LogLevel.Error, "Room {Room}: restore failed")]
        public static partial void RestoreFailed(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Error, "Room {Room}: release at shutdown failed")]
        public static partial void ReleaseFailed(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Information, "Restored {Count} room(s) on node {NodeId}")]
        public static partial void Restored(ILogger logger, int count, string nodeId);
    }
}
