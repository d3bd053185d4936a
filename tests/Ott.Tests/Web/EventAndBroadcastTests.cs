using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Auth;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

// docs/protocol.md §1.3, §1.5, §1.6: events, chat, status and notify as the room's sockets see them.
public sealed class EventAndBroadcastTests(OttApplication app) : IClassFixture<OttApplication>
{
    private static async Task ConsumeThroughChatAsync(OttTestClient sender, CancellationToken ct, params OttTestClient[] receivers)
    {
        var text = "sync-point-" + Guid.NewGuid().ToString("N");
        await sender.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = text }, ct);
        foreach (var r in receivers)
        {
            await r.WaitForAsync(m => m.Action() == "chat" && m["text"]!.GetValue<string>() == text, ct: ct);
        }
    }

    private static bool IsUserUpdate(JsonObject m, string clientId) =>
        m.Action() == "user" && m["update"]!["kind"]!.GetValue<string>() == "update"
        && m["update"]!["value"]!["id"]!.GetValue<string>() == clientId;

    [Fact]
    public async Task EveryEventHasAUniqueStringId()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var ct = cts.Token;
        var room = await app.CreateRoomAsync(ct: ct);
        await using var a = await app.JoinAsync(room, ct: ct);
        var b = await app.JoinAsync(room, ct: ct);
        await ConnTestKit.AddAsync(a, ConnTestKit.VideoUrl, ct);
        await ConnTestKit.AddAsync(a, ConnTestKit.OtherUrl, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = false }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 12 }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 6, ["video"] = ConnTestKit.Direct(ConnTestKit.OtherUrl) }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 5, ["video"] = ConnTestKit.Direct(ConnTestKit.OtherUrl) }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 19, ["video"] = ConnTestKit.Direct(ConnTestKit.OtherUrl), ["update"] = new JsonObject() }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 3 }, ct);
        await a.WaitForAsync(m => m.IsEvent(3), ct: ct);
        await b.DisposeAsync();
        await a.WaitForAsync(m => m.IsEvent(1), ct: ct);

        var events = a.Messages.Where(m => m.Action() == "event").ToList();
        // 2 joins, 3 adds, 2 playbacks, seek, remove, queue-item update, skip, leave.
        Assert.Equal(12, events.Count);
        var ids = events.Select(e => e["id"]!.GetValue<string>()).ToList();
        Assert.All(ids, id => Assert.False(string.IsNullOrWhiteSpace(id)));
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task NoEventForOrderVotePromoteChatSettingsPlayNowShuffleSpeedRestoreKickOrAnUnconnectedRestCaller()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var ct = cts.Token;
        // A permanent room unloaded by an admin leaves a prevQueue, so RestoreQueue can succeed.
        var room = await app.CreateRoomAsync(permanent: true, ct: ct);
        await using (var first = await app.JoinAsync(room, ct: ct))
        {
            await ConnTestKit.AddAsync(first, "https://media.example.com/old/one.mp4", ct);
            await ConnTestKit.AddAsync(first, "https://media.example.com/old/two.mp4", ct);
            using var admin = app.AdminClient();
            using var unload = await admin.DeleteAsync($"/api/room/{room}", ct);
            Assert.Equal(200, (int)unload.StatusCode);
            Assert.Equal(4003, await first.CloseCodeAsync(ct));
        }
        await using var a = await app.JoinAsync(room, ct: ct);
        await using var b = await app.JoinAsync(room, ct: ct);
        Assert.NotNull(a.Messages[0]["prevQueue"]);
        var x = new[] { "https://media.example.com/x/1.mp4", "https://media.example.com/x/2.mp4", "https://media.example.com/x/3.mp4" };
        await a.RequestAsync(new JsonObject { ["type"] = 5, ["videos"] = new JsonArray([.. x.Select(u => (JsonNode)ConnTestKit.Direct(u))]) }, ct);
        await a.WaitForAsync(m => m.IsEvent(5), ct: ct);
        await ConsumeThroughChatAsync(a, ct, a, b);

        // Queue is now [x2, x3], x1 current.
        await a.RequestAsync(new JsonObject { ["type"] = 7, ["fromIdx"] = 0, ["toIdx"] = 1 }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 8, ["video"] = ConnTestKit.Direct(x[1]), ["add"] = true }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 9, ["targetClientId"] = b.ClientId, ["role"] = 2 }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "chat is no event" }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 13, ["settings"] = new JsonObject { ["title"] = "Retitled" } }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 14, ["video"] = ConnTestKit.Direct(x[2]) }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 15 }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 16, ["speed"] = 1.5 }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 17 }, ct);
        await a.RequestAsync(new JsonObject { ["type"] = 18, ["clientId"] = b.ClientId }, ct);
        // The REST call runs beside the socket's requests, so let those finish first.
        await ConsumeThroughChatAsync(a, ct, a);
        var restToken = await app.GrantAsync(ct);
        using (var rest = app.ApiClient(restToken))
        {
            using var added = await rest.PostAsync($"/api/room/{room}/queue",
                OttApplication.Json(ConnTestKit.Direct("https://media.example.com/rest/added.mp4")), ct);
            Assert.Equal(200, (int)added.StatusCode);
        }
        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 3 }, ct);

        foreach (var client in new[] { a, b })
        {
            var firstEvent = await client.WaitForAsync(m => m.Action() == "event", ct: ct);
            Assert.True(firstEvent.IsEvent(4), $"expected the Seek to be the first event, got {firstEvent.ToJsonString()}");
        }
        // The requests did apply (apart from the promotion and kick, which anonymous users cannot do).
        var state = app.Rooms.Loaded(room)!.State;
        Assert.Equal("Retitled", state.Title);
        Assert.Equal(x[2], state.CurrentSource!.Id);
        Assert.Equal(1.5, state.PlaybackSpeed);
        Assert.Null(state.PrevQueue);
        Assert.Contains(state.Queue, i => i.Id == "https://media.example.com/old/two.mp4");
        Assert.Contains(state.Queue, i => i.Id == "https://media.example.com/rest/added.mp4");
        var errors = a.Messages.Where(m => m.Action() == "error").Select(m => m["name"]!.GetValue<string>()).ToList();
        Assert.Equal(["PermissionDeniedException", "PermissionDeniedException"], errors);
    }

    [Fact]
    public async Task EventComesAfterItsChangeIsAppliedAndTheDeltaSyncIsTheNextFrame()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var ct = cts.Token;
        var room = await app.CreateRoomAsync(ct: ct);
        await using var a = await app.JoinAsync(room, ct: ct);
        await using var b = await app.JoinAsync(room, ct: ct);
        await ConsumeThroughChatAsync(a, ct, a, b);

        await a.RequestAsync(new JsonObject { ["type"] = 5, ["video"] = ConnTestKit.Direct(ConnTestKit.VideoUrl) }, ct);
        Assert.True((await b.NextAsync(ct)).IsEvent(5));
        Assert.Equal(ConnTestKit.VideoUrl, (await app.StoredJsonAsync(room))["currentSource"]!["id"]!.GetValue<string>());
        var addSync = await b.NextAsync(ct);
        Assert.Equal("sync", addSync.Action());
        Assert.Equal(ConnTestKit.VideoUrl, addSync["currentSource"]!["id"]!.GetValue<string>());

        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 15 }, ct);
        Assert.True((await b.NextAsync(ct)).IsEvent(4));
        Assert.Equal(15, (await app.StoredJsonAsync(room))["playbackPosition"]!.GetValue<double>());
        var seekSync = await b.NextAsync(ct);
        Assert.Equal("sync", seekSync.Action());
        Assert.Equal(15, seekSync["playbackPosition"]!.GetValue<double>());

        await a.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true }, ct);
        Assert.True((await b.NextAsync(ct)).IsEvent(2));
        Assert.True((await app.StoredJsonAsync(room))["isPlaying"]!.GetValue<bool>());
        var playSync = await b.NextAsync(ct);
        Assert.Equal("sync", playSync.Action());
        Assert.True(playSync["isPlaying"]!.GetValue<bool>());
        Assert.NotNull(playSync["playbackPosition"]);
    }

    [Fact]
    public async Task ChatIsBroadcastAsActionFromAndText()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var ct = cts.Token;
        var room = await app.CreateRoomAsync(ct: ct);
        await using var a = await app.JoinAsync(room, ct: ct);
        await using var b = await app.JoinAsync(room, ct: ct);
        await a.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "<b>hi</b> \"there\" 🎬" }, ct);
        foreach (var client in new[] { a, b })
        {
            var chat = await client.WaitForAsync(m => m.Action() == "chat", ct: ct);
            Assert.Equal(["action", "from", "text"], chat.Select(kv => kv.Key).ToList());
            Assert.Equal("<b>hi</b> \"there\" 🎬", chat["text"]!.GetValue<string>());
            var from = chat["from"]!.AsObject();
            Assert.Equal(a.ClientId, from["id"]!.GetValue<string>());
            Assert.Equal(["id", "isLoggedIn", "name", "role", "status"], from.Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList());
        }
    }

    [Fact]
    public async Task StatusBroadcastsTheUserUpdateAndAnInvalidStatusIsInvalidMessage()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var ct = cts.Token;
        var room = await app.CreateRoomAsync(ct: ct);
        await using var a = await app.JoinAsync(room, ct: ct);
        await using var b = await app.JoinAsync(room, ct: ct);
        await ConsumeThroughChatAsync(a, ct, a, b);

        foreach (var status in new[] { "ready", "buffering", "error", "none" })
        {
            await a.SendAsync(new JsonObject { ["action"] = "status", ["status"] = status }, ct);
            foreach (var client in new[] { a, b })
            {
                var update = await client.NextAsync(ct);
                Assert.True(IsUserUpdate(update, a.ClientId), update.ToJsonString());
                Assert.Equal(status, update["update"]!["value"]!["status"]!.GetValue<string>());
            }
        }

        foreach (var bad in new[] { """{"action":"status","status":"sleeping"}""", """{"action":"status","status":1}""", """{"action":"status"}""", """{"action":"status","status":"READY"}""" })
        {
            await a.SendTextAsync(bad, ct);
            var error = await a.NextAsync(ct);
            Assert.Equal("InvalidMessage", error["name"]!.GetValue<string>());
            await ConnTestKit.ChatIsNextAsync(a, ct, a, b);
        }
        Assert.Equal("none", app.Rooms.Loaded(room)!.State.Users.Single(u => u.ClientId == a.ClientId).Status);
    }

    [Fact]
    public async Task NotifyUsernameChangedRefreshesEveryConnectionOfTheTokenInEveryRoom()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var ct = cts.Token;
        var room1 = await app.CreateRoomAsync(ct: ct);
        var room2 = await app.CreateRoomAsync(ct: ct);
        var token = await app.GrantAsync(ct);
        await using var observer1 = await app.JoinAsync(room1, ct: ct);
        await using var observer2 = await app.JoinAsync(room2, ct: ct);
        await using var c1 = await app.JoinAsync(room1, token, ct);
        await using var c2 = await app.JoinAsync(room1, token, ct);
        await using var c3 = await app.JoinAsync(room2, token, ct);
        await ConsumeThroughChatAsync(observer1, ct, observer1);
        await ConsumeThroughChatAsync(observer2, ct, observer2);

        // Rename behind the rooms' backs (the store only), so only the notify can tell them.
        var name = "renamed-" + Guid.NewGuid().ToString("N")[..8];
        Assert.True(await app.Services.GetRequiredService<SessionStore>().RenameAsync(token, name, ct));
        await c3.SendAsync(new JsonObject { ["action"] = "notify", ["message"] = "usernameChanged" }, ct);

        // The two connections in room 1 may be refreshed in either order.
        bool Renamed(JsonObject m, params string[] ids) =>
            ids.Any(id => IsUserUpdate(m, id)) && m["update"]!["value"]!["name"]!.GetValue<string>() == name;
        var first = await observer1.WaitForAsync(m => Renamed(m, c1.ClientId, c2.ClientId), ct: ct);
        var firstId = first["update"]!["value"]!["id"]!.GetValue<string>();
        await observer1.WaitForAsync(m => Renamed(m, firstId == c1.ClientId ? c2.ClientId : c1.ClientId), ct: ct);
        await observer2.WaitForAsync(m => Renamed(m, c3.ClientId), ct: ct);
        Assert.All(new[] { room1, room2 }, r =>
            Assert.All(app.Rooms.Loaded(r)!.State.Users.Where(u => u.SessionKey == SessionStore.KeyOf(token)), u => Assert.Equal(name, u.Name)));
        Assert.Equal(2, app.Rooms.Loaded(room1)!.State.Users.Count(u => u.Name == name));
    }

    [Fact]
    public async Task RenameThroughApiUserThenNotifyShowsTheNewNameEverywhere()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var ct = cts.Token;
        var room1 = await app.CreateRoomAsync(ct: ct);
        var room2 = await app.CreateRoomAsync(ct: ct);
        var token = await app.GrantAsync(ct);
        await using var observer = await app.JoinAsync(room2, ct: ct);
        await using var c1 = await app.JoinAsync(room1, token, ct);
        await using var c2 = await app.JoinAsync(room2, token, ct);

        var name = "api-" + Guid.NewGuid().ToString("N")[..8];
        using (var api = app.ApiClient(token))
        {
            using var response = await api.PostAsync("/api/user", OttApplication.Json(new JsonObject { ["username"] = name }), ct);
            Assert.Equal(200, (int)response.StatusCode);
        }
        // c2 sends it, so its refreshes are done before c2's later messages are handled.
        await c2.SendAsync(new JsonObject { ["action"] = "notify", ["message"] = "usernameChanged" }, ct);

        await c1.WaitForAsync(m => IsUserUpdate(m, c1.ClientId) && m["update"]!["value"]!["name"]!.GetValue<string>() == name, ct: ct);
        await observer.WaitForAsync(m => IsUserUpdate(m, c2.ClientId) && m["update"]!["value"]!["name"]!.GetValue<string>() == name, ct: ct);
        // Other notify messages are ignored: no error and no update.
        await ConsumeThroughChatAsync(c2, ct, observer, c2);
        await c2.SendTextAsync("""{"action":"notify","message":"somethingElse"}""", ct);
        await ConnTestKit.ChatIsNextAsync(c2, ct, observer, c2);
        Assert.DoesNotContain(c2.Messages, m => m.Action() == "error");
    }
}
