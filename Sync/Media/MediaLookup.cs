using System.Collections.Immutable;
using Ott.Sync.Protocol;

namespace Ott.Sync.Media;

/// <summary>What media lookups outside the room produced for a command (docs/architecture.md §5.4).</summary>
public sealed record MediaLookup
{
    public static MediaLookup None { get; } = new();

    /// <summary>The id a url Add resolved to, or the failure when no resolver recognised it.</summary>
    public VideoId? FromUrl { get; init; }
    public OttFailure? UrlFailure { get; init; }
    public ImmutableDictionary<VideoId, QueueItem> Items { get; init; } = ImmutableDictionary<VideoId, QueueItem>.Empty;
    public ImmutableDictionary<VideoId, OttFailure> Failures { get; init; } = ImmutableDictionary<VideoId, OttFailure>.Empty;

    public QueueItem Get(VideoId id) =>
        Items.TryGetValue(id, out var item) ? item
        : throw new OttException(Failures.TryGetValue(id, out var failure) ? failure : OttFailure.UnsupportedService(id.Id));
}
