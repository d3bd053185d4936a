using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using Ott.Sync.Protocol;
using Riok.Mapperly.Abstractions;

namespace Ott;

/// <summary>
/// The one record of a room. Everything a room knows is here; <see cref="RoomStateMapper"/> derives every
/// view of it (stored, synced, listed, REST, cross-node), so the rule of what goes where lives in one place.
/// Positional members are storable; the init-only members below them are ephemeral (presence, votes, undo).
/// </summary>
public sealed record RoomState(
    string Name,
    string Title,
    string Description,
    bool IsTemporary,
    Visibility Visibility,
    QueueMode QueueMode,
    QueueItem? CurrentSource,
    ImmutableList<QueueItem> Queue,
    ImmutableList<QueueItem>? PrevQueue,
    bool IsPlaying,
    double PlaybackPosition,
    double PlaybackSpeed,
    DateTimeOffset? PlaybackAnchor,
    Grants Grants,
    UserRoles UserRoles,
    RoomOwner? Owner,
    ImmutableList<string> AutoSkipSegmentCategories,
    RestoreQueueBehavior RestoreQueueBehavior,
    bool EnableVoteSkip,
    ImmutableList<Segment> VideoSegments,
    long Version,
    ImmutableDictionary<string, RequestMark> AppliedRequests,
    ImmutableList<RoomBan> Bans,
    double WaitForBuffering)
{
    public ImmutableList<RoomUser> Users { get; init; } = [];

    public ImmutableDictionary<string, ImmutableHashSet<string>> Votes { get; init; } =
        ImmutableDictionary<string, ImmutableHashSet<string>>.Empty;

    public ImmutableList<string> VotesToSkip { get; init; } = [];

    public ImmutableList<RecordedEvent> RecentEvents { get; init; } = [];

    public DateTimeOffset LastActiveAt { get; init; }

    /// <summary>Set while a seek landed inside a segment: auto-skip waits until that segment ends.</summary>
    public Segment? SuppressedSegment { get; init; }

    /// <summary>
    /// Set while the room waits for its members to buffer after a seek or a new item (issue 16, the
    /// <see cref="WaitForBuffering"/> setting): the room is paused meanwhile, and plays for everyone once
    /// every member it waits on is ready, has left, or the deadline passed.
    /// </summary>
    public BufferingHold? Hold { get; init; }

    public bool HasOwner => Owner is not null;

    public VoteCounts VoteCounts => VoteCounts.From(Votes);

    public static RoomState Create(string name, bool isTemporary, DateTimeOffset now) => new(
        Name: name, Title: "", Description: "", IsTemporary: isTemporary, Visibility: Visibility.Unlisted,
        QueueMode: QueueMode.Manual, CurrentSource: null, Queue: [], PrevQueue: null, IsPlaying: false,
        PlaybackPosition: 0, PlaybackSpeed: 1, PlaybackAnchor: null, Grants: Grants.Default,
        UserRoles: UserRoles.Empty, Owner: null, AutoSkipSegmentCategories: SegmentCategories.All,
        RestoreQueueBehavior: RestoreQueueBehavior.Prompt, EnableVoteSkip: false, VideoSegments: [],
        Version: 0, AppliedRequests: ImmutableDictionary<string, RequestMark>.Empty, Bans: [], WaitForBuffering: 0)
    {
        LastActiveAt = now,
    };

    /// <summary>The live position at <paramref name="now"/> (docs/protocol.md §6.4).</summary>
    public double LivePosition(DateTimeOffset now) =>
        IsPlaying && PlaybackAnchor is { } anchor
            ? PlaybackPosition + (now - anchor).TotalSeconds * PlaybackSpeed
            : PlaybackPosition;

    /// <summary>The same state with its base position advanced to <paramref name="now"/>. Clients always get <c>At(now).ToSyncable()</c>.</summary>
    public RoomState At(DateTimeOffset now) =>
        IsPlaying && PlaybackAnchor is not null
            ? this with { PlaybackPosition = LivePosition(now), PlaybackAnchor = now }
            : this;
}

/// <summary>
/// Which requests of one origin (a socket, or one node's REST calls to this room) the room has applied:
/// every seq up to <see cref="Seq"/> except the <see cref="Gaps"/> (seqs not seen yet, or refused). Stored
/// with the room, so a request retried after a lost reply or a failover is recognised by whichever node owns
/// the room then (docs/architecture.md §9.4).
/// </summary>
public sealed record RequestMark
{
    [JsonPropertyName("seq")] public long Seq { get; init; }

    /// <summary>Cluster time (Unix ms) of the last applied request; the mark is dropped once older than the retention.</summary>
    [JsonPropertyName("at")] public long At { get; init; }

    [JsonPropertyName("gaps")] public ImmutableList<RequestGap> Gaps { get; init; } = [];
}

/// <summary>A seq below the mark that has not been applied, and since when (Unix ms).</summary>
public sealed record RequestGap([property: JsonPropertyName("seq")] long Seq, [property: JsonPropertyName("at")] long At);
/// <summary>A wait for buffering members: until <see cref="Until"/> (cluster time), on the clients in <see cref="Pending"/>.</summary>
public sealed record BufferingHold(DateTimeOffset Until, ImmutableList<string> Pending);

/// <summary>One authenticated connection in a room (docs/protocol.md §2 RoomUserInfo, before its role is derived).</summary>
public sealed record RoomUser(
    string ClientId,
    string SessionKey,
    string Name,
    bool IsLoggedIn,
    long? AccountId,
    string Status,
    string GatewayNodeId,
    string? Ip = null)
{
    // Ip is the connection's client address (docs/protocol.md §10, IP bans): it travels to the owner with the
    // join and is never stored or sent to clients; a ban keeps only a salted hash of it.
    public RoomUserInfo Info(RoomState state) => new(ClientId, Name, IsLoggedIn, Status, RoomRoles.RoleOf(state, IsLoggedIn, AccountId));
}

/// <summary>An event kept for undo (docs/protocol.md §6.7): the room's own record of what happened.</summary>
public sealed record RecordedEvent(
    string Id,
    int Type,
    QueueItem? Video,
    IReadOnlyList<QueueItem>? Videos,
    double? PrevPosition,
    int? QueueIdx,
    bool Undone);

/// <summary>
/// A room's ban as the room keeps it (docs/protocol.md §10, docs/architecture.md §3): part of the stored record,
/// never synced. It names what it matches (a session key, an account, a salted hash of an IP address) but holds
/// no token and no raw address.
/// </summary>
public sealed record RoomBan
{
    [JsonPropertyName("id")] public required string Id { get; init; }

    /// <summary>The banned user's display name when the ban was made (for lists and the audit log).</summary>
    [JsonPropertyName("name")] public string? Name { get; init; }

    [JsonPropertyName("accountId")] public long? AccountId { get; init; }

    /// <summary>The account's username, when an account is banned.</summary>
    [JsonPropertyName("user")] public string? User { get; init; }

    [JsonPropertyName("sessionKey")] public string? SessionKey { get; init; }

    // The address is kept only as SHA-256(salt + address) with a salt of its own, so the stored room
    // does not list client addresses (an IPv4 hash can still be searched by whoever reads Redis).
    [JsonPropertyName("ipSalt")] public string? IpSalt { get; init; }

    [JsonPropertyName("ipHash")] public string? IpHash { get; init; }

    [JsonPropertyName("reason")] public string? Reason { get; init; }

    /// <summary>Unix ms.</summary>
    [JsonPropertyName("createdAt")] public long CreatedAt { get; init; }

    /// <summary>Unix ms; null = until unbanned.</summary>
    [JsonPropertyName("expiresAt")] public long? ExpiresAt { get; init; }

    /// <summary>The name of who banned.</summary>
    [JsonPropertyName("by")] public string By { get; init; } = "";

    public bool IsActive(DateTimeOffset now) => ExpiresAt is not { } at || at > now.ToUnixTimeMilliseconds();

    public bool Matches(RoomUser user) =>
        (SessionKey is not null && user.SessionKey == SessionKey)
        || (AccountId is { } account && user.IsLoggedIn && user.AccountId == account)
        || (IpHash is not null && IpSalt is not null && user.Ip is { } ip && IpHash == HashIp(IpSalt, ip));

    public static string HashIp(string salt, string ip) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(salt + "|" + ip)));

    public static string NewSalt() => RandomNumberGenerator.GetHexString(16, lowercase: true);

    /// <summary>The wire shape (docs/protocol.md §10): what was banned, never how it is matched.</summary>
    public BanView ToView() => new(
        Id, new BanTarget(Name, User, SessionKey is not null, IpHash is not null), Reason, CreatedAt, ExpiresAt, By);
}

public sealed record BanTarget(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? User,
    bool Session,
    bool Ip);

public sealed record BanView(
    string Id,
    BanTarget Target,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Reason,
    long CreatedAt,
    long? ExpiresAt,
    string By);

public static class RoomRoles
{
    /// <summary>docs/protocol.md §7.4: the first match wins.</summary>
    public static Role RoleOf(RoomState state, bool isLoggedIn, long? accountId)
    {
        if (!isLoggedIn || accountId is not { } id)
        {
            return Role.Unregistered;
        }
        if (state.Owner?.Id == id)
        {
            return Role.Owner;
        }
        if (state.UserRoles.Administrator.Contains(id)) return Role.Administrator;
        if (state.UserRoles.Moderator.Contains(id)) return Role.Moderator;
        if (state.UserRoles.Trusted.Contains(id)) return Role.Trusted;
        return Role.Registered;
    }
}

/// <summary>The stored record (docs/protocol.md §6.2, docs/architecture.md §3): storable fields plus bookkeeping.</summary>
public sealed record StorableRoom
{
    [JsonPropertyName("v")] public int V { get; init; }
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("title")] public string Title { get; init; } = "";
    [JsonPropertyName("description")] public string Description { get; init; } = "";
    [JsonPropertyName("isTemporary")] public bool IsTemporary { get; init; }
    [JsonPropertyName("visibility")] public Visibility Visibility { get; init; } = Visibility.Unlisted;
    [JsonPropertyName("queueMode")] public QueueMode QueueMode { get; init; }
    [JsonPropertyName("currentSource")] public QueueItem? CurrentSource { get; init; }
    [JsonPropertyName("queue")] public ImmutableList<QueueItem> Queue { get; init; } = [];
    [JsonPropertyName("isPlaying")] public bool IsPlaying { get; init; }
    [JsonPropertyName("playbackPosition")] public double PlaybackPosition { get; init; }
    [JsonPropertyName("playbackSpeed")] public double PlaybackSpeed { get; init; } = 1;
    [JsonPropertyName("grants")] public Grants Grants { get; init; } = Grants.Default;
    [JsonPropertyName("userRoles")] public UserRoles UserRoles { get; init; } = UserRoles.Empty;
    [JsonPropertyName("owner")] public RoomOwner? Owner { get; init; }
    [JsonPropertyName("playbackStart")] public DateTimeOffset? PlaybackStart { get; init; }
    [JsonPropertyName("videoSegments")] public ImmutableList<Segment> VideoSegments { get; init; } = [];
    [JsonPropertyName("autoSkipSegmentCategories")] public ImmutableList<string> AutoSkipSegmentCategories { get; init; } = SegmentCategories.All;
    [JsonPropertyName("prevQueue")] public ImmutableList<QueueItem>? PrevQueue { get; init; }
    [JsonPropertyName("restoreQueueBehavior")] public RestoreQueueBehavior RestoreQueueBehavior { get; init; } = RestoreQueueBehavior.Prompt;
    [JsonPropertyName("enableVoteSkip")] public bool EnableVoteSkip { get; init; }
    [JsonPropertyName("version")] public long Version { get; init; }
    [JsonPropertyName("appliedRequests")] public ImmutableDictionary<string, RequestMark> AppliedRequests { get; init; } = ImmutableDictionary<string, RequestMark>.Empty;
    [JsonPropertyName("bans")] public ImmutableList<RoomBan> Bans { get; init; } = [];
    // Ott extension (docs/protocol.md §10): seconds to wait for buffering members, 0 = off; absent in older records.
    [JsonPropertyName("waitForBuffering")] public double WaitForBuffering { get; init; }
}

/// <summary>What clients may see: exactly the 20 syncable keys, in OTT's order (docs/protocol.md §6.2).</summary>
public sealed record SyncableRoom
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("title")] public required string Title { get; init; }
    [JsonPropertyName("description")] public required string Description { get; init; }
    [JsonPropertyName("isTemporary")] public bool IsTemporary { get; init; }
    [JsonPropertyName("visibility")] public Visibility Visibility { get; init; }
    [JsonPropertyName("queueMode")] public QueueMode QueueMode { get; init; }
    [JsonPropertyName("currentSource")] public QueueItem? CurrentSource { get; init; }
    [JsonPropertyName("queue")] public required ImmutableList<QueueItem> Queue { get; init; }
    [JsonPropertyName("isPlaying")] public bool IsPlaying { get; init; }
    [JsonPropertyName("playbackPosition")] public double PlaybackPosition { get; init; }
    [JsonPropertyName("playbackSpeed")] public double PlaybackSpeed { get; init; }
    [JsonPropertyName("grants")] public required Grants Grants { get; init; }
    [JsonPropertyName("hasOwner")] public bool HasOwner { get; init; }
    [JsonPropertyName("voteCounts")] public required VoteCounts VoteCounts { get; init; }
    [JsonPropertyName("videoSegments")] public required ImmutableList<Segment> VideoSegments { get; init; }
    [JsonPropertyName("autoSkipSegmentCategories")] public required ImmutableList<string> AutoSkipSegmentCategories { get; init; }
    [JsonPropertyName("prevQueue")] public ImmutableList<QueueItem>? PrevQueue { get; init; }
    [JsonPropertyName("restoreQueueBehavior")] public RestoreQueueBehavior RestoreQueueBehavior { get; init; }
    [JsonPropertyName("enableVoteSkip")] public bool EnableVoteSkip { get; init; }
    [JsonPropertyName("votesToSkip")] public required ImmutableList<string> VotesToSkip { get; init; }
}

/// <summary>A <c>GET /api/room/list</c> item (docs/protocol.md §4.3), also the directory's meta record.</summary>
public sealed record RoomListItem(
    string Name, string Title, string Description, bool IsTemporary, Visibility Visibility, QueueMode QueueMode,
    QueueItem? CurrentSource, int Users);

/// <summary>The 13 keys of <c>GET /api/room/:name</c>, never more (docs/protocol.md §4.3).</summary>
public sealed record RoomResponse(
    string Name, string Title, string Description, bool IsTemporary, Visibility Visibility, QueueMode QueueMode,
    IReadOnlyList<RoomUserInfo> Users, Grants Grants, ImmutableList<string> AutoSkipSegmentCategories,
    RestoreQueueBehavior RestoreQueueBehavior, bool EnableVoteSkip, ImmutableList<QueueItem> Queue, bool HasOwner);

/// <summary>What an owner sends a gateway that reads the room over REST (docs/architecture.md §9.2): the stored record and who is in it.</summary>
public sealed record RoomSnapshot(StorableRoom State, ImmutableList<RoomUser> Users);

/// <summary>What a client's position is computed from (docs/protocol.md §6.3): when any of it changes, a delta sync resends the live position.</summary>
public sealed record PlaybackBasis(
    bool IsPlaying, QueueItem? CurrentSource, double PlaybackSpeed, double PlaybackPosition, DateTimeOffset? PlaybackAnchor);

/// <summary>
/// Every view of a room, derived from <see cref="RoomState"/>. Strict: a RoomState member that is neither
/// mapped nor ignored here breaks the build (RMG020/RMG012 are errors), so a new field must be placed
/// deliberately in each view.
/// </summary>
[Mapper]
public static partial class RoomStateMapper
{
    public const int SchemaVersion = 1;

    [MapValue(nameof(StorableRoom.V), SchemaVersion)]
    [MapProperty(nameof(RoomState.PlaybackAnchor), nameof(StorableRoom.PlaybackStart))]
    [MapperIgnoreSource(nameof(RoomState.HasOwner))]
    [MapperIgnoreSource(nameof(RoomState.VoteCounts))]
    [MapperIgnoreSource(nameof(RoomState.VotesToSkip))]
    [MapperIgnoreSource(nameof(RoomState.Users))]
    [MapperIgnoreSource(nameof(RoomState.Votes))]
    [MapperIgnoreSource(nameof(RoomState.RecentEvents))]
    [MapperIgnoreSource(nameof(RoomState.LastActiveAt))]
    [MapperIgnoreSource(nameof(RoomState.SuppressedSegment))]
    [MapperIgnoreSource(nameof(RoomState.Hold))]
    public static partial StorableRoom ToStorable(this RoomState state);

    [MapperIgnoreSource(nameof(RoomState.PlaybackAnchor))]
    [MapperIgnoreSource(nameof(RoomState.UserRoles))]
    [MapperIgnoreSource(nameof(RoomState.Owner))]
    [MapperIgnoreSource(nameof(RoomState.Version))]
    [MapperIgnoreSource(nameof(RoomState.AppliedRequests))]
    [MapperIgnoreSource(nameof(RoomState.Bans))]
    [MapperIgnoreSource(nameof(RoomState.Users))]
    [MapperIgnoreSource(nameof(RoomState.Votes))]
    [MapperIgnoreSource(nameof(RoomState.RecentEvents))]
    [MapperIgnoreSource(nameof(RoomState.LastActiveAt))]
    [MapperIgnoreSource(nameof(RoomState.SuppressedSegment))]
    [MapperIgnoreSource(nameof(RoomState.Hold))]
    // Not one of OTT's 20 sync keys: Ott's page reads it from the anchor frame (docs/protocol.md §10).
    [MapperIgnoreSource(nameof(RoomState.WaitForBuffering))]
    public static partial SyncableRoom ToSyncable(this RoomState state);

    [MapProperty(nameof(StorableRoom.PlaybackStart), nameof(RoomState.PlaybackAnchor))]
    [MapperIgnoreSource(nameof(StorableRoom.V))]
    [MapperIgnoreTarget(nameof(RoomState.Users))]
    [MapperIgnoreTarget(nameof(RoomState.Votes))]
    [MapperIgnoreTarget(nameof(RoomState.VotesToSkip))]
    [MapperIgnoreTarget(nameof(RoomState.RecentEvents))]
    [MapperIgnoreTarget(nameof(RoomState.LastActiveAt))]
    [MapperIgnoreTarget(nameof(RoomState.SuppressedSegment))]
    [MapperIgnoreTarget(nameof(RoomState.Hold))]
    public static partial RoomState FromStorable(this StorableRoom stored);

    // The list item's user count is the caller's: live connections on the owner, 0 for an unloaded room.
    [MapperIgnoreSource(nameof(RoomState.Queue))]
    [MapperIgnoreSource(nameof(RoomState.PrevQueue))]
    [MapperIgnoreSource(nameof(RoomState.IsPlaying))]
    [MapperIgnoreSource(nameof(RoomState.PlaybackPosition))]
    [MapperIgnoreSource(nameof(RoomState.PlaybackSpeed))]
    [MapperIgnoreSource(nameof(RoomState.PlaybackAnchor))]
    [MapperIgnoreSource(nameof(RoomState.Grants))]
    [MapperIgnoreSource(nameof(RoomState.UserRoles))]
    [MapperIgnoreSource(nameof(RoomState.Owner))]
    [MapperIgnoreSource(nameof(RoomState.AutoSkipSegmentCategories))]
    [MapperIgnoreSource(nameof(RoomState.RestoreQueueBehavior))]
    [MapperIgnoreSource(nameof(RoomState.EnableVoteSkip))]
    [MapperIgnoreSource(nameof(RoomState.VideoSegments))]
    [MapperIgnoreSource(nameof(RoomState.Version))]
    [MapperIgnoreSource(nameof(RoomState.AppliedRequests))]
    [MapperIgnoreSource(nameof(RoomState.Bans))]
    [MapperIgnoreSource(nameof(RoomState.Users))]
    [MapperIgnoreSource(nameof(RoomState.Votes))]
    [MapperIgnoreSource(nameof(RoomState.VotesToSkip))]
    [MapperIgnoreSource(nameof(RoomState.RecentEvents))]
    [MapperIgnoreSource(nameof(RoomState.LastActiveAt))]
    [MapperIgnoreSource(nameof(RoomState.SuppressedSegment))]
    [MapperIgnoreSource(nameof(RoomState.Hold))]
    [MapperIgnoreSource(nameof(RoomState.HasOwner))]
    [MapperIgnoreSource(nameof(RoomState.VoteCounts))]
    [MapperIgnoreSource(nameof(RoomState.WaitForBuffering))]
    public static partial RoomListItem ToListItem(this RoomState state, int users);

    // Each user with the role the room gives them. (A parameter rather than MapPropertyFromSource, which
    // would count every source member as used and so check none.)
    public static RoomResponse ToRoomResponse(this RoomState state) => ToRoomResponse(state, [.. state.Users.Select(u => u.Info(state))]);

    [MapperIgnoreSource(nameof(RoomState.Users))]
    [MapperIgnoreSource(nameof(RoomState.CurrentSource))]
    [MapperIgnoreSource(nameof(RoomState.PrevQueue))]
    [MapperIgnoreSource(nameof(RoomState.IsPlaying))]
    [MapperIgnoreSource(nameof(RoomState.PlaybackPosition))]
    [MapperIgnoreSource(nameof(RoomState.PlaybackSpeed))]
    [MapperIgnoreSource(nameof(RoomState.PlaybackAnchor))]
    [MapperIgnoreSource(nameof(RoomState.UserRoles))]
    [MapperIgnoreSource(nameof(RoomState.Owner))]
    [MapperIgnoreSource(nameof(RoomState.VideoSegments))]
    [MapperIgnoreSource(nameof(RoomState.Version))]
    [MapperIgnoreSource(nameof(RoomState.AppliedRequests))]
    [MapperIgnoreSource(nameof(RoomState.Bans))]
    [MapperIgnoreSource(nameof(RoomState.Votes))]
    [MapperIgnoreSource(nameof(RoomState.VotesToSkip))]
    [MapperIgnoreSource(nameof(RoomState.RecentEvents))]
    [MapperIgnoreSource(nameof(RoomState.LastActiveAt))]
    [MapperIgnoreSource(nameof(RoomState.SuppressedSegment))]
    [MapperIgnoreSource(nameof(RoomState.Hold))]
    [MapperIgnoreSource(nameof(RoomState.VoteCounts))]
    // GET /api/room/:name keeps exactly its 13 keys (docs/protocol.md §10).
    [MapperIgnoreSource(nameof(RoomState.WaitForBuffering))]
    private static partial RoomResponse ToRoomResponse(RoomState state, IReadOnlyList<RoomUserInfo> users);

    // The state member takes the whole source through ToStorable, so only the snapshot's own members are
    // checked here; every RoomState member is placed by FromSnapshot below, which must rebuild the state.
    [MapperRequiredMapping(RequiredMappingStrategy.Target)]
    [MapPropertyFromSource(nameof(RoomSnapshot.State), Use = nameof(ToStorable))]
    public static partial RoomSnapshot ToSnapshot(this RoomState state);

    [MapNestedProperties(nameof(RoomSnapshot.State))]
    [MapProperty(new[] { nameof(RoomSnapshot.State), nameof(StorableRoom.PlaybackStart) }, nameof(RoomState.PlaybackAnchor))]
    [MapperIgnoreTarget(nameof(RoomState.Votes))]
    [MapperIgnoreTarget(nameof(RoomState.VotesToSkip))]
    [MapperIgnoreTarget(nameof(RoomState.RecentEvents))]
    [MapperIgnoreTarget(nameof(RoomState.LastActiveAt))]
    [MapperIgnoreTarget(nameof(RoomState.SuppressedSegment))]
    [MapperIgnoreTarget(nameof(RoomState.Hold))]
    public static partial RoomState FromSnapshot(this RoomSnapshot snapshot);

    // The position-jump rule (docs/protocol.md §6.3): SyncFrameWriter (Sync/Rooms/SyncFrames.cs) resends the live position when this changes.
    [MapperIgnoreSource(nameof(RoomState.Name))]
    [MapperIgnoreSource(nameof(RoomState.Title))]
    [MapperIgnoreSource(nameof(RoomState.Description))]
    [MapperIgnoreSource(nameof(RoomState.IsTemporary))]
    [MapperIgnoreSource(nameof(RoomState.Visibility))]
    [MapperIgnoreSource(nameof(RoomState.QueueMode))]
    [MapperIgnoreSource(nameof(RoomState.Queue))]
    [MapperIgnoreSource(nameof(RoomState.PrevQueue))]
    [MapperIgnoreSource(nameof(RoomState.Grants))]
    [MapperIgnoreSource(nameof(RoomState.UserRoles))]
    [MapperIgnoreSource(nameof(RoomState.Owner))]
    [MapperIgnoreSource(nameof(RoomState.AutoSkipSegmentCategories))]
    [MapperIgnoreSource(nameof(RoomState.RestoreQueueBehavior))]
    [MapperIgnoreSource(nameof(RoomState.EnableVoteSkip))]
    [MapperIgnoreSource(nameof(RoomState.VideoSegments))]
    [MapperIgnoreSource(nameof(RoomState.Version))]
    [MapperIgnoreSource(nameof(RoomState.AppliedRequests))]
    [MapperIgnoreSource(nameof(RoomState.Bans))]
    [MapperIgnoreSource(nameof(RoomState.Users))]
    [MapperIgnoreSource(nameof(RoomState.Votes))]
    [MapperIgnoreSource(nameof(RoomState.VotesToSkip))]
    [MapperIgnoreSource(nameof(RoomState.RecentEvents))]
    [MapperIgnoreSource(nameof(RoomState.LastActiveAt))]
    [MapperIgnoreSource(nameof(RoomState.SuppressedSegment))]
    [MapperIgnoreSource(nameof(RoomState.Hold))]
    [MapperIgnoreSource(nameof(RoomState.HasOwner))]
    [MapperIgnoreSource(nameof(RoomState.VoteCounts))]
    [MapperIgnoreSource(nameof(RoomState.WaitForBuffering))]
    public static partial PlaybackBasis ToPlaybackBasis(this RoomState state);
}

// State's own source-generated context: the room's records as they are stored, synced and listed.
// The same options as every other context (see ProtocolJsonContext).
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(StorableRoom))]
[JsonSerializable(typeof(SyncableRoom))]
[JsonSerializable(typeof(RoomListItem))]
[JsonSerializable(typeof(List<RoomListItem>))]
[JsonSerializable(typeof(RoomUser))]
[JsonSerializable(typeof(List<RoomUser>))]
[JsonSerializable(typeof(RoomResponse))]
[JsonSerializable(typeof(RoomSnapshot))]
internal sealed partial class StateJsonContext : JsonSerializerContext;
