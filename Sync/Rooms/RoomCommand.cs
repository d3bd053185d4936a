using System.Collections.Immutable;
using Ott.Sync.Media;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

/// <summary>Whoever a request runs for (docs/protocol.md §0): a room user, or a REST caller's session.</summary>
public sealed record Actor(string? ClientId, string? SessionKey, string Name, bool IsLoggedIn, long? AccountId, bool IsAdmin = false);

/// <summary>Everything a room actor can be asked to do. Transitions are pure functions of (state, command, now).</summary>
public abstract record RoomCommand
{
    /// <summary>Where and when the request entered Ott; a retry carries the same id and is applied at most once (docs/architecture.md §9.4).</summary>
    public RequestId? Id { get; init; }
}

public sealed record RequestCommand(Actor Actor, RoomRequest Request, MediaLookup? Media = null) : RoomCommand;
public sealed record JoinCommand(RoomUser User) : RoomCommand;
public sealed record LeaveCommand(string ClientId) : RoomCommand;

/// <summary>
/// A gateway's full list of its clients in the room (docs/architecture.md §9.6): after an owner change, a resync or a
/// reconnect. Missing ones are added without events, each gets a fresh full sync, and users the gateway no
/// longer has are removed.
/// </summary>
public sealed record RejoinCommand(string GatewayNodeId, ImmutableList<RoomUser> Users) : RoomCommand;

/// <summary>A gateway node died: its users leave (docs/architecture.md §9.6, no ghost users).</summary>
public sealed record GatewayLostCommand(string GatewayNodeId) : RoomCommand;
public sealed record UpdateUserCommand(string ClientId, string Name, bool IsLoggedIn, long? AccountId) : RoomCommand;
public sealed record StatusCommand(string ClientId, string Status) : RoomCommand;
public sealed record ClaimCommand(Actor Actor) : RoomCommand;
public sealed record TickCommand : RoomCommand;
public sealed record SegmentsLoadedCommand(QueueItem Item, ImmutableList<Segment> Segments) : RoomCommand;

/// <summary>The test-only API's seed (docs/protocol.md §4.5): <c>prevQueue</c> becomes these items, synced like any change.</summary>
public sealed record SeedPrevQueueCommand(ImmutableList<QueueItem> Items) : RoomCommand;

/// <summary>
/// The test-only API's force-disconnect (docs/protocol.md §4.5): the session's first connection in the room is
/// closed with <paramref name="Code"/>, on whatever node it is; none → <c>ClientNotFoundInRoomException</c>.
/// </summary>
public sealed record DisconnectSessionCommand(string SessionKey, int Code, string Reason) : RoomCommand;

/// <summary>
/// An effect of a transition, released in order after the state is persisted. It is the one output type from
/// transitions to sockets: the actor writes each frame once (<see cref="WrittenFrame"/>), the batch crosses to
/// other nodes as JSON and comes back as the same records, and each node's gateway room applies them.
/// </summary>
public abstract record RoomOutput;

public sealed record Broadcast(ServerFrame Frame) : RoomOutput;
public sealed record SendTo(string ClientId, ServerFrame Frame) : RoomOutput;

/// <summary>One frame to several clients (a rejoin's full sync and user list): written and carried once.</summary>
public sealed record SendToMany(ImmutableArray<string> ClientIds, ServerFrame Frame) : RoomOutput;

/// <summary>Adds a joined connection to the broadcast list (after its full sync, docs/protocol.md §1.2).</summary>
public sealed record Attach(string ClientId) : RoomOutput;
public sealed record Detach(string ClientId) : RoomOutput;
public sealed record CloseClient(string ClientId, int Code, string Reason) : RoomOutput;

/// <summary>
/// Ott extension (docs/protocol.md §10, docs/architecture.md §20): where playback stands at cluster time
/// <see cref="At"/> (Unix ms), for the clients that opted into clock sync only; OTT clients never get it. It also
/// carries the room's wait-for-buffering setting and whom the room is waiting on (none when not waiting).
/// </summary>
public sealed record AnchorOutput(double Position, long At, bool IsPlaying, double Speed, double WaitForBuffering, ImmutableList<string> Waiting)
    : RoomOutput
{
    public byte[] Write()
    {
        var scratch = FrameScratch.Rent();
        var w = scratch.Writer;
        w.WriteStartObject();
        w.WriteString("action", "ott-anchor");
        w.WriteNumber("position", Position);
        w.WriteNumber("at", At);
        w.WriteBoolean("isPlaying", IsPlaying);
        w.WriteNumber("speed", Speed);
        w.WriteNumber("waitForBuffering", WaitForBuffering);
        w.WriteStartArray("waiting");
        foreach (var id in Waiting)
        {
            w.WriteStringValue(id);
        }
        w.WriteEndArray();
        w.WriteEndObject();
        return scratch.ToArrayAndReturn();
    }
}

public sealed record FetchSegments(QueueItem Item, ImmutableList<string> Categories) : RoomOutput;

public sealed record RoomOutcome(RoomState State, ImmutableList<RoomOutput> Outputs, OttFailure? Error)
{
    public bool Failed => Error is not null;
}

/// <summary>What a transition may not decide by itself: ids, randomness and configuration.</summary>
public sealed record RoomContext(Func<string> NewEventId, Random Random, bool SponsorBlockEnabled)
{
    public static RoomContext Default { get; } = new(() => Guid.NewGuid().ToString(), Random.Shared, true);

    /// <summary>How long a room remembers an origin's applied requests after its last one (<c>Rooms:RequestRetention</c>).</summary>
    public TimeSpan RequestRetention { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Whether a ban may also match the banned user's client IP (<c>Rooms:IpBans</c>, docs/protocol.md §10).</summary>
    public bool IpBansEnabled { get; init; }

    /// <summary>The most bans one room keeps (<c>Rooms:MaxBans</c>); expired ones are dropped first.</summary>
    public int MaxBans { get; init; } = 1000;
}
