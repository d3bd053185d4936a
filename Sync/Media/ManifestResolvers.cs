using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Ott.Sync.Protocol;

namespace Ott.Sync.Media;

// Shared by the manifest services: the id is the manifest URL, matched by the path's extension.
internal static class ManifestUrls
{
    public const int MaxManifestBytes = 4 * 1024 * 1024;

    public static bool HasExtension(Uri url, params string[] extensions)
    {
        if (url.Scheme is not ("http" or "https"))
        {
            return false;
        }
        var path = url.AbsolutePath;
        var dot = path.LastIndexOf('.');
        return dot > path.LastIndexOf('/') && extensions.Contains(path[(dot + 1)..], StringComparer.OrdinalIgnoreCase);
    }

    public static Uri Parse(VideoId id, params string[] extensions) =>
        Uri.TryCreate(id.Id, UriKind.Absolute, out var url) && HasExtension(url, extensions)
            ? url
            : throw new OttException(OttFailure.UnsupportedService(id.Id));

    public static async Task<string> FetchAsync(MediaHttp http, Uri url, CancellationToken ct)
    {
        var response = await http.GetAsync(url, url.Host, MaxManifestBytes, ct);
        if (!response.IsSuccess)
        {
            throw new OttException(MediaHttp.FailureFor(response.Status, url.Host));
        }
        return Encoding.UTF8.GetString(response.Body);
    }
}

// `hls`: an .m3u8 playlist. The length is the sum of a media playlist's #EXTINF durations; a
// master playlist is followed to its first variant. A playlist without #EXT-X-ENDLIST is live
// (its segments are a sliding window, not the whole), so its length is unknown.
internal sealed class HlsResolver(MediaHttp http) : IMediaResolver
{
    public string Service => "hls";

    public VideoId? Match(Uri url) => ManifestUrls.HasExtension(url, "m3u8", "m3u") ? new VideoId(Service, url.OriginalString) : null;

    public async Task<QueueItem> ResolveAsync(VideoId id, CancellationToken ct)
    {
        var url = ManifestUrls.Parse(id, "m3u8", "m3u");
        var playlist = HlsPlaylist.Parse(await ManifestUrls.FetchAsync(http, url, ct));
        if (playlist.FirstVariant is { } variant)
        {
            if (!Uri.TryCreate(url, variant, out var variantUrl) || variantUrl.Scheme is not ("http" or "https"))
            {
                throw new OttException(MediaFailures.M3u8Parse("The master playlist's first variant is not an http(s) URL."));
            }
            playlist = HlsPlaylist.Parse(await ManifestUrls.FetchAsync(http, variantUrl, ct));
            if (playlist.FirstVariant is not null)
            {
                throw new OttException(MediaFailures.M3u8Parse("The master playlist's first variant is another master playlist."));
            }
        }
        if (playlist.Segments == 0)
        {
            throw new OttException(MediaFailures.M3u8Parse("No segments found in the playlist."));
        }
        return new QueueItem
        {
            Service = Service,
            Id = id.Id,
            Title = id.Id,
            Description = $"Full Link: {id.Id}",
            Mime = "application/x-mpegURL",
            Length = playlist.Ended ? playlist.Duration : null,
            HlsUrl = id.Id,
        };
    }
}

internal sealed record HlsPlaylist(string? FirstVariant, int Segments, double Duration, bool Ended)
{
    public static HlsPlaylist Parse(string text)
    {
        var lines = text.Split('\n').Select(l => l.Trim().TrimStart('\uFEFF')).Where(l => l.Length > 0).ToList();
        if (lines.Count == 0 || lines[0] != "#EXTM3U")
        {
            throw new OttException(MediaFailures.M3u8Parse("The manifest is not an M3U8 playlist."));
        }
        string? variant = null;
        var segments = 0;
        var duration = 0.0;
        var ended = false;
        for (var i = 1; i < lines.Count; i++)
        {
            var line = lines[i];
            if (line.StartsWith("#EXT-X-STREAM-INF", StringComparison.Ordinal))
            {
                // The URI is the next line that is not a tag or comment.
                var uri = lines.Skip(i + 1).FirstOrDefault(l => !l.StartsWith('#'));
                if (uri is null)
                {
                    throw new OttException(MediaFailures.M3u8Parse("A variant stream has no URI."));
                }
                variant ??= uri;
            }
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
            {
                var value = line["#EXTINF:".Length..];
                var comma = value.IndexOf(',');
                if (comma >= 0)
                {
                    value = value[..comma];
                }
                if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
                    || !double.IsFinite(seconds) || seconds < 0)
                {
                    throw new OttException(MediaFailures.M3u8Parse($"Invalid segment duration \"{value}\"."));
                }
                segments++;
                duration += seconds;
            }
            else if (line == "#EXT-X-ENDLIST" || line == "#EXT-X-PLAYLIST-TYPE:VOD")
            {
                ended = true;
            }
        }
        return new HlsPlaylist(variant, segments, duration, ended);
    }
}

// `dash`: an .mpd manifest. The length is MPD@mediaPresentationDuration (ISO 8601), or the sum of
// the periods' durations when that is absent. A dynamic (live) MPD has no length.
internal sealed class DashResolver(MediaHttp http) : IMediaResolver
{
    public string Service => "dash";

    public VideoId? Match(Uri url) => ManifestUrls.HasExtension(url, "mpd") ? new VideoId(Service, url.OriginalString) : null;

    public async Task<QueueItem> ResolveAsync(VideoId id, CancellationToken ct)
    {
        var url = ManifestUrls.Parse(id, "mpd");
        var manifest = DashManifest.Parse(await ManifestUrls.FetchAsync(http, url, ct));
        var file = Uri.UnescapeDataString(url.AbsolutePath[(url.AbsolutePath.LastIndexOf('/') + 1)..]);
        return new QueueItem
        {
            Service = Service,
            Id = id.Id,
            Title = manifest.Title ?? file,
            Description = $"Full Link: {id.Id}",
            Mime = "application/dash+xml",
            Length = manifest.Length,
            DashUrl = id.Id,
        };
    }
}

internal sealed record DashManifest(double? Length, string? Title)
{
    public static DashManifest Parse(string text)
    {
        XDocument doc;
        try
        {
            // No DTDs and no external entities: the manifest comes from an arbitrary URL.
            var settings = new XmlReaderSettings
            {
                DtdProcessing = DtdProcessing.Prohibit,
                XmlResolver = null,
                MaxCharactersInDocument = ManifestUrls.MaxManifestBytes,
            };
            using var reader = XmlReader.Create(new StringReader(text), settings);
            doc = XDocument.Load(reader);
        }
        catch (XmlException)
        {
            throw new OttException(MediaFailures.MpdParse("The manifest is not valid XML."));
        }
        var mpd = doc.Root;
        if (mpd is null || mpd.Name.LocalName != "MPD")
        {
            throw new OttException(MediaFailures.MpdParse("The manifest has no MPD element."));
        }
        var title = mpd.Elements().FirstOrDefault(e => e.Name.LocalName == "ProgramInformation")?
            .Elements().FirstOrDefault(e => e.Name.LocalName == "Title")?.Value.Trim();
        if (string.IsNullOrEmpty(title))
        {
            title = null;
        }
        if ((string?)mpd.Attribute("type") == "dynamic")
        {
            return new DashManifest(null, title);
        }
        if (mpd.Attribute("mediaPresentationDuration") is { } total)
        {
            return Iso8601Duration.TryParse(total.Value, out var seconds)
                ? new DashManifest(seconds, title)
                : throw new OttException(MediaFailures.MpdParse($"Invalid mediaPresentationDuration \"{total.Value}\"."));
        }
        var periods = mpd.Elements().Where(e => e.Name.LocalName == "Period").ToList();
        var sum = 0.0;
        foreach (var period in periods)
        {
            if (period.Attribute("duration") is not { } d)
            {
                return new DashManifest(null, title);
            }
            if (!Iso8601Duration.TryParse(d.Value, out var seconds))
            {
                throw new OttException(MediaFailures.MpdParse($"Invalid Period duration \"{d.Value}\"."));
            }
            sum += seconds;
        }
        return new DashManifest(periods.Count > 0 ? sum : null, title);
    }
}
