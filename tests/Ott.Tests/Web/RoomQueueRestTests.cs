using System.Net;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

// The queue, vote and undo endpoints of docs/protocol.md §4.3 (§11 "REST rooms").
public sealed class RoomQueueRestTests(OttApplication app) : IClassFixture<OttApplication>, IDisposable
{
    private const string First = "https://example.com/first.mp4";
    private const string Second = "https://example.com/video.mp4";

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static JsonObject Direct(string url) => new() { ["service"] = "direct", ["id"] = url };

    [Fact]
    public async Task EditingAQueuedItemSetsRejectsAndClearsItsSubtitle()
    {
        var (name, token) = await RoomWithQueuedItemAsync();
        using var client = app.ApiClient(token);
        var url = $"/api/room/{name}/queue";

        using var vtt = await client.SendAsync(HttpMethod.Patch, url, With(Direct(Second), "https://example.com/subs.vtt"), Ct);
        await vtt.AssertSuccessAsync(Ct);
        Assert.Equal("https://example.com/subs.vtt", (await QueuedAsync(client, name))["subtitleUrl"].Str());

        using var srt = await client.SendAsync(HttpMethod.Patch, url, With(Direct(Second), "https://example.com/subs.srt"), Ct);
        await srt.AssertErrorAsync(HttpStatusCode.BadRequest, "UnsupportedSubtitleType", "Subtitle URL must end with .vtt", Ct);

        using var number = await client.SendAsync(HttpMethod.Patch, url, With(Direct(Second), 123), Ct);
        await number.AssertErrorAsync(HttpStatusCode.BadRequest, "ZodValidationError", null, Ct);
        Assert.Equal("https://example.com/subs.vtt", (await QueuedAsync(client, name))["subtitleUrl"].Str());

        using var empty = await client.SendAsync(HttpMethod.Patch, url, With(Direct(Second), ""), Ct);
        await empty.AssertSuccessAsync(Ct);
        Assert.False((await QueuedAsync(client, name)).ContainsKey("subtitleUrl"));

        // Omitting subtitleUrl clears it too.
        using var again = await client.SendAsync(HttpMethod.Patch, url, With(Direct(Second), "https://example.com/b.vtt"), Ct);
        await again.AssertSuccessAsync(Ct);
        using var omitted = await client.SendAsync(HttpMethod.Patch, url, Direct(Second), Ct);
        await omitted.AssertSuccessAsync(Ct);
        Assert.False((await QueuedAsync(client, name)).ContainsKey("subtitleUrl"));
    }

    [Fact]
    public async Task AddingWithAnEmptySubtitleUrlQueuesTheItemWithoutASubtitle()
    {
        var token = await app.GrantAsync(Ct);
        var name = await app.CreateRoomAsync(token: token, ct: Ct);
        using var client = app.ApiClient(token);
        using var first = await client.SendAsync(HttpMethod.Post, $"/api/room/{name}/queue", new JsonObject { ["url"] = First }, Ct);
        await first.AssertSuccessAsync(Ct);

        using var response = await client.SendAsync(HttpMethod.Post, $"/api/room/{name}/queue", With(Direct(Second), ""), Ct);

        await response.AssertSuccessAsync(Ct);
        var item = await QueuedAsync(client, name);
        Assert.Equal("direct", item["service"].Str());
        Assert.Equal(Second, item["id"].Str());
        Assert.Equal("video/mp4", item["mime"].Str());
        Assert.False(item.ContainsKey("subtitleUrl"), item.ToJsonString());
    }

    [Fact]
    public async Task RemovingAnItemThatIsNotQueuedIsVideoNotFound()
    {
        var (name, token) = await RoomWithQueuedItemAsync();
        using var client = app.ApiClient(token);

        // The current item does not count as queued (docs/protocol.md §6.6 Remove).
        using var current = await client.SendAsync(HttpMethod.Delete, $"/api/room/{name}/queue", Direct(First), Ct);
        using var never = await client.SendAsync(HttpMethod.Delete, $"/api/room/{name}/queue", Direct("https://example.com/never.mp4"), Ct);

        await current.AssertErrorAsync(HttpStatusCode.BadRequest, "VideoNotFoundException", "Video not found.", Ct);
        await never.AssertErrorAsync(HttpStatusCode.BadRequest, "VideoNotFoundException", "Video not found.", Ct);
        Assert.Single((await client.GetObjectAsync($"/api/room/{name}", Ct))["queue"]!.AsArray());
    }

    [Fact]
    public async Task VoteAndUndoWithoutAConnectionInTheRoomAreClientNotFound()
    {
        var (name, token) = await RoomWithQueuedItemAsync();
        await using var other = await app.JoinAsync(name, ct: Ct);
        using var client = app.ApiClient(token);
        var message = $"The server was unable to find a client in the room \"{name}\" associated with the session.";

        using var vote = await client.SendAsync(HttpMethod.Post, $"/api/room/{name}/vote", Direct(Second), Ct);
        using var unvote = await client.SendAsync(HttpMethod.Delete, $"/api/room/{name}/vote", Direct(Second), Ct);
        using var undo = await client.SendAsync(HttpMethod.Post, $"/api/room/{name}/undo",
            new JsonObject { ["data"] = new JsonObject { ["event"] = new JsonObject { ["id"] = "x" } } }, Ct);
        using var unknownRoom = await client.SendAsync(HttpMethod.Post, $"/api/room/{OttApplication.NewRoomName()}/vote", Direct(Second), Ct);

        foreach (var response in new[] { vote, unvote, undo })
        {
            var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest, "ClientNotFoundInRoomException", null, Ct);
            Assert.StartsWith(message, error["message"].Str(), StringComparison.Ordinal);
        }
        await unknownRoom.AssertErrorAsync(HttpStatusCode.BadRequest, "ClientNotFoundInRoomException", null, Ct);
    }

    [Fact]
    public async Task AddVoteAndUndoWorkWithTheRoomNamedInAnotherCase()
    {
        var token = await app.GrantAsync(Ct);
        var name = await app.CreateRoomAsync(token: token, ct: Ct);
        var upper = name.ToUpperInvariant();
        await using var socket = await app.JoinAsync(name, token, Ct);
        using var client = app.ApiClient(token);

        using var first = await client.SendAsync(HttpMethod.Post, $"/api/room/{upper}/queue", new JsonObject { ["url"] = First }, Ct);
        await first.AssertSuccessAsync(Ct);
        using var second = await client.SendAsync(HttpMethod.Post, $"/api/room/{upper}/queue", Direct(Second), Ct);
        await second.AssertSuccessAsync(Ct);
        var added = await socket.WaitForAsync(m => m.Action() == "event" && m["additional"]?["video"]?["id"]?.GetValue<string>() == Second, ct: Ct);
        Assert.Equal(socket.ClientId, added["user"]!["id"].Str());

        using var vote = await client.SendAsync(HttpMethod.Post, $"/api/room/{upper}/vote", Direct(Second), Ct);
        await vote.AssertSuccessAsync(Ct);
        var counts = await socket.WaitForAsync(m => m.Action() == "sync" && m["voteCounts"] is JsonArray { Count: > 0 }, ct: Ct);
        Assert.Equal("direct" + Second, counts["voteCounts"]![0]![0].Str());
        Assert.Equal(1, counts["voteCounts"]![0]![1]!.GetValue<int>());

        using var unvote = await client.SendAsync(HttpMethod.Delete, $"/api/room/{upper}/vote", Direct(Second), Ct);
        await unvote.AssertSuccessAsync(Ct);

        var echo = added.DeepClone().AsObject();
        echo.Remove("action");
        using var undo = await client.SendAsync(HttpMethod.Post, $"/api/room/{upper}/undo",
            new JsonObject { ["data"] = new JsonObject { ["event"] = echo } }, Ct);
        await undo.AssertSuccessAsync(Ct);
        Assert.Empty((await client.GetObjectAsync($"/api/room/{name}", Ct))["queue"]!.AsArray());
    }

    [Fact]
    public async Task AnUnsupportedUrlEndingInAOneCharacterExtensionAsksForAServiceSupportRequest()
    {
        var token = await app.GrantAsync(Ct);
        var name = await app.CreateRoomAsync(token: token, ct: Ct);
        using var client = app.ApiClient(token);
        const string url = "https://example.com/clip.x";

        using var response = await client.SendAsync(HttpMethod.Post, $"/api/room/{name}/queue", new JsonObject { ["url"] = url }, Ct);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest, "UnsupportedServiceException",
            "If this is a direct link to a video file, please open a \"service support request\" issue on github, "
            + $"so we can see if this file format works. Otherwise, \"{url}\" is not a valid URL for any supported service.", Ct);
    }

    private static JsonObject With(JsonObject video, JsonNode? subtitleUrl)
    {
        video["subtitleUrl"] = subtitleUrl;
        return video;
    }

    // A room whose current item is First and whose queue holds Second.
    private async Task<(string Name, string Token)> RoomWithQueuedItemAsync()
    {
        var token = await app.GrantAsync(Ct);
        var name = await app.CreateRoomAsync(token: token, ct: Ct);
        using var client = app.ApiClient(token);
        foreach (var url in new[] { First, Second })
        {
            using var response = await client.SendAsync(HttpMethod.Post, $"/api/room/{name}/queue", new JsonObject { ["url"] = url }, Ct);
            await response.AssertSuccessAsync(Ct);
        }
        var item = await QueuedAsync(client, name);
        Assert.Equal(Second, item["id"].Str());
        return (name, token);
    }

    private async Task<JsonObject> QueuedAsync(HttpClient client, string name) =>
        Assert.Single((await client.GetObjectAsync($"/api/room/{name}", Ct))["queue"]!.AsArray())!.AsObject();
}
