using System.Text.Json.Nodes;
using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;
using StackExchange.Redis;

namespace Ott.Tests.Web;

// docs/protocol.md §1.1–§1.2 and the §11 "Connection and handshake" checklist, over TestServer sockets.
public sealed class ConnectionTests(OttApplication app) : IClassFixture<OttApplication>
{
    private static readonly string[] SyncKeys =
    [
        "name", "title", "description", "isTemporary", "visibility", "queueMode", "currentSource", "queue",
        "isPlaying", "playbackPosition", "playbackSpeed", "grants", "hasOwner", "voteCounts", "videoSegments",
        "autoSkipSegmentCategories", "prevQueue", "restoreQueueBehavior", "enableVoteSkip", "votesToSkip",
    ];

    private static async Task<OttTestClient> AuthAsync(OttTestClient client, string token, CancellationToken ct)
    {
        client.Token = token;
        await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = token }, ct);
        return client;
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/api/room")]
    [InlineData("/api/rooms/foo")]
    [InlineData("/foo/api/room/bar")]
    [InlineData("/API/room/foo")]
    public async Task PathOutsideApiRoomIsAcceptedThenClosedWith4001InvalidConnectionUrl(string path)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var client = await app.ConnectAsync("", path, cts.Token);
        Assert.Equal(4001, await client.CloseCodeAsync(cts.Token));
        Assert.Equal("Invalid connection url", client.CloseDescription);
        Assert.Empty(client.Messages);
    }

    [Theory]
    [InlineData("/api/room/{0}")]
    [InlineData("/api/room/{0}/")]
    [InlineData("/api/room/{0}/bar")]
    [InlineData("/api/room/{0}?reconnect=true")]
    public async Task FourthPathSegmentSelectsTheRoom(string template)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var client = await app.ConnectAsync(room, string.Format(System.Globalization.CultureInfo.InvariantCulture, template, room), cts.Token);
        await AuthAsync(client, await app.GrantAsync(cts.Token), cts.Token);
        var sync = await client.WaitForAsync(m => m.Action() == "sync", ct: cts.Token);
        Assert.Equal(room, sync["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("/api/room/")]
    [InlineData("/api/room//foo")]
    [InlineData("/api/room/a.b")]
    [InlineData("/api/room/a%20b")]
    [InlineData("/api/room/caf%C3%A9")]
    [InlineData("/api/room/a+b")]
    public async Task NameOutsideTheAlphabetOrEmptyClosesWith4001InvalidRoomName(string path)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var client = await app.ConnectAsync("", path, cts.Token);
        Assert.Equal(4001, await client.CloseCodeAsync(cts.Token));
        Assert.Equal("Invalid room name", client.CloseDescription);
    }

    [Fact]
    public async Task NothingIsSentBeforeAuth()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var other = await app.JoinAsync(room, ct: cts.Token);
        await using var client = await app.ConnectAsync(room, ct: cts.Token);
        // Room traffic while the socket waits for auth must not reach it either.
        await other.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "hi" }, cts.Token);
        await other.WaitForAsync(m => m.Action() == "chat", ct: cts.Token);
        // The error reply to a malformed frame flushes the socket: it must be the first frame.
        await client.SendTextAsync("not json", cts.Token);
        var first = await client.NextAsync(cts.Token);
        Assert.Equal("error", first.Action());
        Assert.Equal("InvalidMessage", first["name"]!.GetValue<string>());
        Assert.Single(client.Messages);
    }

    public static TheoryData<string> BadAuths => new()
    {
        """{"action":"auth"}""",
        """{"action":"auth","token":""}""",
        """{"action":"auth","token":123}""",
        """{"action":"auth","token":null}""",
        """{"action":"auth","token":["x"]}""",
        """{"action":"auth","token":"no-such-token-anywhere"}""",
    };

    [Theory]
    [MemberData(nameof(BadAuths))]
    public async Task MissingEmptyNonStringOrUnknownTokenClosesWith4004(string frame)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var client = await app.ConnectAsync(room, ct: cts.Token);
        await client.SendTextAsync(frame, cts.Token);
        Assert.Equal(4004, await client.CloseCodeAsync(cts.Token));
        Assert.Empty(client.Messages);
    }

    public static TheoryData<string> PreAuthFrames => new()
    {
        """{"action":"req","request":{"type":11,"text":"hi"}}""",
        """{"action":"req","request":{"type":2,"state":true}}""",
        """{"action":"status","status":"ready"}""",
        """{"action":"notify","message":"usernameChanged"}""",
    };

    [Theory]
    [MemberData(nameof(PreAuthFrames))]
    public async Task RequestStatusOrNotifyBeforeAuthClosesWith4004(string frame)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var client = await app.ConnectAsync(room, ct: cts.Token);
        await client.SendTextAsync(frame, cts.Token);
        Assert.Equal(4004, await client.CloseCodeAsync(cts.Token));
        Assert.Empty(client.Messages);
        Assert.False((await app.StoredJsonAsync(room))["isPlaying"]!.GetValue<bool>());
    }

    [Fact]
    public async Task UnknownRoomClosesWith4002OnlyAfterTheTokenIsChecked()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var missing = OttApplication.NewRoomName();

        await using var badToken = await app.ConnectAsync(missing, ct: cts.Token);
        await badToken.SendTextAsync("""{"action":"auth","token":"unknown"}""", cts.Token);
        Assert.Equal(4004, await badToken.CloseCodeAsync(cts.Token));

        await using var goodToken = await app.ConnectAsync(missing, ct: cts.Token);
        await AuthAsync(goodToken, await app.GrantAsync(cts.Token), cts.Token);
        Assert.Equal(4002, await goodToken.CloseCodeAsync(cts.Token));
        Assert.Empty(goodToken.Messages);
    }

    [Fact]
    public async Task JoinerReceivesFullSyncJoinEventPositionOwnUpdateInitAndYouInThatOrder()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var first = await app.JoinAsync(room, ct: cts.Token);
        await using var client = await app.JoinAsync(room, ct: cts.Token);
        var m = client.Messages;
        Assert.Equal(6, m.Count);

        Assert.Equal("sync", m[0].Action());
        Assert.Equal(["action", .. SyncKeys], m[0].Select(kv => kv.Key).ToList());

        Assert.True(m[1].IsEvent(0), m[1].ToJsonString());
        Assert.Equal(client.ClientId, m[1]["request"]!["info"]!["id"]!.GetValue<string>());
        Assert.Equal(client.ClientId, m[1]["user"]!["id"]!.GetValue<string>());
        Assert.Empty(m[1]["additional"]!.AsObject());
        Assert.False(string.IsNullOrEmpty(m[1]["id"]!.GetValue<string>()));

        Assert.Equal(["action", "playbackPosition"], m[2].Select(kv => kv.Key).ToList());
        Assert.Equal("sync", m[2].Action());

        Assert.Equal("user", m[3].Action());
        Assert.Equal("update", m[3]["update"]!["kind"]!.GetValue<string>());
        Assert.Equal(client.ClientId, m[3]["update"]!["value"]!["id"]!.GetValue<string>());

        Assert.Equal("user", m[4].Action());
        Assert.Equal("init", m[4]["update"]!["kind"]!.GetValue<string>());
        var ids = m[4]["update"]!["value"]!.AsArray().Select(u => u!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(2, ids.Count);
        Assert.Contains(client.ClientId, ids);
        Assert.Contains(first.ClientId, ids);

        Assert.Equal("you", m[5].Action());
        Assert.Equal(client.ClientId, m[5]["info"]!["id"]!.GetValue<string>());
        Assert.True(Guid.TryParse(client.ClientId, out _));
        Assert.NotEqual(first.ClientId, client.ClientId);
    }

    [Fact]
    public async Task OthersReceiveOnlyTheJoinEventPositionAndUserUpdate()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var other = await app.JoinAsync(room, ct: cts.Token);
        other.SkipReceived();
        await using var joiner = await app.JoinAsync(room, ct: cts.Token);

        var joinEvent = await other.NextAsync(cts.Token);
        Assert.True(joinEvent.IsEvent(0), joinEvent.ToJsonString());
        Assert.Equal(joiner.ClientId, joinEvent["user"]!["id"]!.GetValue<string>());
        var position = await other.NextAsync(cts.Token);
        Assert.Equal(["action", "playbackPosition"], position.Select(kv => kv.Key).ToList());
        var update = await other.NextAsync(cts.Token);
        Assert.Equal("update", update["update"]!["kind"]!.GetValue<string>());
        Assert.Equal(joiner.ClientId, update["update"]!["value"]!["id"]!.GetValue<string>());
        // No full sync, init or you for the others.
        await ConnTestKit.ChatIsNextAsync(joiner, cts.Token, other);
    }

    [Fact]
    public async Task JoinInfoIsIdAndUsernameForAnAnonymousSession()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        var token = await app.GrantAsync(cts.Token);
        using var api = app.ApiClient(token);
        var username = JsonNode.Parse(await api.GetStringAsync("/api/user", cts.Token))!["username"]!.GetValue<string>();
        await using var client = await app.JoinAsync(room, token, cts.Token);
        var info = client.Messages.Single(m => m.IsEvent(0))["request"]!["info"]!.AsObject();
        Assert.Equal(["id", "username"], info.Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList());
        Assert.Equal(client.ClientId, info["id"]!.GetValue<string>());
        Assert.Equal(username, info["username"]!.GetValue<string>());
    }

    [Fact]
    public async Task FullSyncCarriesTheLivePositionOfAPlayingRoom()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        // A real record to start from: a room with a current item.
        var template = await app.CreateRoomAsync(ct: cts.Token);
        await using (var seeder = await app.JoinAsync(template, ct: cts.Token))
        {
            await ConnTestKit.AddAsync(seeder, ConnTestKit.VideoUrl, cts.Token);
        }
        var record = await app.StoredJsonAsync(template);
        Assert.NotNull(record["currentSource"]);

        // The same record under a room that was never loaded: playing, base 20, started 10 s ago.
        var room = OttApplication.NewRoomName();
        var token = await app.GrantAsync(cts.Token);
        await using var client = await app.ConnectAsync(room, ct: cts.Token);
        var started = DateTimeOffset.UtcNow;
        record["name"] = room;
        record["isPlaying"] = true;
        record["playbackPosition"] = 20;
        record["playbackStart"] = started.AddSeconds(-10).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        await app.Database.StringSetAsync(new RedisKeys(app.KeyPrefix).RoomState(room), record.ToJsonString(), TimeSpan.FromHours(1));
        await AuthAsync(client, token, cts.Token);
        var sync = await client.WaitForAsync(m => m.Action() == "sync", ct: cts.Token);
        var elapsed = (DateTimeOffset.UtcNow - started).TotalSeconds;

        var position = sync["playbackPosition"]!.GetValue<double>();
        Assert.True(sync["isPlaying"]!.GetValue<bool>());
        // ≈ 30 ± 0.05, plus however long this test took to get the sync back.
        Assert.InRange(position, 30 - 0.05, 30 + elapsed + 0.05);
    }

    [Fact]
    public async Task UpperCasePathJoinsTheRoomAndSyncNameIsAsCreated()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var created = "MiXed" + OttApplication.NewRoomName();
        await app.CreateRoomAsync(created, ct: cts.Token);
        await using var upper = await app.ConnectAsync(created, $"/api/room/{created.ToUpperInvariant()}", cts.Token);
        await AuthAsync(upper, await app.GrantAsync(cts.Token), cts.Token);
        await upper.WaitForAsync(m => m.Action() == "you", ct: cts.Token);
        await using var lower = await app.JoinAsync(created.ToLowerInvariant(), ct: cts.Token);

        Assert.Equal(created, upper.Messages[0]["name"]!.GetValue<string>());
        Assert.Equal(created, lower.Messages[0]["name"]!.GetValue<string>());
        // Both are in one room: the second join reached the first socket.
        await upper.WaitForAsync(m => m.IsEvent(0) && m["user"]!["id"]!.GetValue<string>() == lower.ClientId, ct: cts.Token);
    }

    [Fact]
    public async Task SecondAuthGetsAlreadyAuthenticatedAndAddsNoUser()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var other = await app.JoinAsync(room, ct: cts.Token);
        await using var client = await app.JoinAsync(room, ct: cts.Token);
        await other.WaitForAsync(m => m.IsEvent(0) && m["user"]!["id"]!.GetValue<string>() == client.ClientId, ct: cts.Token);
        other.SkipReceived();
        client.SkipReceived();

        await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = client.Token }, cts.Token);
        var error = await client.NextAsync(cts.Token);
        Assert.Equal("error", error.Action());
        Assert.Equal("AlreadyAuthenticated", error["name"]!.GetValue<string>());

        await ConnTestKit.ChatIsNextAsync(client, cts.Token, client, other);
        Assert.Equal(2, app.Rooms.Loaded(room)!.State.Users.Count);
    }

    [Fact]
    public async Task RequestSentRightAfterAuthRunsAfterTheHandshake()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        var token = await app.GrantAsync(cts.Token);
        await using var client = await app.ConnectAsync(room, ct: cts.Token);
        // Both frames go out before any reply arrives.
        await client.SendTextAsync($$"""{"action":"auth","token":"{{token}}"}""", cts.Token);
        await client.SendTextAsync("""{"action":"req","request":{"type":2,"state":true}}""", cts.Token);
        await client.SendTextAsync("""{"action":"req","request":{"type":11,"text":"right after"}}""", cts.Token);
        await client.WaitForAsync(m => m.Action() == "chat", ct: cts.Token);

        var actions = client.Messages.Select(m => m.Action()).ToList();
        Assert.True(actions.IndexOf("you") < actions.IndexOf("chat"), string.Join(",", actions));
        var you = actions.IndexOf("you");
        Assert.Contains(client.Messages.Skip(you), m => m.IsEvent(2));
        Assert.DoesNotContain(client.Messages, m => m.Action() == "error");
        Assert.True(app.Rooms.Loaded(room)!.State.IsPlaying);
    }

    [Fact]
    public async Task ReconnectGetsANewClientIdJoinEventAndFullSync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var room = await app.CreateRoomAsync(ct: cts.Token);
        await using var other = await app.JoinAsync(room, ct: cts.Token);
        var token = await app.GrantAsync(cts.Token);
        var first = await app.JoinAsync(room, token, cts.Token);
        var firstId = first.ClientId;
        await first.DisposeAsync();

        await using var again = await app.ConnectAsync(room, $"/api/room/{room}?reconnect=true", cts.Token);
        await AuthAsync(again, token, cts.Token);
        var you = await again.WaitForAsync(m => m.Action() == "you", ct: cts.Token);
        var secondId = you["info"]!["id"]!.GetValue<string>();

        Assert.NotEqual(firstId, secondId);
        Assert.Equal(["action", .. SyncKeys], again.Messages[0].Select(kv => kv.Key).ToList());
        Assert.Contains(again.Messages, m => m.IsEvent(0) && m["user"]!["id"]!.GetValue<string>() == secondId);
        await other.WaitForAsync(m => m.IsEvent(0) && m["user"]!["id"]!.GetValue<string>() == secondId, ct: cts.Token);
    }
}
