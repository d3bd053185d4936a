using System.Globalization;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Web;

public sealed class SingleBasePathApplication : OttApplication
{
    public SingleBasePathApplication() => Settings["Http:BasePath"] = "/base";
}

public sealed class NestedBasePathApplication : OttApplication
{
    public NestedBasePathApplication() => Settings["Http:BasePath"] = "/base/base2";
}

// docs/protocol.md §1.1 rule 2 under a base path: the base is removed before the path rules apply.
public abstract class BasePathSocketTests(OttApplication app, string basePath)
{
    [Fact]
    public async Task TheRestApiAnswersUnderTheBasePath()
    {
        var token = await app.GrantAsync();
        var room = await app.CreateRoomAsync(token: token);
        using var http = app.ApiClient(token);
        Assert.Equal("{\"status\":\"ok\"}", await http.GetStringAsync(basePath + "/api/status"));
        var state = JsonNode.Parse(await http.GetStringAsync($"{basePath}/api/room/{room}"))!;
        Assert.Equal(room, state["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/api/room/{0}")]
    [InlineData("/api/room/{0}/")]
    [InlineData("/api/room/{0}/bar")]
    [InlineData("/api/room/{0}?reconnect=true")]
    public async Task FourthSegmentAfterTheBaseSelectsTheRoom(string template)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        var path = basePath + string.Format(CultureInfo.InvariantCulture, template, room);
        await using var client = await app.ConnectAsync(room, path, cts.Token);
        await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = await app.GrantAsync(cts.Token) }, cts.Token);
        var sync = await client.WaitForAsync(m => m.Action() == "sync", ct: cts.Token);
        Assert.Equal(room, sync["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/elsewhere")]
    [InlineData("/api/rooms/foo")]
    public async Task PathUnderTheBaseOutsideApiRoomClosesWith4001InvalidConnectionUrl(string rest)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var client = await app.ConnectAsync("", basePath + rest, cts.Token);
        Assert.Equal(4001, await client.CloseCodeAsync(cts.Token));
        Assert.Equal("Invalid connection url", client.CloseDescription);
    }

    [Fact]
    public async Task BadNameUnderTheBaseClosesWith4001InvalidRoomName()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var client = await app.ConnectAsync("", basePath + "/api/room/a.b", cts.Token);
        Assert.Equal(4001, await client.CloseCodeAsync(cts.Token));
        Assert.Equal("Invalid room name", client.CloseDescription);
    }
}

public sealed class SingleBasePathSocketTests(SingleBasePathApplication app)
    : BasePathSocketTests(app, "/base"), IClassFixture<SingleBasePathApplication>;

public sealed class NestedBasePathSocketTests(NestedBasePathApplication app)
    : BasePathSocketTests(app, "/base/base2"), IClassFixture<NestedBasePathApplication>;
