using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

// docs/protocol.md §1.3, §1.4 and §1.7: input errors, domain errors and the socket limits.
public sealed class MessageErrorTests(OttApplication app) : IClassFixture<OttApplication>
{
    private static JsonObject Req(JsonObject request) => new() { ["action"] = "req", ["request"] = request };

    /// <summary>Two users in a fresh room with one current and two queued items, every frame so far consumed.</summary>
    private async Task<(string Room, OttTestClient A, OttTestClient B)> RoomWithQueueAsync(CancellationToken ct)
    {
        var room = await app.CreateRoomAsync(ct: ct);
        var a = await app.JoinAsync(room, ct: ct);
        var b = await app.JoinAsync(room, ct: ct);
        await ConnTestKit.AddAsync(a, ConnTestKit.VideoUrl, ct);
        await ConnTestKit.AddAsync(a, ConnTestKit.OtherUrl, ct);
        await ConnTestKit.AddAsync(a, "https://media.example.com/clips/third.mp4", ct);
        await b.WaitForAsync(m => m.IsEvent(5) && m["request"]!["video"]!["id"]!.GetValue<string>().EndsWith("third.mp4", StringComparison.Ordinal), ct: ct);
        // Everything the adds sent comes before this chat; consume up to it on both sockets.
        await a.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "ready" }, ct);
        await a.WaitForAsync(m => m.Action() == "chat", ct: ct);
        await b.WaitForAsync(m => m.Action() == "chat", ct: ct);
        return (room, a, b);
    }

    /// <summary>
    /// Sends <paramref name="frame"/> from A and asserts: A's next frame is the error with that name, the
    /// stored state did not change, nothing reached B, and the socket still works.
    /// </summary>
    private async Task<JsonObject> RejectedAsync(string room, OttTestClient a, OttTestClient b, Func<Task> send, string name, CancellationToken ct)
    {
        var before = await app.StoredTextAsync(room);
        await send();
        var error = await a.NextAsync(ct);
        Assert.Equal("error", error.Action());
        Assert.Equal(name, error["name"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(error["error"]!.GetValue<string>()));
        Assert.Equal(["action", "error", "name"], error.Select(kv => kv.Key).ToList());
        // The chat goes through the same room after the rejected message, so anything the rejection
        // had sent or changed would be visible by the time it arrives.
        await ConnTestKit.ChatIsNextAsync(a, ct, a, b);
        Assert.Equal(before, await app.StoredTextAsync(room));
        Assert.Equal(WebSocketState.Open, a.Socket.State);
        return error;
    }

    public static TheoryData<string> MalformedFrames => new()
    {
        "not json",
        "{\"action\":",
        "[1,2,3]",
        "\"auth\"",
        "42",
        "null",
        "{}",
        """{"token":"x"}""",
        """{"action":5}""",
        """{"action":null}""",
        """{"action":["req"]}""",
    };

    [Theory]
    [MemberData(nameof(MalformedFrames))]
    public async Task MalformedFrameIsInvalidMessageAndChangesNothing(string frame)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (room, a, b) = await RoomWithQueueAsync(cts.Token);
        await using var _ = a;
        await using var __ = b;
        await RejectedAsync(room, a, b, () => a.SendTextAsync(frame, cts.Token), "InvalidMessage", cts.Token);
    }

    [Fact]
    public async Task BinaryFrameIsInvalidMessageAndChangesNothing()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (room, a, b) = await RoomWithQueueAsync(cts.Token);
        await using var _ = a;
        await using var __ = b;
        var bytes = Encoding.UTF8.GetBytes(Req(new JsonObject { ["type"] = 2, ["state"] = true }).ToJsonString());
        await RejectedAsync(room, a, b, () => a.Socket.SendAsync(bytes, WebSocketMessageType.Binary, true, cts.Token),
            "InvalidMessage", cts.Token);
    }

    [Fact]
    public async Task UnknownActionIsUnknownAction()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (room, a, b) = await RoomWithQueueAsync(cts.Token);
        await using var _ = a;
        await using var __ = b;
        await RejectedAsync(room, a, b, () => a.SendTextAsync("""{"action":"dance","request":{"type":2,"state":true}}""", cts.Token),
            "UnknownAction", cts.Token);
        await RejectedAsync(room, a, b, () => a.SendTextAsync("""{"action":"REQ","request":{"type":2,"state":true}}""", cts.Token),
            "UnknownAction", cts.Token);
    }

    public static TheoryData<string> UnknownTypes => new()
    {
        """{"type":22}""",
        """{"type":99}""",
        """{"type":-1}""",
        """{"type":"2","state":true}""",
        """{"type":null}""",
        """{"state":true}""",
    };

    [Theory]
    [MemberData(nameof(UnknownTypes))]
    public async Task MissingOrUnknownRequestTypeIsUnknownRequestType(string request)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (room, a, b) = await RoomWithQueueAsync(cts.Token);
        await using var _ = a;
        await using var __ = b;
        await RejectedAsync(room, a, b, () => a.SendTextAsync($$"""{"action":"req","request":{{request}}}""", cts.Token),
            "UnknownRequestType", cts.Token);
    }

    public static TheoryData<string> InternalRequests => new()
    {
        """{"type":0,"info":{"id":"intruder","username":"mallory"}}""",
        """{"type":1}""",
        """{"type":10,"info":{"id":"intruder","username":"mallory"}}""",
    };

    [Theory]
    [MemberData(nameof(InternalRequests))]
    public async Task ServerInternalTypesAreRequestNotAllowedWithNoChange(string request)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (room, a, b) = await RoomWithQueueAsync(cts.Token);
        await using var _ = a;
        await using var __ = b;
        await RejectedAsync(room, a, b, () => a.SendTextAsync($$"""{"action":"req","request":{{request}}}""", cts.Token),
            "RequestNotAllowed", cts.Token);
        Assert.Equal(2, app.Rooms.Loaded(room)!.State.Users.Count);
    }

    public static TheoryData<string> MistypedRequests => new()
    {
        """{"type":2,"state":"yes"}""",
        """{"type":2}""",
        """{"type":4}""",
        """{"type":4,"value":null}""",
        """{"type":4,"value":"10"}""",
        """{"type":7,"fromIdx":"0","toIdx":1}""",
        """{"type":7,"fromIdx":0,"toIdx":0.5}""",
        """{"type":16,"speed":0}""",
        """{"type":16,"speed":-1}""",
        """{"type":9,"targetClientId":"someone","role":7}""",
        """{"type":9,"targetClientId":"someone","role":-1}""",
        """{"type":11,"text":5}""",
        """{"type":5}""",
    };

    [Theory]
    [MemberData(nameof(MistypedRequests))]
    public async Task MissingOrMistypedFieldIsInvalidMessageWithNoChange(string request)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (room, a, b) = await RoomWithQueueAsync(cts.Token);
        await using var _ = a;
        await using var __ = b;
        await RejectedAsync(room, a, b, () => a.SendTextAsync($$"""{"action":"req","request":{{request}}}""", cts.Token),
            "InvalidMessage", cts.Token);
    }

    [Fact]
    public async Task UnknownFieldsAreIgnoredAndAPlayNowOfAWholeQueueItemPlaysIt()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var a = await app.JoinAsync(room, ct: cts.Token);
        const string url = "https://media.example.com/library/whole-item.mp4";
        // What the OTT client sends: the whole queue item, top-level extras and nested extras alike.
        var video = new JsonObject
        {
            ["service"] = "direct",
            ["id"] = url,
            ["title"] = "A title the client had",
            ["description"] = "desc",
            ["thumbnail"] = "https://media.example.com/thumb.jpg",
            ["length"] = 120,
            ["mime"] = "video/mp4",
            ["highlight"] = true,
            ["startAt"] = 30,
            ["endAt"] = 90,
            ["subtitleUrl"] = "",
            ["somethingNew"] = new JsonObject { ["deep"] = true },
        };
        await a.SendAsync(new JsonObject
        {
            ["action"] = "req",
            ["clientVersion"] = "9.9",
            ["request"] = new JsonObject { ["type"] = 14, ["video"] = video, ["extra"] = 1 },
        }, cts.Token);
        var sync = await a.WaitForAsync(m => m.Action() is "sync" or "error" && (m["currentSource"] is not null || m.Action() == "error"), ct: cts.Token);
        Assert.Equal("sync", sync.Action());
        var current = sync["currentSource"]!;
        Assert.Equal(url, current["id"]!.GetValue<string>());
        Assert.Null(current["startAt"]);
        Assert.Null(current["endAt"]);
        Assert.Null(current["subtitleUrl"]);
        Assert.Equal(0, sync["playbackPosition"]!.GetValue<double>());

        // A top-level extra on a chat is ignored too.
        await a.SendTextAsync("""{"action":"req","x":[1],"request":{"type":11,"text":"hello","y":{"z":null}}}""", cts.Token);
        await a.WaitForAsync(m => m.Action() == "chat", ct: cts.Token);
        Assert.DoesNotContain(a.Messages, m => m.Action() == "error");
    }

    [Fact]
    public async Task PermissionFailureIsPermissionDeniedAndTheSocketStaysOpen()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (room, a, b) = await RoomWithQueueAsync(cts.Token);
        await using var _ = a;
        await using var __ = b;
        // Take chat (bit 7) away from role 0.
        using (var admin = app.AdminClient())
        {
            var body = new JsonObject { ["grants"] = new JsonArray(new JsonArray(0, 113250303 & ~128)) };
            using var response = await admin.PatchAsync($"/api/room/{room}", OttApplication.Json(body), cts.Token);
            Assert.Equal(200, (int)response.StatusCode);
        }
        await a.WaitForAsync(m => m.Action() == "sync" && m["grants"] is not null, ct: cts.Token);
        await b.WaitForAsync(m => m.Action() == "sync" && m["grants"] is not null, ct: cts.Token);
        var before = await app.StoredTextAsync(room);

        await a.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "denied" }, cts.Token);
        var error = await a.NextAsync(cts.Token);
        Assert.Equal("PermissionDeniedException", error["name"]!.GetValue<string>());
        Assert.Equal("Permission denied: chat", error["error"]!.GetValue<string>());

        // Still open: an allowed request goes through, and it is the next thing either socket sees.
        await a.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true }, cts.Token);
        Assert.True((await a.NextAsync(cts.Token)).IsEvent(2));
        Assert.True((await b.NextAsync(cts.Token)).IsEvent(2));
        Assert.NotEqual(before, await app.StoredTextAsync(room));
    }

    [Fact]
    public async Task DomainErrorsUseTheCatalogueNamesAndMessages()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (room, a, b) = await RoomWithQueueAsync(cts.Token);
        await using var _ = a;
        await using var __ = b;
        var ct = cts.Token;

        var queued = await RejectedAsync(room, a, b, () => a.RequestAsync(new JsonObject { ["type"] = 5, ["video"] = ConnTestKit.Direct(ConnTestKit.OtherUrl) }, ct),
            "VideoAlreadyQueuedException", ct);
        Assert.Equal("Video(s) are already in the queue", queued["error"]!.GetValue<string>());

        var current = await RejectedAsync(room, a, b, () => a.RequestAsync(new JsonObject { ["type"] = 5, ["video"] = ConnTestKit.Direct(ConnTestKit.VideoUrl) }, ct),
            "VideoAlreadyQueuedException", ct);
        Assert.Equal("Video(s) are already in the queue", current["error"]!.GetValue<string>());

        var notFound = await RejectedAsync(room, a, b, () => a.RequestAsync(new JsonObject { ["type"] = 6, ["video"] = ConnTestKit.Direct("https://media.example.com/nope.mp4") }, ct),
            "VideoNotFoundException", ct);
        Assert.Equal("Video not found.", notFound["error"]!.GetValue<string>());

        var promotion = await RejectedAsync(room, a, b, () => a.RequestAsync(new JsonObject { ["type"] = 9, ["targetClientId"] = b.ClientId, ["role"] = 1 }, ct),
            "ImpossiblePromotionException", ct);
        Assert.Equal("Can't promote/demote unregistered user", promotion["error"]!.GetValue<string>());

        var subtitle = new JsonObject { ["service"] = "direct", ["id"] = "https://media.example.com/sub.mp4", ["subtitleUrl"] = "https://media.example.com/sub.srt" };
        var badSubtitle = await RejectedAsync(room, a, b, () => a.RequestAsync(new JsonObject { ["type"] = 5, ["video"] = subtitle }, ct),
            "UnsupportedSubtitleType", ct);
        Assert.Equal("Subtitle URL must end with .vtt", badSubtitle["error"]!.GetValue<string>());

        var unsupported = await RejectedAsync(room, a, b, () => a.RequestAsync(new JsonObject { ["type"] = 5, ["url"] = "https://example.com/page" }, ct),
            "UnsupportedServiceException", ct);
        Assert.Equal("\"https://example.com/page\" is not a valid URL for any supported service.", unsupported["error"]!.GetValue<string>());

        var denied = await RejectedAsync(room, a, b, () => a.RequestAsync(new JsonObject { ["type"] = 18, ["clientId"] = b.ClientId }, ct),
            "PermissionDeniedException", ct);
        Assert.Equal("Permission denied: manage-users.kick", denied["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task OutOfRangeOrderAndRestoreQueueWithNothingToRestoreAreBadApiArgument()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (room, a, b) = await RoomWithQueueAsync(cts.Token);
        await using var _ = a;
        await using var __ = b;
        var ct = cts.Token;
        foreach (var (from, to) in new[] { (0, 2), (2, 0), (-1, 0), (0, -1), (5, 5) })
        {
            var error = await RejectedAsync(room, a, b, () => a.RequestAsync(new JsonObject { ["type"] = 7, ["fromIdx"] = from, ["toIdx"] = to }, ct),
                "BadApiArgumentException", ct);
            Assert.StartsWith("Bad argument: ", error["error"]!.GetValue<string>(), StringComparison.Ordinal);
        }
        var restore = await RejectedAsync(room, a, b, () => a.RequestAsync(new JsonObject { ["type"] = 17 }, ct), "BadApiArgumentException", ct);
        Assert.Equal("Bad argument: prevQueue: No previous queue to restore", restore["error"]!.GetValue<string>());
    }

    private static string ChatOfSize(int bytes)
    {
        const string prefix = "{\"action\":\"req\",\"request\":{\"type\":11,\"text\":\"";
        const string suffix = "\"}}";
        return prefix + new string('x', bytes - prefix.Length - suffix.Length) + suffix;
    }

    [Fact]
    public async Task MessageOf64KiBIsAcceptedAndOneByteMoreClosesWith1009()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var a = await app.JoinAsync(room, ct: cts.Token);

        var limit = ChatOfSize(65536);
        Assert.Equal(65536, Encoding.UTF8.GetByteCount(limit));
        await a.SendTextAsync(limit, cts.Token);
        await a.WaitForAsync(m => m.Action() == "chat", ct: cts.Token);

        await a.SendTextAsync(ChatOfSize(65537), cts.Token);
        Assert.Equal(1009, await a.CloseCodeAsync(cts.Token));
    }

    [Fact]
    public async Task FragmentsCountTogetherTowardThe64KiBLimit()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var a = await app.JoinAsync(room, ct: cts.Token);
        var bytes = Encoding.UTF8.GetBytes(ChatOfSize(65537));
        await a.Socket.SendAsync(bytes.AsMemory(0, 40000), WebSocketMessageType.Text, false, cts.Token);
        await a.Socket.SendAsync(bytes.AsMemory(40000), WebSocketMessageType.Text, true, cts.Token);
        Assert.Equal(1009, await a.CloseCodeAsync(cts.Token));
    }

    [Fact]
    public async Task TwentyInputErrorsAreFineDomainErrorsDoNotCountAndTheTwentyFirstClosesWith1008()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var (_, a, b) = await RoomWithQueueAsync(cts.Token);
        await using var _a = a;
        await using var _b = b;
        var ct = cts.Token;
        for (var i = 0; i < 20; i++)
        {
            await a.SendTextAsync(i % 2 == 0 ? "not json" : """{"action":"nope"}""", ct);
        }
        for (var i = 0; i < 20; i++)
        {
            await a.ErrorAsync(ct);
        }
        // Domain errors (here already queued, not found, permission denied) never count.
        for (var i = 0; i < 10; i++)
        {
            await a.RequestAsync(new JsonObject { ["type"] = 6, ["video"] = ConnTestKit.Direct("https://media.example.com/none.mp4") }, ct);
            await a.RequestAsync(new JsonObject { ["type"] = 5, ["video"] = ConnTestKit.Direct(ConnTestKit.OtherUrl) }, ct);
            await a.RequestAsync(new JsonObject { ["type"] = 18, ["clientId"] = b.ClientId }, ct);
        }
        for (var i = 0; i < 30; i++)
        {
            var error = await a.ErrorAsync(ct);
            Assert.NotEqual("InvalidMessage", error["name"]!.GetValue<string>());
        }
        await ConnTestKit.ChatIsNextAsync(a, ct, a, b);
        Assert.Equal(WebSocketState.Open, a.Socket.State);

        await a.SendTextAsync("{}", ct);
        Assert.Equal(1008, await a.CloseCodeAsync(ct));
    }

    [Fact]
    public async Task InputErrorsBeforeAuthCountTowardTheSameLimit()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var a = await app.ConnectAsync(room, ct: cts.Token);
        for (var i = 0; i < 20; i++)
        {
            await a.SendTextAsync("[]", cts.Token);
        }
        for (var i = 0; i < 20; i++)
        {
            await a.ErrorAsync(cts.Token);
        }
        Assert.Equal(WebSocketState.Open, a.Socket.State);
        await a.SendTextAsync("[]", cts.Token);
        Assert.Equal(1008, await a.CloseCodeAsync(cts.Token));
    }

    public static TheoryData<string, int> KickMes => new()
    {
        { """{"action":"kickme"}""", 4000 },
        { """{"action":"kickme","reason":1000}""", 1000 },
        { """{"action":"kickme","reason":3000}""", 3000 },
        { """{"action":"kickme","reason":4321}""", 4321 },
        { """{"action":"kickme","reason":4999}""", 4999 },
        { """{"action":"kickme","reason":1001}""", 4000 },
        { """{"action":"kickme","reason":2999}""", 4000 },
        { """{"action":"kickme","reason":5000}""", 4000 },
        { """{"action":"kickme","reason":"4100"}""", 4000 },
    };

    [Theory]
    [MemberData(nameof(KickMes))]
    public async Task KickMeClosesWithTheReasonOr4000(string frame, int code)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var other = await app.JoinAsync(room, ct: cts.Token);
        await using var a = await app.JoinAsync(room, ct: cts.Token);
        await a.SendTextAsync(frame, cts.Token);
        Assert.Equal(code, await a.CloseCodeAsync(cts.Token));
        // The normal disconnect follows.
        await other.WaitForAsync(m => m.Action() == "user" && m["update"]!["kind"]!.GetValue<string>() == "remove"
            && m["update"]!["value"]!.GetValue<string>() == a.ClientId, ct: cts.Token);
    }

    [Fact]
    public async Task KickMeWorksBeforeAuth()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var a = await app.ConnectAsync(room, ct: cts.Token);
        await a.SendTextAsync("""{"action":"kickme","reason":4100}""", cts.Token);
        Assert.Equal(4100, await a.CloseCodeAsync(cts.Token));
    }
}
