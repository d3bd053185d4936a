using Ott.Tests.Infrastructure;

namespace Ott.Tests.Web;

public sealed class WatchPageEndpointTests(OttApplication app) : IClassFixture<OttApplication>
{
    [Fact]
    public async Task RootServesTheHomePage()
    {
        using var client = app.ApiClient();
        using var response = await client.GetAsync("/");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Create a temporary room", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AnyRoomPathServesTheRoomPage()
    {
        using var client = app.ApiClient();
        using var response = await client.GetAsync("/room/Some-Room_1");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("/js/room.js", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task UpgradeToTheHomePagePathIsStillClosedWith4001()
    {
        // The static files come after the socket middleware, so `/` never answers an upgrade with HTML.
        await using var socket = await app.ConnectAsync("unused", path: "/");
        Assert.Equal(4001, await socket.CloseCodeAsync());
    }
}
