using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Ott.Sync.Cluster;
using Ott.Sync.Media;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

/// <summary>
/// The one entry point endpoints and sockets use for rooms (docs/architecture.md §4). It is a thin front: rooms owned
/// here live in <see cref="RoomHost"/>, every command finds its owner through <see cref="RoomRouter"/>, and
/// the room list comes from <see cref="RoomDirectory"/>.
/// </summary>
internal sealed class RoomManager(
    RoomHost host, RoomRouter router, OwnerCache owners, RoomDirectory directory, MediaService media, NodeIdentity node, Membership membership)
{
    // REST calls of this node to one room form one origin (a socket is its own); seqs are per room so the
    // room's ledger sees no gaps for calls that went to other rooms (docs/architecture.md §9.4).
    private readonly ConcurrentDictionary<string, StrongBox<long>> _restSeqs = new(StringComparer.Ordinal);

    public static string KeyOf(string room) => room.ToLowerInvariant();

    public string NodeId => node.Id;

    public bool IsDraining => host.IsDraining;

    public IReadOnlyCollection<RoomActor> Actors => host.Actors;

    /// <summary>The owner this node last routed a room to (debug view).</summary>
    public IReadOnlyDictionary<string, (string Node, long Epoch)> KnownOwners => owners.Known;

    /// <summary>The owned actor if the room is loaded here; never activates.</summary>
    public RoomActor? Loaded(string room) => host.Loaded(KeyOf(room));

    public Task<OttFailure?> CreateAsync(CreateRoomSpec spec, RoomOwner? owner, CancellationToken ct) =>
        host.CreateAsync(KeyOf(spec.Name), spec, owner, ct);

    /// <summary>
    /// Sends a command to its room, wherever it is owned, and waits until it is applied, persisted and
    /// released. Add and PlayNow resolve their media here, where the request enters, before any routing, so
    /// a slow lookup never runs on the owner under a forwarding timeout (docs/architecture.md §5.4). With
    /// <paramref name="activate"/> false a room that nobody owns answers <paramref name="whenNotLoaded"/>.
    /// <paramref name="posted"/> runs once the command is queued for its owner: a caller that waits for that
    /// rather than for the outcome keeps its commands in order without waiting for each reply.
    /// </summary>
    public Task<OttFailure?> SendAsync(string room, RoomCommand command, CancellationToken ct,
        bool activate = true, OttFailure? whenNotLoaded = null, Action? posted = null)
    {
        var key = KeyOf(room);
        if (command is { Id: null } and (RequestCommand { Request: not ChatRequest } or ClaimCommand or SeedPrevQueueCommand or DisconnectSessionCommand))
        {
            var seq = Interlocked.Increment(ref _restSeqs.GetOrAdd(key, _ => new StrongBox<long>()).Value);
            command = command with { Id = new RequestId(node.Id + "/rest", seq) };
        }
        return command is RequestCommand { Request: AddRequest or PlayNowRequest, Media: null } request
            ? LookUpThenSendAsync(key, request, activate, whenNotLoaded, posted, ct)
            : router.SendAsync(key, command, activate, whenNotLoaded, ct, posted);
    }

    private async Task<OttFailure?> LookUpThenSendAsync(string key, RequestCommand request, bool activate, OttFailure? whenNotLoaded,
        Action? posted, CancellationToken ct)
    {
        // PlayNow of an item already queued needs no lookup; only a local owner's queue is known here.
        var queue = host.Loaded(key)?.State.Queue;
        var lookup = await media.LookupAsync(request.Request,
            id => request.Request is PlayNowRequest && queue is not null && queue.Any(i => i.Is(id)), ct);
        return await router.SendAsync(key, request with { Media = lookup }, activate, whenNotLoaded, ct, posted);
    }

    /// <summary>The room's state from its owner (REST reads); null when it does not exist, or is not loaded and <paramref name="activate"/> is false.</summary>
    public Task<RoomState?> GetStateAsync(string room, bool activate, CancellationToken ct) =>
        router.GetStateAsync(KeyOf(room), activate, ct);

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

    /// <summary>Forgets a cached owner (it released the room or died).</summary>
    public void ForgetOwner(string room) => owners.Forget(KeyOf(room));

    /// <summary>A gateway node died: owned rooms drop its users, and rooms it owned are routed afresh (docs/architecture.md §9.6).</summary>
    public void GatewayLost(string nodeId)
    {
        if (membership.LiveNodes.Contains(nodeId, StringComparer.Ordinal))
        {
            return; // back already (it was stalled, not dead): its users stay
        }
        owners.ForgetNode(nodeId);
        host.GatewayLost(nodeId);
    }

    /// <summary>Every listed room; rooms owned here report their live user count.</summary>
    public async Task<IReadOnlyList<RoomListItem>> ListAsync(CancellationToken ct)
    {
        var items = await directory.ReadAsync(ct);
        for (var i = 0; i < items.Count; i++)
        {
            if (Loaded(items[i].Name) is { } local)
            {
                items[i] = RoomDirectory.ListItem(local.State, local.ConnectionCount);
            }
        }
        return items;
    }

    public Task ReleaseAllAsync(CancellationToken ct) => host.ReleaseAllAsync(ct);
}
