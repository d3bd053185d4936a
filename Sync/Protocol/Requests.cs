using System.Collections.Immutable;
using System.Text.Json.Nodes;

namespace Ott.Sync.Protocol;

/// <summary>OTT's 20 room request types (docs/protocol.md §1.4) and Ott's Ban and Unban (§10).</summary>
public enum RequestType
{
    Join = 0,
    Leave = 1,
    Playback = 2,
    Skip = 3,
    Seek = 4,
    Add = 5,
    Remove = 6,
    Order = 7,
    Vote = 8,
    Promote = 9,
    UpdateUser = 10,
    Chat = 11,
    Undo = 12,
    ApplySettings = 13,
    PlayNow = 14,
    Shuffle = 15,
    PlaybackSpeed = 16,
    RestoreQueue = 17,
    Kick = 18,
    UpdateQueueItem = 19,
    Ban = 20,
    Unban = 21,
}

/// <summary>A VideoAdd: a VideoId plus optional start, end and subtitle (docs/protocol.md §1.4).</summary>
public sealed record VideoAdd(string Service, string Id, double? StartAt = null, double? EndAt = null, string? SubtitleUrl = null)
{
    public VideoId VideoId => new(Service, Id);

    /// <summary>"" means absent, wherever it appears.</summary>
    public string? Subtitle => string.IsNullOrEmpty(SubtitleUrl) ? null : SubtitleUrl;
}

/// <summary>A partial queue item update; each Has* says whether the key was given.</summary>
public sealed record QueueItemUpdate(bool HasStartAt, double? StartAt, bool HasEndAt, double? EndAt, bool HasSubtitleUrl, string? SubtitleUrl);

/// <summary>
/// A parsed room request. <see cref="Raw"/> is the request as sent (unknown fields included), which the
/// room echoes in its event (docs/protocol.md §1.6).
/// </summary>
public abstract record RoomRequest(RequestType Type)
{
    public JsonObject Raw { get; init; } = [];
}

public sealed record PlaybackRequest(bool State) : RoomRequest(RequestType.Playback);
public sealed record SkipRequest() : RoomRequest(RequestType.Skip);
public sealed record SeekRequest(double Value) : RoomRequest(RequestType.Seek);
public sealed record AddRequest(VideoAdd? Video, ImmutableList<VideoAdd>? Videos, string? Url) : RoomRequest(RequestType.Add);
public sealed record RemoveRequest(VideoId Video) : RoomRequest(RequestType.Remove);
public sealed record OrderRequest(int FromIdx, int ToIdx) : RoomRequest(RequestType.Order);
public sealed record VoteRequest(VideoId Video, bool Add) : RoomRequest(RequestType.Vote);
public sealed record PromoteRequest(string TargetClientId, Role Role) : RoomRequest(RequestType.Promote);
public sealed record ChatRequest(string Text) : RoomRequest(RequestType.Chat);
public sealed record UndoRequest(JsonObject Event) : RoomRequest(RequestType.Undo);
public sealed record ApplySettingsRequest(SettingsPatch Settings) : RoomRequest(RequestType.ApplySettings);
public sealed record PlayNowRequest(VideoAdd Video) : RoomRequest(RequestType.PlayNow);
public sealed record ShuffleRequest() : RoomRequest(RequestType.Shuffle);
public sealed record PlaybackSpeedRequest(double Speed) : RoomRequest(RequestType.PlaybackSpeed);
public sealed record RestoreQueueRequest(bool Discard) : RoomRequest(RequestType.RestoreQueue);
public sealed record KickRequest(string ClientId) : RoomRequest(RequestType.Kick);
public sealed record UpdateQueueItemRequest(VideoId Video, QueueItemUpdate Update) : RoomRequest(RequestType.UpdateQueueItem);

/// <summary>The settings of an ApplySettings; null means "not given".</summary>
public sealed record SettingsPatch
{
    public string? Title { get; init; }
    public string? Description { get; init; }
    public Visibility? Visibility { get; init; }
    public QueueMode? QueueMode { get; init; }
    public ImmutableList<(Role Role, int Mask)>? Grants { get; init; }
    public ImmutableList<string>? AutoSkipSegmentCategories { get; init; }
    public RestoreQueueBehavior? RestoreQueueBehavior { get; init; }
    public bool? EnableVoteSkip { get; init; }

    /// <summary>Ott extension (docs/protocol.md §10): seconds, 0 (off) to <see cref="MaxWaitForBuffering"/>.</summary>
    public double? WaitForBuffering { get; init; }

    public const double MaxWaitForBuffering = 30;
}

/// <summary>
/// Ott's ban (docs/protocol.md §10): exactly one of <see cref="ClientId"/> and <see cref="User"/>; a duration of 0
/// is until unbanned. <see cref="BanId"/> and <see cref="TargetAccountId"/> are filled by the entry node (an id the
/// REST answer can name, and the account of <see cref="User"/>, looked up there because an actor does no I/O).
/// </summary>
public sealed record BanRequest(string? ClientId, string? User, bool ByIp, double Duration, string? Reason) : RoomRequest(RequestType.Ban)
{
    public const int MaxReasonLength = 500;

    public string? BanId { get; init; }

    public long? TargetAccountId { get; init; }
}

public sealed record UnbanRequest(string BanId) : RoomRequest(RequestType.Unban);
