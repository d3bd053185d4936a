using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Web;

/// <summary>Protocol rules a review found the code breaking, each kept by a test.</summary>
public sealed class ConformanceRegressionTests(OttApplication app) : IClassFixture<OttApplication>
{
    [Fact]
    public async Task ARestBodyWithARepeatedKeyIsInvalidJsonNotAServerError()
    {
        var token = await app.GrantAsync();
        var room = await app.CreateRoomAsync(token: token);
        using var http = app.ApiClient(token);
        using var request = new HttpRequestMessage(HttpMethod.Patch, $"/api/room/{room}")
        {
            Content = new StringContent("{\"title\":\"a\",\"title\":\"b\"}", Encoding.UTF8, "application/json"),
        };
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("BadApiArgumentException", error["name"]!.GetValue<string>());
        Assert.Equal("Bad argument: body: invalid JSON", error["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task AQueueAddMatchingNoShapeJoinsTheAlternativesMessagesWithOr()
    {
        var token = await app.GrantAsync();
        var room = await app.CreateRoomAsync(token: token);
        using var http = app.ApiClient(token);
        using var response = await http.PostAsync($"/api/room/{room}/queue", OttApplication.Json(new JsonObject()));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal("ZodValidationError", error["name"]!.GetValue<string>());
        Assert.Equal(
            "Validation error: Required at \"videos\", or Required at \"service\"; Required at \"id\", or Required at \"url\"",
            error["message"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("{\"action\":\"req\",\"request\":{\"type\":99}}")]
    [InlineData("{\"action\":\"req\",\"request\":\"x\"}")]
    [InlineData("{\"action\":\"status\",\"status\":\"bogus\"}")]
    public async Task AMalformedReqOrStatusBeforeAuthClosesWith4004(string frame)
    {
        var room = await app.CreateRoomAsync();
        await using var client = await app.ConnectAsync(room);
        await client.SendTextAsync(frame);
        Assert.Equal(4004, await client.CloseCodeAsync());
        Assert.Empty(client.Messages);
    }

    [Fact]
    public async Task ARestQueueEditWithoutASubtitleEchoesAnEmptyUpdate()
    {
        var token = await app.GrantAsync();
        var room = await app.CreateRoomAsync(token: token);
        await using var client = await app.JoinAsync(room, token);
        using var http = app.ApiClient(token);
        foreach (var id in new[] { "https://example.com/first.mp4", "https://example.com/second.mp4" })
        {
            using var add = await http.PostAsync($"/api/room/{room}/queue", OttApplication.Json(new JsonObject { ["service"] = "direct", ["id"] = id }));
            Assert.Equal(HttpStatusCode.OK, add.StatusCode);
        }
        using var edit = await http.SendAsync(new HttpRequestMessage(HttpMethod.Patch, $"/api/room/{room}/queue")
        {
            Content = OttApplication.Json(new JsonObject { ["service"] = "direct", ["id"] = "https://example.com/second.mp4" }),
        });
        Assert.Equal(HttpStatusCode.OK, edit.StatusCode);
        var @event = await client.WaitForAsync(m => m.Action() == "event" && m["request"]!["type"]!.GetValue<int>() == 19);
        Assert.Equal("{}", @event["request"]!["update"]!.ToJsonString());
    }
}
