using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Ott.Sync.Protocol;

namespace Ott.Sync.Media;

// `youtube`: watch, youtu.be, shorts, embed, live and /v/ URLs name a video; /playlist?list= and a
// watch URL with a `list` name a playlist (previewAdd only). Metadata comes from the YouTube Data
// API v3 and needs `Media:YouTube:ApiKey`; without one every lookup answers
// ServiceNotConfiguredException rather than an item without its length.
internal sealed partial class YouTubeResolver(MediaHttp http, IOptions<MediaOptions> options) : IMediaResolver, IMediaSearch
{
    private const int MaxJsonBytes = 2 * 1024 * 1024;

    // Watch Later and Liked videos are private to their owner; the API cannot list them.
    private static readonly string[] PrivateLists = ["LL", "WL"];

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex IdPattern();

    private YouTubeOptions Options => options.Value.YouTube;

    public string Service => "youtube";

    public bool IsEnabled => Options.ApiKey.Length > 0;

    private static bool IsYouTubeHost(string host) =>
        host is "youtube.com" or "youtube-nocookie.com" || host.EndsWith(".youtube.com", StringComparison.Ordinal)
        || host.EndsWith(".youtube-nocookie.com", StringComparison.Ordinal);

    public VideoId? Match(Uri url) => VideoIdOf(url) is { } id ? new VideoId(Service, id) : null;

    internal static string? VideoIdOf(Uri url)
    {
        if (url.Scheme is not ("http" or "https"))
        {
            return null;
        }
        var host = url.Host.ToLowerInvariant();
        var segments = url.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string? id = null;
        if (host is "youtu.be" or "www.youtu.be")
        {
            id = segments.FirstOrDefault();
        }
        else if (IsYouTubeHost(host))
        {
            if (segments is ["watch"])
            {
                id = Query(url, "v");
            }
            else if (segments is ["shorts" or "embed" or "live" or "v" or "e", var rest, ..])
            {
                id = rest;
            }
        }
        return id is not null && IdPattern().IsMatch(id) ? id : null;
    }

    public MediaCollection? CollectionOf(Uri url)
    {
        if (url.Scheme is not ("http" or "https") || !IsYouTubeHost(url.Host.ToLowerInvariant()))
        {
            return null;
        }
        var list = Query(url, "list");
        if (list is null || !IdPattern().IsMatch(list) || PrivateLists.Contains(list))
        {
            return null;
        }
        if (url.AbsolutePath.TrimEnd('/') == "/playlist")
        {
            return new MediaCollection(list, null);
        }
        return VideoIdOf(url) is { } video ? new MediaCollection(list, video) : null;
    }

    public async Task<QueueItem> ResolveAsync(VideoId id, CancellationToken ct)
    {
        if (!IdPattern().IsMatch(id.Id))
        {
            throw new OttException(MediaFailures.InvalidVideoId(Service, id.Id));
        }
        var found = await FetchVideosAsync([id.Id], ct);
        return found.TryGetValue(id.Id, out var item) ? item.Item ?? throw new OttException(item.Failure!)
            : throw new OttException(OttFailure.VideoNotFound());
    }

    // The playlist's first page, with every item's length from a second `videos` call, so a preview
    // never holds items that cannot be queued. Private, deleted and live items are dropped.
    public async Task<IReadOnlyList<QueueItem>> ResolveCollectionAsync(string collectionId, CancellationToken ct)
    {
        RequireKey();
        var url = Api("playlistItems", ("part", "snippet,status"), ("playlistId", collectionId),
            ("maxResults", Options.PlaylistResults.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var ids = new List<string>();
        using (var doc = await GetAsync(url, notFound: MediaFailures.PlaylistNotFound(), ct))
        {
            foreach (var item in Items(doc))
            {
                var privacy = Str(item, "status", "privacyStatus");
                if (privacy is "private" or "privacyStatusUnspecified")
                {
                    continue;
                }
                if (Str(item, "snippet", "resourceId", "videoId") is { } videoId && IdPattern().IsMatch(videoId))
                {
                    ids.Add(videoId);
                }
            }
        }
        var videos = await FetchVideosAsync(ids, ct);
        return [.. ids.Where(videos.ContainsKey).Select(i => videos[i].Item).OfType<QueueItem>()];
    }

    public async Task<IReadOnlyList<QueueItem>> SearchAsync(string query, CancellationToken ct)
    {
        RequireKey();
        var url = Api("search", ("part", "id"), ("type", "video"), ("q", query),
            ("maxResults", Options.SearchResults.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var ids = new List<string>();
        using (var doc = await GetAsync(url, notFound: null, ct))
        {
            foreach (var item in Items(doc))
            {
                if (Str(item, "id", "videoId") is { } videoId && IdPattern().IsMatch(videoId))
                {
                    ids.Add(videoId);
                }
            }
        }
        var videos = await FetchVideosAsync(ids, ct);
        return [.. ids.Where(videos.ContainsKey).Select(i => videos[i].Item).OfType<QueueItem>()];
    }

    // `videos?part=snippet,contentDetails`, at most 50 ids per call. An id missing from the answer
    // does not exist (or is private); a live or upcoming broadcast has no length and is refused.
    private async Task<Dictionary<string, (QueueItem? Item, OttFailure? Failure)>> FetchVideosAsync(IReadOnlyList<string> ids, CancellationToken ct)
    {
        RequireKey();
        var result = new Dictionary<string, (QueueItem?, OttFailure?)>(StringComparer.Ordinal);
        foreach (var chunk in ids.Distinct().Chunk(50))
        {
            var url = Api("videos", ("part", "snippet,contentDetails"), ("id", string.Join(',', chunk)));
            using var doc = await GetAsync(url, notFound: OttFailure.VideoNotFound(), ct);
            foreach (var item in Items(doc))
            {
                if (Str(item, "id") is not { } id)
                {
                    throw new OttException(MediaFailures.UpstreamMalformed("YouTube"));
                }
                if (Str(item, "snippet", "liveBroadcastContent") is { } live && live != "none")
                {
                    result[id] = (null, MediaFailures.UnsupportedVideoType("livestream"));
                    continue;
                }
                if (!Iso8601Duration.TryParse(Str(item, "contentDetails", "duration"), out var length))
                {
                    throw new OttException(MediaFailures.UpstreamMalformed("YouTube"));
                }
                result[id] = (new QueueItem
                {
                    Service = Service,
                    Id = id,
                    Title = Str(item, "snippet", "title"),
                    Description = Str(item, "snippet", "description"),
                    Thumbnail = Str(item, "snippet", "thumbnails", "medium", "url") ?? Str(item, "snippet", "thumbnails", "default", "url"),
                    Length = length,
                }, null);
            }
        }
        return result;
    }

    private void RequireKey()
    {
        if (!IsEnabled)
        {
            throw new OttException(MediaFailures.ServiceNotConfigured(Service));
        }
    }

    private Uri Api(string resource, params (string Name, string Value)[] query)
    {
        var all = query.Append((Name: "key", Value: Options.ApiKey)).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value)}");
        return new Uri($"{Options.BaseUrl.TrimEnd('/')}/{resource}?{string.Join('&', all)}");
    }

    private async Task<JsonDocument> GetAsync(Uri url, OttFailure? notFound, CancellationToken ct)
    {
        var response = await http.GetAsync(url, "YouTube", MaxJsonBytes, ct);
        if (response.IsSuccess)
        {
            var doc = MediaHttp.ParseJson(response, "YouTube");
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("items", out var items) || items.ValueKind != JsonValueKind.Array)
            {
                doc.Dispose();
                throw new OttException(MediaFailures.UpstreamMalformed("YouTube"));
            }
            return doc;
        }
        // Google's error body: {"error":{"code":403,"errors":[{"reason":"quotaExceeded",…}],…}}.
        var reason = "";
        try
        {
            using var error = JsonDocument.Parse(response.Body);
            if (error.RootElement.ValueKind == JsonValueKind.Object
                && error.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object
                && e.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array && errors.GetArrayLength() > 0
                && errors[0].ValueKind == JsonValueKind.Object && errors[0].TryGetProperty("reason", out var r))
            {
                reason = r.GetString() ?? "";
            }
        }
        catch (JsonException)
        {
        }
        throw new OttException(response.Status switch
        {
            403 or 429 when reason is "quotaExceeded" or "dailyLimitExceeded" or "rateLimitExceeded" or "userRateLimitExceeded"
                || response.Status == 429 => MediaFailures.OutOfQuota(Service),
            404 when notFound is not null => notFound,
            _ => MediaHttp.FailureFor(response.Status, "YouTube"),
        });
    }

    private static JsonElement.ArrayEnumerator Items(JsonDocument doc) => doc.RootElement.GetProperty("items").EnumerateArray();

    private static string? Str(JsonElement element, params string[] path)
    {
        foreach (var name in path)
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element))
            {
                return null;
            }
        }
        return element.ValueKind == JsonValueKind.String ? element.GetString() : null;
    }

    private static string? Query(Uri url, string name)
    {
        foreach (var pair in url.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = eq < 0 ? pair : pair[..eq];
            if (Uri.UnescapeDataString(key) == name)
            {
                var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' ')).Trim();
                return value.Length > 0 ? value : null;
            }
        }
        return null;
    }
}
