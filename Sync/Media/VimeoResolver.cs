using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Ott.Sync.Protocol;

namespace Ott.Sync.Media;

// `vimeo`: vimeo.com/<digits> and player.vimeo.com/video/<digits>, described by Vimeo's public
// oEmbed endpoint (title, description, thumbnail_url, duration). oEmbed answers 403 for a video
// whose embedding is disabled and 404 for one that is private or gone.
internal sealed partial class VimeoResolver(MediaHttp http, IOptions<MediaOptions> options) : IMediaResolver
{
    private const int MaxJsonBytes = 256 * 1024;

    [GeneratedRegex("^[0-9]{1,20}$")]
    private static partial Regex IdPattern();

    public string Service => "vimeo";

    public VideoId? Match(Uri url)
    {
        if (url.Scheme is not ("http" or "https"))
        {
            return null;
        }
        var host = url.Host.ToLowerInvariant();
        var segments = url.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var id = host switch
        {
            "vimeo.com" or "www.vimeo.com" when segments is [var only] => only,
            "player.vimeo.com" when segments is ["video", var video] => video,
            _ => null,
        };
        return id is not null && IdPattern().IsMatch(id) ? new VideoId(Service, id) : null;
    }

    public async Task<QueueItem> ResolveAsync(VideoId id, CancellationToken ct)
    {
        if (!IdPattern().IsMatch(id.Id))
        {
            throw new OttException(MediaFailures.InvalidVideoId(Service, id.Id));
        }
        var endpoint = options.Value.Vimeo.OEmbedUrl;
        var url = new Uri($"{endpoint}{(endpoint.Contains('?') ? '&' : '?')}url={Uri.EscapeDataString($"https://vimeo.com/{id.Id}")}");
        var response = await http.GetAsync(url, "Vimeo", MaxJsonBytes, ct);
        if (!response.IsSuccess)
        {
            throw new OttException(MediaHttp.FailureFor(response.Status, "Vimeo"));
        }
        using var doc = MediaHttp.ParseJson(response, "Vimeo");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || Str(root, "title") is not { } title)
        {
            throw new OttException(MediaFailures.UpstreamMalformed("Vimeo"));
        }
        double? length = root.TryGetProperty("duration", out var d) && d.ValueKind == JsonValueKind.Number
            && d.TryGetDouble(out var seconds) && seconds > 0 ? seconds : null;
        return new QueueItem
        {
            Service = Service,
            Id = id.Id,
            Title = title,
            Description = Str(root, "description"),
            Thumbnail = Str(root, "thumbnail_url"),
            Length = length,
        };
    }

    private static string? Str(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
