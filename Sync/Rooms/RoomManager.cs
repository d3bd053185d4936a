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

/// <summary>A <c>GET /api/room/list</c> item (protocol.md §4.3), also the directory's meta record.</summary>
public sealed record RoomListItem(
    string Name, string Title, string Description, bool IsTemporary, Visibility Visibility, QueueMode QueueMode,
    QueueItem? CurrentSource, int Users);

/// <summary>
/// The single entry point for endpoints and sockets (design.md §4): creates rooms, activates them on
/// demand (single-flight per room), routes commands to their actor, and resolves media first (§5.4).
/// </summary>
internal sealed partial class RoomManager(
    RoomStore store,
    NodeIdentity node,
    ClusterClock clock,
    Membership membership,
    MediaService media,
    ISegmentSource segments,
    IOptions<RoomsOptions> roomsOptions,
    IOptions<LeaseOptions> leaseOptions,
    IOptions<SponsorBlockOptions> sponsorBlock,
    OttMetrics metrics,
    ILoggerFactory loggers) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, RoomActor> _actors = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<RoomActor?>>> _activations = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger<RoomManager>();
    private readonly RoomContext _ctx = new(() => Guid.NewGuid().ToString(), Random.Shared, sponsorBlock.Value.Enabled);
    private volatile bool _draining;

    private RoomsOptions Rooms => roomsOptions.Value;
    private LeaseOptions Lease => leaseOptions.Value;

    public IReadOnlyCollection<RoomActor> Actors => (IReadOnlyCollection<RoomActor>)_actors.Values;

    public bool IsDraining => _draining;

    public static string KeyOf(string room) => room.ToLowerInvariant();

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
        var actor = StartActor(key, t, state, json, sent);
        await PublishDirectoryAsync(actor, ct);
        Log.Created(_logger, spec.Name, node.Id);
        return null;
    }

    /// <summary>The owned actor of a room, activating it if needed; null when the room does not exist.</summary>
    public async Task<RoomActor?> GetOrActivateAsync(string room, CancellationToken ct)
    {
        var key = KeyOf(room);
        while (true)
        {
            if (_actors.TryGetValue(key, out var existing) && !existing.IsStopped)
            {
                return existing;
            }
            if (_draining)
            {
                throw new OttException(OttFailure.RoomUnavailable());
            }
            // Lazy makes the activation truly single-flight: GetOrAdd may run its factory twice.
            var activation = _activations.GetOrAdd(key, k => new Lazy<Task<RoomActor?>>(() => ActivateOnceAsync(k)));
            RoomActor? actor;
            try
            {
                actor = await activation.Value.WaitAsync(ct);
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
            {
                // The store failed under the activation: the room is unavailable, not missing.
                throw new OttException(OttFailure.RoomUnavailable());
            }
            if (actor is null || !actor.IsStopped)
            {
                return actor;
            }
        }
    }

    /// <summary>The owned actor if the room is loaded here; never activates.</summary>
    public RoomActor? Loaded(string room) =>
        _actors.TryGetValue(KeyOf(room), out var actor) && !actor.IsStopped ? actor : null;

    /// <summary>One activation; it removes its own entry when done, whoever is still waiting for it.</summary>
    private async Task<RoomActor?> ActivateOnceAsync(string key)
    {
        try
        {
            return await ActivateAsync(key);
        }
        finally
        {
            _activations.TryRemove(key, out _);
        }
    }

    private async Task<RoomActor?> ActivateAsync(string key)
    {
        // Activation is shared by every waiter, so it must not observe one caller's cancellation.
        var giveUp = clock.Time.GetTimestamp();
        var budget = Lease.Ttl + TimeSpan.FromSeconds(2);
        while (true)
        {
            var sent = clock.Time.GetTimestamp();
            var result = await store.AcquireAsync(key, node.Id, Lease.Ttl, Rooms.TemporaryStateTtl, CancellationToken.None);
            switch (result)
            {
                case AcquireResult.NotFound:
                    return null;
                case AcquireResult.Acquired acquired:
                    return await LoadAsync(key, acquired, sent);
                case AcquireResult.Held when _actors.TryGetValue(key, out var local) && !local.IsStopped:
                    return local;
                case AcquireResult.Held held:
                    // A previous incarnation's lease (a crash less than a TTL ago) lapses by itself.
                    if (clock.Time.GetElapsedTime(giveUp) > budget)
                    {
                        throw new OttException(OttFailure.RoomUnavailable());
                    }
                    var wait = held.Pttl > TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : held.Pttl;
                    await Task.Delay(wait <= TimeSpan.Zero ? TimeSpan.FromMilliseconds(10) : wait, clock.Time);
                    break;
            }
        }
    }

    private async Task<RoomActor?> LoadAsync(string key, AcquireResult.Acquired acquired, long sent)
    {
        RoomState state;
        try
        {
            var stored = JsonSerializer.Deserialize(acquired.StateJson, OttJsonContext.Default.StorableRoom)
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
        await PublishDirectoryAsync(actor, CancellationToken.None);
        Log.Activated(_logger, key, acquired.Token.Epoch, node.Id);
        return actor;
    }

    private RoomActor StartActor(string key, LeaseToken token, RoomState state, string json, long sentAt)
    {
        var deadline = sentAt + (long)((Lease.Ttl - Lease.EffectiveMargin).TotalSeconds * clock.Time.TimestampFrequency);
        var actor = new RoomActor(key, token, state, json, deadline, store, clock, Rooms, Lease, _ctx,
            loggers.CreateLogger<RoomActor>(), OnStopped, FetchSegmentsAsync, metrics);
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

    // ----- commands -----

    /// <summary>
    /// Sends a command to its room and waits until it is applied, persisted and released. Add and
    /// PlayNow resolve their media first, outside the room. With <paramref name="activate"/> false a
    /// room that is not loaded answers <paramref name="whenNotLoaded"/>.
    /// </summary>
    public async Task<OttFailure?> SendAsync(string room, RoomCommand command, CancellationToken ct,
        IRoomClient? client = null, bool activate = true, OttFailure? whenNotLoaded = null)
    {
        try
        {
            var actor = activate ? await GetOrActivateAsync(room, ct) : Loaded(room);
            if (actor is null)
            {
                return whenNotLoaded ?? OttFailure.RoomNotFound();
            }
            if (command is RequestCommand { Request: AddRequest or PlayNowRequest } request)
            {
                var state = actor.State;
                var lookup = await media.LookupAsync(request.Request,
                    id => request.Request is PlayNowRequest && state.Queue.Any(i => i.Is(id)), ct);
                command = request with { Media = lookup };
            }
            return await actor.SendAsync(command, client, ct);
        }
        catch (OttException e)
        {
            return e.Failure;
        }
    }

    /// <summary>Sends a disconnect's Leave, waiting for mailbox space; never throws, never activates.</summary>
    public async Task LeaveAsync(string room, string clientId, CancellationToken ct)
    {
        if (Loaded(room) is { } actor)
        {
            await actor.PostAsync(new LeaveCommand(clientId), ct);
        }
    }

    public async Task<bool> UnloadAsync(string room, UnloadReason reason, CancellationToken ct)
    {
        if (Loaded(room) is not { } actor)
        {
            return false;
        }
        await actor.UnloadAsync(reason, ct);
        await actor.Completion.WaitAsync(ct);
        return true;
    }

    // ----- directory -----

    public static RoomListItem ListItem(RoomState state, int users) => new(
        state.Name, state.Title, state.Description, state.IsTemporary, state.Visibility, state.QueueMode, state.CurrentSource, users);

    public async Task PublishDirectoryAsync(RoomActor actor, CancellationToken ct)
    {
        var item = ListItem(actor.State, actor.ConnectionCount);
        var json = JsonSerializer.Serialize(item, OttJsonContext.Default.RoomListItem);
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
                if (JsonSerializer.Deserialize(meta, OttJsonContext.Default.RoomListItem) is { } item)
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
        await Parallel.ForEachAsync(rooms, new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = Rooms.RestoreConcurrency }, async (room, token) =>
        {
            try
            {
                if (await GetOrActivateAsync(room, token) is null)
                {
                    await store.RemoveActiveAsync(room, token);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.RestoreFailed(_logger, e, room);
            }
        });
        metrics.Restored(clock.Time.GetElapsedTime(started));
        Log.Restored(_logger, rooms.Count, node.Id);
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
