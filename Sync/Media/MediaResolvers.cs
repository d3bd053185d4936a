using System.Collections.Frozen;
using System.Collections.Immutable;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Sync.Media;

/// <summary>A media service: recognises its URLs and fetches an item's metadata (design.md §5.4).</summary>
public interface IMediaResolver
{
    string Service { get; }

    /// <summary>The video a URL names, or null if this resolver does not handle it.</summary>
    VideoId? Match(Uri url);

    /// <summary>The metadata of one video. Throws <see cref="OttException"/> with a protocol error.</summary>
    Task<QueueItem> ResolveAsync(VideoId id, CancellationToken ct);
}

/// <summary>Measures a media file's length when it can (the media issue plugs ffprobe in here).</summary>
public interface IMediaProbe
{
    Task<double?> ProbeLengthAsync(Uri url, CancellationToken ct);
}

internal sealed class NoMediaProbe : IMediaProbe
{
    public Task<double?> ProbeLengthAsync(Uri url, CancellationToken ct) => Task.FromResult<double?>(null);
}

/// <summary>SponsorBlock segments for an item; the core ships one that returns none (protocol.md §6.11).</summary>
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
/// (protocol.md §2). Title from the file name; length only when the probe can measure it.
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

    public async Task<QueueItem> ResolveAsync(VideoId id, CancellationToken ct)
    {
        if (!Uri.TryCreate(id.Id, UriKind.Absolute, out var url) || MimeOf(url) is not { } mime)
        {
            throw new OttException(OttFailure.UnsupportedService(id.Id));
        }
        var file = url.AbsolutePath[(url.AbsolutePath.LastIndexOf('/') + 1)..];
        var title = Uri.UnescapeDataString(file[..file.LastIndexOf('.')]);
        double? length = null;
        try
        {
            length = await probe.ProbeLengthAsync(url, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Ott: a direct item whose length cannot be measured is still accepted (protocol.md §2).
        }
        return new QueueItem { Service = Service, Id = id.Id, Title = title, Mime = mime, Length = length };
    }
}

/// <summary>Runs the resolvers for Add and PlayNow before a command reaches its room (design.md §5.4).</summary>
internal sealed class MediaService(IEnumerable<IMediaResolver> resolvers)
{
    private readonly FrozenDictionary<string, IMediaResolver> _byService =
        resolvers.ToFrozenDictionary(r => r.Service, StringComparer.Ordinal);

    public static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The video a URL names, or the UnsupportedServiceException it earns.</summary>
    public (VideoId? Id, OttFailure? Failure) Recognise(string input)
    {
        var text = input.Trim();
        if (Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Host.Length > 0)
        {
            foreach (var resolver in _byService.Values)
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
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(LookupTimeout);
        return await resolver.ResolveAsync(id, timeout.Token);
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
