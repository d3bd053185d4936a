using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Media;

// The `Media` section (docs/architecture.md §20): lookups, caching, ffprobe and the per-service upstreams.
// Every upstream base URL is configurable so tests can point resolvers at a loopback fake.
public sealed class MediaOptions
{
    public const string SectionName = "Media";

    // docs/protocol.md §4.4: search text shorter than this → InvalidAddPreviewInputException.
    [Range(1, 100)]
    public int SearchMinLength { get; set; } = 3;

    // The search resolver previewAdd uses when the request names no `adapter`.
    public string SearchProvider { get; set; } = "youtube";

    // The whole lookup of one item (or one preview), cache and upstream included.
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan LookupTimeout { get; set; } = TimeSpan.FromSeconds(10);

    // One HTTP request to an upstream API or manifest.
    [Range(typeof(TimeSpan), "00:00:00.050", "00:05:00")]
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromSeconds(8);

    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan VideoCacheTtl { get; set; } = TimeSpan.FromHours(12);

    // Search results, playlists and items whose length could not be measured go stale sooner.
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan SearchCacheTtl { get; set; } = TimeSpan.FromMinutes(30);

    // previewAdd's Cache-Control max-age for URL input and for search text.
    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan PreviewMaxAge { get; set; } = TimeSpan.FromHours(1);

    [Range(typeof(TimeSpan), "00:00:00", "30.00:00:00")]
    public TimeSpan SearchPreviewMaxAge { get; set; } = TimeSpan.FromMinutes(10);

    // Hosts and IP ranges (CIDR) that user-given media URLs may reach although they are loopback, private or
    // otherwise non-public (a LAN deployment's file server). Empty: public addresses only (OutboundGuard).
    public string[] OutboundAllowlist { get; set; } = [];

    [ValidateObjectMembers]
    public FfprobeOptions Ffprobe { get; set; } = new();

    [ValidateObjectMembers]
    public YouTubeOptions YouTube { get; set; } = new();

    public VimeoOptions Vimeo { get; set; } = new();
}

public sealed class FfprobeOptions
{
    // Empty turns probing off; a path that does not exist only means unknown lengths.
    public string Path { get; set; } = "ffprobe";

    [Range(typeof(TimeSpan), "00:00:00.050", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(8);

    // Probes running at once on this node; a lookup waiting longer than Timeout for a slot gets no length.
    [Range(1, 256)]
    public int MaxConcurrent { get; set; } = 4;
}

public sealed class YouTubeOptions
{
    // Without a key YouTube URLs are still recognised, but answer ServiceNotConfiguredException.
    public string ApiKey { get; set; } = "";

    public string BaseUrl { get; set; } = "https://www.googleapis.com/youtube/v3";

    [Range(1, 50)]
    public int PlaylistResults { get; set; } = 40;

    [Range(1, 50)]
    public int SearchResults { get; set; } = 10;
}

public sealed class VimeoOptions
{
    public string OEmbedUrl { get; set; } = "https://vimeo.com/api/oembed.json";
}

[OptionsValidator]
public sealed partial class MediaOptionsValidator : IValidateOptions<MediaOptions>;

internal static class MediaOptionsChecks
{
    public static bool IsHttpUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";

    public static bool Valid(MediaOptions o) =>
        IsHttpUrl(o.YouTube.BaseUrl) && IsHttpUrl(o.Vimeo.OEmbedUrl)
        && o.UpstreamTimeout <= o.LookupTimeout && o.Ffprobe.Timeout <= o.LookupTimeout
        && o.OutboundAllowlist.All(OutboundGuard.IsValidEntry);

    public const string Message =
        "Media: YouTube:BaseUrl and Vimeo:OEmbedUrl must be absolute http(s) URLs, UpstreamTimeout and Ffprobe:Timeout must not exceed LookupTimeout, and OutboundAllowlist entries must be host names, IP addresses or CIDR ranges.";
}
