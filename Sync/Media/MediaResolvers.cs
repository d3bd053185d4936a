using System.Collections.Frozen;
using System.Collections.Immutable;
using Microsoft.Extensions.Options;
using Ott.Sync.Protocol;
using Ott.Sync.Storage;

namespace Ott.Sync.Media;

/// <summary>A media service: recognises its URLs and fetches an item's metadata (docs/architecture.md §5.4).</summary>
public interface IMediaResolver
{
    string Service { get; }

    /// <summary>The video a URL names, or null if this resolver does not handle it.</summary>
    VideoId? Match(Uri url);

    /// <summary>The metadata of one video. Throws <see cref="OttException"/> with a protocol error.</summary>
    Task<QueueItem> ResolveAsync(VideoId id, CancellationToken ct);

    /// <summary>The collection (a playlist) a URL names for previewAdd, or null; most services have none.</summary>
    MediaCollection? CollectionOf(Uri url) => null;

    /// <summary>A collection's videos, complete enough to queue. Throws <see cref="OttException"/>.</summary>
    Task<IReadOnlyList<QueueItem>> ResolveCollectionAsync(string collectionId, CancellationToken ct) =>
        throw new NotSupportedException();
}

/// <summary>A playlist: its id, and the video the URL also named (previewAdd highlights it).</summary>
public sealed record MediaCollection(string Id, string? Highlight);

/// <summary>previewAdd's search text provider (docs/protocol.md §4.4).</summary>
public interface IMediaSearch
{
    string Service { get; }

    /// <summary>False when the provider is not configured (for example no API key).</summary>
    bool IsEnabled { get; }

    Task<IReadOnlyList<QueueItem>> SearchAsync(string query, CancellationToken ct);
}

/// <summary>What probing a media file found: its length in seconds and its embedded title, each only when known.</summary>
public sealed record ProbedMedia(double? Length, string? Title);

/// <summary>Measures a media file when it can (ffprobe in production, docs/protocol.md §2).</summary>
public interface IMediaProbe
{
    /// <summary>
    /// The file's length and title; null when no prober is available or the file was fetched but could not be
    /// measured. Throws <see cref="OttException"/> when the file cannot be fetched at all.
    /// </summary>
    Task<ProbedMedia?> ProbeAsync(Uri url, CancellationToken ct);
}

/// <summary>SponsorBlock segments for an item; the core ships one that returns none (docs/protocol.md §6.11).</summary>
public interface ISegmentSource
{
    Task<ImmutableList<Segment>> GetSegmentsAsync(QueueItem item, ImmutableList<string> categories, CancellationToken ct);
}

internal sealed class NoSegments : ISegmentSource
{
    public Task<ImmutableList<Segment>> GetSegmentsAsync(QueueItem item, ImmutableList<string> categories, CancellationToken ct) =>
        Task.FromResult(ImmutableList<Segment>.Empty);
}

/// <summary>
/// The built-in <c>direct</c> service: an http(s) URL whose path ends in a known media extension
/// (docs/protocol.md §2). Title from the file's title tag or its name, OTT's <c>Full Link</c> description,
/// and the probed length rounded up to whole seconds when the probe can measure it.
/// </summary>
internal sealed class DirectResolver(IMediaProbe probe) : IMediaResolver
{
    private static readonly FrozenDictionary<string, string> Mimes = new Dictionary<string, string>
    {
        ["mp4"] = "video/mp4",
        ["mp4v"] = "video/mp4",
        ["mpg4"] = "video/mp4",
        ["m4v"] = "video/x-m4v",
        ["mov"] = "video/quicktime",
        ["qt"] = "video/quicktime",
        ["webm"] = "video/webm",
        ["ogv"] = "video/ogg",
        ["mp3"] = "audio/mpeg",
        ["ogg"] = "audio/ogg",
        ["oga"] = "audio/ogg",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    public string Service => "direct";

    public static string? MimeOf(Uri url)
    {
        if (url.Scheme is not ("http" or "https"))
        {
            return null;
        }
        var path = url.AbsolutePath;
        var dot = path.LastIndexOf('.');
        return dot > path.LastIndexOf('/') && Mimes.TryGetValue(path[(dot + 1)..], out var mime) ? mime : null;
    }

    public VideoId? Match(Uri url) => MimeOf(url) is null ? null : new VideoId(Service, url.OriginalString);

    /// <summary>docs/protocol.md §2: lengths are whole seconds, rounded up (60.008 → 61).</summary>
    public static double? RoundLength(double? seconds) => seconds is { } s ? Math.Ceiling(s) : null;

    public static string DescriptionOf(string id) => $"Full Link: {id}";

    public async Task<QueueItem> ResolveAsync(VideoId id, CancellationToken ct)
    {
        if (!Uri.TryCreate(id.Id, UriKind.Absolute, out var url) || MimeOf(url) is not { } mime)
        {
            throw new OttException(OttFailure.UnsupportedService(id.Id));
        }
        var file = url.AbsolutePath[(url.AbsolutePath.LastIndexOf('/') + 1)..];
        var title = Uri.UnescapeDataString(file[..file.LastIndexOf('.')]);
        ProbedMedia? probed = null;
        try
        {
            probed = await probe.ProbeAsync(url, ct);
        }
        catch (OttException)
        {
            // The file cannot be fetched: the lookup fails (docs/protocol.md §2).
            throw;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Ott: a direct item whose length cannot be measured is still accepted (docs/protocol.md §2).
        }
        return new QueueItem
        {
            Service = Service,
            Id = id.Id,
            Title = probed?.Title ?? title,
            Description = DescriptionOf(id.Id),
            Mime = mime,
            Length = RoundLength(probed?.Length),
        };
    }
}

/// <summary>previewAdd's answer: the videos, the highlighted one, and how long clients may cache it.</summary>
internal sealed record MediaPreview(IReadOnlyList<QueueItem> Videos, QueueItem? Highlighted, TimeSpan MaxAge);

/// <summary>
/// Runs the resolvers for Add and PlayNow before a command reaches its room, and for previewAdd
/// (docs/architecture.md §5.4). Every lookup goes through <see cref="MediaCache"/>: Redis, shared by all nodes,
/// with single-flight per key.
/// </summary>
internal sealed class MediaService(
    IEnumerable<IMediaResolver> resolvers, IEnumerable<IMediaSearch> searches, MediaCache cache, RedisKeys keys,
    IOptions<MediaOptions> options)
{
    private readonly FrozenDictionary<string, IMediaResolver> _byService =
        resolvers.ToFrozenDictionary(r => r.Service, StringComparer.Ordinal);

    // `direct` goes last: a more specific service (hls, dash, youtube) wins over a file extension.
    private readonly IMediaResolver[] _matchOrder =
        [.. resolvers.Where(r => r.Service != "direct"), .. resolvers.Where(r => r.Service == "direct")];

    private readonly IMediaSearch[] _searches = [.. searches];

    private MediaOptions Options => options.Value;

    private static bool IsUrl(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Uri? url) =>
        Uri.TryCreate(text, UriKind.Absolute, out url) && url.Host.Length > 0;

    /// <summary>The video a URL names, or the UnsupportedServiceException it earns.</summary>
    public (VideoId? Id, OttFailure? Failure) Recognise(string input)
    {
        var text = input.Trim();
        if (IsUrl(text, out var url))
        {
            foreach (var resolver in _matchOrder)
            {
                if (resolver.Match(url) is { } id)
                {
                    return (id, null);
                }
            }
        }
        return (null, OttFailure.UnsupportedService(text));
    }

    public async Task<QueueItem> ResolveAsync(VideoId id, CancellationToken ct)
    {
        if (!_byService.TryGetValue(id.Service, out var resolver))
        {
            throw new OttException(OttFailure.UnsupportedService(id.Id));
        }
        var item = await cache.GetOrFetchAsync(keys.MediaVideo(id.Service, id.Id), MediaFailures.Display(id.Service),
            ProtocolJsonContext.Default.QueueItem, token => resolver.ResolveAsync(id, token), TtlOf, ct);
        // Items are cached as resolved; a preview's highlight never travels into a queue.
        return item.Highlight is null ? item : item with { Highlight = null };
    }

    // Items whose length could not be measured are retried sooner.
    private TimeSpan TtlOf(QueueItem item) => item.Length is null ? Options.SearchCacheTtl : Options.VideoCacheTtl;

    /// <summary>previewAdd (docs/protocol.md §4.4): several lines, one URL, or search text.</summary>
    public async Task<MediaPreview> PreviewAsync(string input, string? adapter, CancellationToken ct)
    {
        var text = input.Trim();
        if (text.Contains('\n', StringComparison.Ordinal) || text.Contains('\r', StringComparison.Ordinal))
        {
            var ids = new List<VideoId>();
            foreach (var line in text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!IsUrl(line, out _))
                {
                    continue;
                }
                var (id, failure) = Recognise(line);
                ids.Add(id ?? throw new OttException(failure!));
            }
            // Bounded, so one pasted list cannot start a probe or API call per line all at once.
            var items = new QueueItem[ids.Count];
            await Parallel.ForEachAsync(Enumerable.Range(0, ids.Count),
                new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = 8 },
                async (i, token) => items[i] = await ResolveAsync(ids[i], token));
            return new MediaPreview(items, null, Options.PreviewMaxAge);
        }
        if (IsUrl(text, out var url))
        {
            foreach (var resolver in _matchOrder)
            {
                if (resolver.CollectionOf(url) is { } collection)
                {
                    return await PreviewCollectionAsync(resolver, collection, ct);
                }
            }
            var (id, failure) = Recognise(text);
            var item = await ResolveAsync(id ?? throw new OttException(failure!), ct);
            return new MediaPreview([item], null, Options.PreviewMaxAge);
        }
        if (text.Length < Options.SearchMinLength)
        {
            throw new OttException(new OttFailure("InvalidAddPreviewInputException",
                $"Your search query must at least {Options.SearchMinLength} characters, or supply a Youtube video, playlist, or channel link."));
        }
        var provider = string.IsNullOrEmpty(adapter) ? Options.SearchProvider : adapter;
        var search = _searches.FirstOrDefault(s => s.Service == provider && s.IsEnabled)
            ?? throw new OttException(OttFailure.FeatureDisabled("Searching has been disabled by an administrator.", 400));
        var results = await cache.GetOrFetchAsync(keys.MediaSearch(search.Service, text), MediaFailures.Display(search.Service),
            ProtocolJsonContext.Default.ListQueueItem, async token => (await search.SearchAsync(text, token)).ToList(),
            _ => Options.SearchCacheTtl, ct);
        await CacheItemsAsync(results);
        return new MediaPreview(results, null, Options.SearchPreviewMaxAge);
    }

    // A playlist with the URL's own video highlighted: marked in place when the playlist holds
    // it, otherwise looked up and put first. When the playlist cannot be read, the video alone
    // is the answer (as OTT does).
    private async Task<MediaPreview> PreviewCollectionAsync(IMediaResolver resolver, MediaCollection collection, CancellationToken ct)
    {
        List<QueueItem> items;
        try
        {
            items = await cache.GetOrFetchAsync(keys.MediaCollection(resolver.Service, collection.Id),
                MediaFailures.Display(resolver.Service), ProtocolJsonContext.Default.ListQueueItem,
                async token => (await resolver.ResolveCollectionAsync(collection.Id, token)).ToList(),
                _ => Options.SearchCacheTtl, ct);
        }
        catch (OttException) when (collection.Highlight is not null)
        {
            var single = await ResolveAsync(new VideoId(resolver.Service, collection.Highlight), ct);
            return new MediaPreview([single], null, Options.PreviewMaxAge);
        }
        await CacheItemsAsync(items);
        if (collection.Highlight is not { } highlight)
        {
            return new MediaPreview(items, null, Options.PreviewMaxAge);
        }
        var index = items.FindIndex(i => i.Id == highlight);
        var highlighted = (index >= 0 ? items[index] : await ResolveAsync(new VideoId(resolver.Service, highlight), ct))
            with
        { Highlight = true };
        if (index >= 0)
        {
            items[index] = highlighted;
        }
        else
        {
            items.Insert(0, highlighted);
        }
        return new MediaPreview(items, highlighted, Options.PreviewMaxAge);
    }

    // Playlist and search items are complete, so adding one of them later needs no upstream call.
    private async Task CacheItemsAsync(IEnumerable<QueueItem> items)
    {
        foreach (var item in items.Where(i => i.Length is not null))
        {
            await cache.WriteAsync(keys.MediaVideo(item.Service, item.Id), item with { Highlight = null },
                ProtocolJsonContext.Default.QueueItem, Options.VideoCacheTtl);
        }
    }

    /// <summary>Everything an Add or PlayNow needs, looked up outside the room; errors are carried, not thrown.</summary>
    public async Task<MediaLookup> LookupAsync(RoomRequest request, Func<VideoId, bool> alreadyKnown, CancellationToken ct)
    {
        var lookup = MediaLookup.None;
        var ids = new List<VideoId>();
        switch (request)
        {
            case AddRequest { Url: { } url }:
                var (fromUrl, failure) = Recognise(url);
                lookup = lookup with { FromUrl = fromUrl, UrlFailure = failure };
                if (fromUrl is { } u) ids.Add(u);
                break;
            case AddRequest { Video: { } video }:
                ids.Add(video.VideoId);
                break;
            case AddRequest { Videos: { } videos }:
                ids.AddRange(videos.Select(v => v.VideoId).Distinct());
                break;
            case PlayNowRequest playNow:
                ids.Add(playNow.Video.VideoId);
                break;
        }
        var items = ImmutableDictionary.CreateBuilder<VideoId, QueueItem>();
        var failures = ImmutableDictionary.CreateBuilder<VideoId, OttFailure>();
        await Parallel.ForEachAsync(ids.Where(id => !alreadyKnown(id)), new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = 8 }, async (id, token) =>
        {
            try
            {
                var item = await ResolveAsync(id, token);
                lock (items) items[id] = item;
            }
            catch (OttException e)
            {
                lock (items) failures[id] = e.Failure;
            }
            catch (Exception) when (!ct.IsCancellationRequested)
            {
                lock (items) failures[id] = OttFailure.Unknown();
            }
        });
        return lookup with { Items = items.ToImmutable(), Failures = failures.ToImmutable() };
    }
}
