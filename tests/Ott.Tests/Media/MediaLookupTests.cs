using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Media;
using Ott.Sync.Protocol;
using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Media;

namespace Ott.Tests.Media;

/// <summary>Adds and previews against the loopback fakes, with a (fake) YouTube API key configured.</summary>
public sealed class MediaLookupTests(MediaApplication app) : IClassFixture<MediaApplication>
{
    private static string NewId() => "v" + Guid.NewGuid().ToString("N")[..10];

    private async Task<JsonObject> AddAndAwaitItemAsync(string url, string service)
    {
        var token = await app.GrantAsync();
        var room = await app.CreateRoomAsync(token: token);
        await using var socket = await app.JoinAsync(room, token);
        using var client = app.ApiClient(token);
        using var response = await client.PostAsync($"/api/room/{room}/queue", OttApplication.Json(new JsonObject { ["url"] = url }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // Added to an idle room, the item lands in the queue or becomes current; either sync carries it.
        var sync = await socket.WaitForAsync(m => m.Action() == "sync"
            && ((m["queue"] as JsonArray)?.Any(v => v?["service"]?.GetValue<string>() == service) == true
                || m["currentSource"]?["service"]?.GetValue<string>() == service));
        return (sync["currentSource"] as JsonObject) ?? sync["queue"]!.AsArray().First(v => v!["service"]!.GetValue<string>() == service)!.AsObject();
    }

    [Fact]
    public async Task AddingAYouTubeLinkQueuesAnItemWithItsLength()
    {
        var id = NewId();
        app.YouTube.Video(id, "A song", "PT4M2S");
        var item = await AddAndAwaitItemAsync($"https://youtu.be/{id}", "youtube");
        Assert.Equal(id, item["id"]!.GetValue<string>());
        Assert.Equal("A song", item["title"]!.GetValue<string>());
        Assert.Equal(242, item["length"]!.GetValue<double>());
    }

    [Fact]
    public async Task DirectFileFromLoopbackIsQueuedWithItsProbedLength()
    {
        var item = await AddAndAwaitItemAsync(app.Upstream.Url("/files/clip.mp4"), "direct");
        Assert.Equal("clip", item["title"]!.GetValue<string>());
        Assert.Equal("video/mp4", item["mime"]!.GetValue<string>());
        Assert.InRange(item["length"]!.GetValue<double>(), 2.9, 3.1);
    }

    [Fact]
    public async Task DirectFilePreviewHasOttsDescriptionAndWholeSecondLength()
    {
        var url = app.Upstream.Url("/files/clip.mp4");
        var video = (await PreviewOkAsync(url))["result"]![0]!;
        Assert.Equal("direct", video["service"]!.GetValue<string>());
        Assert.Equal(url, video["id"]!.GetValue<string>());
        Assert.Equal("Full Link: " + url, video["description"]!.GetValue<string>());
        Assert.Equal(3, video["length"]!.GetValue<double>());
    }

    [Fact]
    public async Task UnreachableDirectUrlIsAnErrorInPreviewAndAdd()
    {
        // OTT answers an error too (docs/protocol.md §2); Ott names it like any other upstream failure.
        var body = await PreviewFailAsync("http://127.0.0.1:9/gone.mp4");
        Assert.Equal("UpstreamUnavailableException", body["error"]!["name"]!.GetValue<string>());
        Assert.Equal("VideoNotFoundException",
            (await PreviewFailAsync(app.Upstream.Url("/files/nothing-here.mp4")))["error"]!["name"]!.GetValue<string>());

        var token = await app.GrantAsync();
        var room = await app.CreateRoomAsync(token: token);
        using var client = app.ApiClient(token);
        using var response = await client.PostAsync($"/api/room/{room}/queue",
            OttApplication.Json(new JsonObject { ["url"] = "http://127.0.0.1:9/gone.mp4" }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("UpstreamUnavailableException", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task VimeoLinkPreviewsWithOEmbedMetadata()
    {
        app.Upstream.Json("/vimeo/oembed.json", """{"title":"Vimeo film","thumbnail_url":"https://i.vimeocdn.com/x.jpg","duration":125}""");
        var body = await PreviewOkAsync("https://vimeo.com/987654321");
        var video = body["result"]![0]!;
        Assert.Equal("vimeo", video["service"]!.GetValue<string>());
        Assert.Equal(125, video["length"]!.GetValue<double>());
        Assert.Equal("https://i.vimeocdn.com/x.jpg", video["thumbnail"]!.GetValue<string>());
    }

    [Fact]
    public async Task HlsLinkPreviewsWithManifestLengthAndHlsUrl()
    {
        app.Upstream.Text("/live/show.m3u8", "#EXTM3U\n#EXTINF:5,\na.ts\n#EXTINF:5,\nb.ts\n#EXT-X-ENDLIST\n", "application/vnd.apple.mpegurl");
        var url = app.Upstream.Url("/live/show.m3u8");
        var video = (await PreviewOkAsync(url))["result"]![0]!;
        Assert.Equal("hls", video["service"]!.GetValue<string>());
        Assert.Equal(10, video["length"]!.GetValue<double>());
        Assert.Equal(url, video["hls_url"]!.GetValue<string>());
        Assert.NotEqual("application/json", video["mime"]!.GetValue<string>());
    }

    [Fact]
    public async Task SearchTextGoesToYouTubeSearchWithLengths()
    {
        var (a, b) = (NewId(), NewId());
        app.YouTube.Video(a, "First", "PT1M");
        app.YouTube.Video(b, "Second", "PT2M");
        app.YouTube.SearchResults = [a, b];
        using var client = app.ApiClient();
        using var response = await client.GetAsync("/api/data/previewAdd?input=" + Uri.EscapeDataString("never gonna " + a));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("public, max-age=600, immutable, stale-while-revalidate=86400", response.Headers.CacheControl!.ToString());
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal([a, b], body["result"]!.AsArray().Select(v => v!["id"]!.GetValue<string>()));
        Assert.Equal([60.0, 120.0], body["result"]!.AsArray().Select(v => v!["length"]!.GetValue<double>()));
    }

    [Fact]
    public async Task UnknownSearchAdapterIsFeatureDisabled()
    {
        using var client = app.ApiClient();
        using var response = await client.GetAsync("/api/data/previewAdd?input=some+words&adapter=vimeo");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("FeatureDisabledException", body["error"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task PlaylistWatchUrlHighlightsItsVideo()
    {
        var (a, b, list) = (NewId(), NewId(), "PL" + NewId());
        app.YouTube.Video(a, "One", "PT1M");
        app.YouTube.Video(b, "Two", "PT2M");
        app.YouTube.Playlist(list, a, b);
        var body = await PreviewOkAsync($"https://www.youtube.com/watch?v={b}&list={list}");
        Assert.Equal([a, b], body["result"]!.AsArray().Select(v => v!["id"]!.GetValue<string>()));
        Assert.Equal(b, body["highlighted"]!["id"]!.GetValue<string>());
        Assert.True(body["highlighted"]!["highlight"]!.GetValue<bool>());
        Assert.True(body["result"]![1]!["highlight"]!.GetValue<bool>());
        Assert.Null(body["result"]![0]!["highlight"]);
    }

    [Fact]
    public async Task UpstreamFailureInPreviewIsProtocolErrorJsonNot500()
    {
        var body = await PreviewFailAsync($"https://www.youtube.com/watch?v={NewId()}");
        Assert.Equal("VideoNotFoundException", body["error"]!["name"]!.GetValue<string>());
        app.Upstream.Text("/files/broken.m3u8", "<html>nope</html>");
        Assert.Equal("M3u8ParseError", (await PreviewFailAsync(app.Upstream.Url("/files/broken.m3u8")))["error"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task BurstOfIdenticalLookupsMakesOneUpstreamCallAndIsCachedInRedis()
    {
        var id = NewId();
        app.YouTube.Video(id, "Popular", "PT30S");
        app.YouTube.Delay = TimeSpan.FromMilliseconds(300);
        try
        {
            var burst = Enumerable.Range(0, 20).Select(async _ =>
            {
                using var client = app.ApiClient();
                using var response = await client.GetAsync($"/api/data/previewAdd?input=https://youtu.be/{id}");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            });
            var media = app.Services.GetRequiredService<MediaService>();
            var direct = Enumerable.Range(0, 20).Select(_ => media.ResolveAsync(new VideoId("youtube", id), default));
            await Task.WhenAll([.. burst, .. direct]);
        }
        finally
        {
            app.YouTube.Delay = TimeSpan.Zero;
        }
        int Calls() => app.Upstream.Requests.Count(r => r.StartsWith("/yt/videos?", StringComparison.Ordinal) && r.Contains($"id={id}", StringComparison.Ordinal));
        Assert.Equal(1, Calls());

        var key = app.Services.GetRequiredService<RedisKeys>().MediaVideo("youtube", id);
        Assert.Equal($"{app.KeyPrefix}cache:video:youtube:{id}", key.ToString());
        var ttl = await app.Database.KeyTimeToLiveAsync(key);
        Assert.NotNull(ttl);
        Assert.InRange(ttl!.Value, TimeSpan.FromHours(11), TimeSpan.FromHours(12));

        // Later lookups (on any node) read Redis, not the upstream.
        await PreviewOkAsync($"https://www.youtube.com/watch?v={id}");
        Assert.Equal(1, Calls());
    }

    private async Task<JsonNode> PreviewOkAsync(string input)
    {
        using var client = app.ApiClient();
        using var response = await client.GetAsync("/api/data/previewAdd?input=" + Uri.EscapeDataString(input));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!;
    }

    private async Task<JsonNode> PreviewFailAsync(string input)
    {
        using var client = app.ApiClient();
        using var response = await client.GetAsync("/api/data/previewAdd?input=" + Uri.EscapeDataString(input));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.False(body["success"]!.GetValue<bool>());
        return body;
    }
}
