using System.Net;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Media;

/// <summary>previewAdd (docs/protocol.md §4.4) on the default configuration: no YouTube key, so no search.</summary>
public sealed class PreviewAddTests(OttApplication app) : IClassFixture<OttApplication>
{
    private async Task<(HttpStatusCode Status, JsonObject Body, HttpResponseMessage Response)> PreviewAsync(string? input)
    {
        using var client = app.ApiClient();
        var url = input is null ? "/api/data/previewAdd" : "/api/data/previewAdd?input=" + Uri.EscapeDataString(input);
        var response = await client.GetAsync(url);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject(), response);
    }

    [Fact]
    public async Task SearchTextWithoutSearchResolverIsFeatureDisabled400()
    {
        var (status, body, _) = await PreviewAsync("some words");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False(body["success"]!.GetValue<bool>());
        Assert.Equal("FeatureDisabledException", body["error"]!["name"]!.GetValue<string>());
        Assert.Equal("Sorry, this feature is disabled: Searching has been disabled by an administrator.", body["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task ShortSearchTextIsInvalidAddPreviewInput()
    {
        var (status, body, _) = await PreviewAsync("ab");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("InvalidAddPreviewInputException", body["error"]!["name"]!.GetValue<string>());
        Assert.Equal("Your search query must at least 3 characters, or supply a Youtube video, playlist, or channel link.",
            body["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task MissingInputIsBadApiArgument()
    {
        var (status, body, _) = await PreviewAsync(null);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("BadApiArgumentException", body["error"]!["name"]!.GetValue<string>());
        Assert.Equal("input", body["error"]!["arg"]!.GetValue<string>());
        Assert.Equal("missing", body["error"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task TwoMp4UrlsAndATextLineOnThreeLinesGiveTwoVideos()
    {
        // The test factories run without ffprobe, so these URLs are never fetched and carry no length.
        var (status, body, response) = await PreviewAsync("http://127.0.0.1:9/one.mp4\nsome text line\r\n  http://127.0.0.1:9/two.mp4  ");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body["success"]!.GetValue<bool>());
        var result = body["result"]!.AsArray();
        Assert.Equal(2, result.Count);
        Assert.Equal(["one", "two"], result.Select(v => v!["title"]!.GetValue<string>()));
        Assert.All(result, v => Assert.Equal("direct", v!["service"]!.GetValue<string>()));
        Assert.All(result, v => Assert.Equal("video/mp4", v!["mime"]!.GetValue<string>()));
        Assert.False(body.ContainsKey("highlighted"));
        Assert.Equal("public, max-age=3600, immutable, stale-while-revalidate=86400", response.Headers.CacheControl!.ToString());
    }

    [Fact]
    public async Task UnsupportedLineAmongSeveralIsUnsupportedService()
    {
        var (status, body, _) = await PreviewAsync("http://127.0.0.1:9/one.mp4\nhttps://example.com/page");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("UnsupportedServiceException", body["error"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task SingleUnsupportedUrlIsUnsupportedService()
    {
        var (status, body, _) = await PreviewAsync("https://example.com/clip.x");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("UnsupportedServiceException", body["error"]!["name"]!.GetValue<string>());
        Assert.StartsWith("If this is a direct link to a video file", body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task YouTubeUrlWithoutApiKeyIsAClearNotConfiguredError()
    {
        var (status, body, _) = await PreviewAsync("https://youtu.be/dQw4w9WgXcQ");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("ServiceNotConfiguredException", body["error"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task AddingAYouTubeLinkWithoutApiKeyFailsWithoutAHalfItem()
    {
        var token = await app.GrantAsync();
        var room = await app.CreateRoomAsync(token: token);
        using var client = app.ApiClient(token);
        using var response = await client.PostAsync($"/api/room/{room}/queue",
            OttApplication.Json(new JsonObject { ["url"] = "https://www.youtube.com/watch?v=dQw4w9WgXcQ" }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("ServiceNotConfiguredException", body["error"]!["name"]!.GetValue<string>());
        var state = JsonNode.Parse(await client.GetStringAsync($"/api/room/{room}"))!;
        Assert.Empty(state["queue"]!.AsArray());
    }
}
