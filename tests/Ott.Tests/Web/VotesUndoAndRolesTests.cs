using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;
using static Ott.Tests.Infrastructure.Web.RoomFlow;

namespace Ott.Tests.Web;

// docs/protocol.md §11 "Votes", "Undo" and "Roles and permissions", end to end over sockets and REST.
public sealed class VotesUndoAndRolesTests(OttApplication app) : IClassFixture<OttApplication>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    /// <summary>A room with <paramref name="current"/> playing (paused) and <paramref name="queued"/> queued.</summary>
    private async Task<(string Room, OttTestClient Client)> RoomAsync(string current, params string[] queued)
    {
        var room = await app.CreateRoomAsync(ct: Ct);
        var client = await app.JoinAsync(room, ct: Ct);
        var videos = new JsonArray(Video(Direct(current)));
        foreach (var q in queued)
        {
            videos.Add(Video(Direct(q)));
        }
        await app.AddAsync(room, client.Token!, new JsonObject { ["videos"] = videos }, Ct);
        await client.SyncAsync(s => s.CurrentId() == Direct(current), Ct);
        return (room, client);
    }

    [Fact]
    public async Task RestVotesAreSyncedAsVoteCountPairsAndCanBeWithdrawn()
    {
        var (room, a) = await RoomAsync("vcur", "voted");
        await using var _ = a;

        var (status, body) = await app.SendAsync(HttpMethod.Post, $"/api/room/{room}/vote", a.Token!, Video(Direct("voted")), Ct);
        Assert.Equal(200, status);
        Assert.True(body["success"]!.GetValue<bool>());
        var counted = await a.SyncAsync(s => s.Has("voteCounts") && s["voteCounts"]!.AsArray().Count == 1, Ct);
        Assert.True(JsonNode.DeepEquals(new JsonArray(new JsonArray("direct" + Direct("voted"), 1)), counted["voteCounts"]), counted.ToJsonString());

        (status, var __) = await app.SendAsync(HttpMethod.Delete, $"/api/room/{room}/vote", a.Token!, Video(Direct("voted")), Ct);
        Assert.Equal(200, status);
        await a.SyncAsync(s => s.Has("voteCounts") && s["voteCounts"]!.AsArray().Count == 0, Ct);
        Assert.DoesNotContain(a.Messages, m => m.Action() == "event" && m["request"]!["type"]!.GetValue<int>() == 8);
    }

    [Fact]
    public async Task VoteSkipWithThreeUsersSkipsOnTheSecondVote()
    {
        var (room, a) = await RoomAsync("vs-cur", "vs-next");
        await using var _ = a;
        var (status, _) = await app.SendAsync(HttpMethod.Patch, $"/api/room/{room}", a.Token!, new JsonObject { ["enableVoteSkip"] = true }, Ct);
        Assert.Equal(200, status);
        await a.SyncAsync(s => s["enableVoteSkip"]?.GetValue<bool>() == true, Ct);
        await using var b = await app.JoinAsync(room, ct: Ct);
        await using var c = await app.JoinAsync(room, ct: Ct);

        await b.RequestAsync(new JsonObject { ["type"] = 3 }, Ct);
        var one = await a.SyncAsync(s => s.Has("votesToSkip") && s["votesToSkip"]!.AsArray().Count == 1, Ct);
        Assert.Equal(b.ClientId, one["votesToSkip"]![0]!.GetValue<string>());
        Assert.False(one.Has("currentSource"));

        await c.RequestAsync(new JsonObject { ["type"] = 3 }, Ct);
        var skip = await a.EventAsync(3, Ct);
        Assert.Equal(Direct("vs-cur"), skip["additional"]!["video"]!["id"]!.GetValue<string>());
        var skipped = await a.SyncAsync(s => s.CurrentId() == Direct("vs-next"), Ct);
        Assert.Equal(0, skipped.Position());
        Assert.Empty(skipped["votesToSkip"]!.AsArray());
    }

    [Fact]
    public async Task UndoOfAMergedSeekRunOverRestReturnsToWhereTheRunBegan()
    {
        var (room, a) = await RoomAsync("undo-seek");
        await using var _ = a;
        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 5 }, Ct);
        await a.SyncAsync(s => s.Has("playbackPosition") && s.Position() == 5, Ct);
        a.SkipReceived();

        var events = new List<JsonObject>();
        foreach (var value in new[] { 10, 20, 30 })
        {
            await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = value }, Ct);
            events.Add(await a.EventAsync(4, Ct));
        }
        Assert.Equal([5.0, 10.0, 20.0], events.Select(e => e["additional"]!["prevPosition"]!.GetValue<double>()));

        // The OTT client keeps only toast C, carrying A's prevPosition.
        var merged = events[2].DeepClone().AsObject();
        merged["additional"]!["prevPosition"] = events[0]["additional"]!["prevPosition"]!.DeepClone();
        var (status, body) = await app.SendAsync(HttpMethod.Post, $"/api/room/{room}/undo", a.Token!,
            new JsonObject { ["data"] = new JsonObject { ["event"] = merged } }, Ct);
        Assert.Equal(200, status);
        Assert.True(body["success"]!.GetValue<bool>());

        var undone = await a.EventAsync(4, Ct);
        Assert.Equal(5, undone["request"]!["value"]!.GetValue<double>());
        Assert.Equal(30, undone["additional"]!["prevPosition"]!.GetValue<double>());
        Assert.Equal(5, (await a.SyncAsync(s => s.Has("playbackPosition") && s.Position() == 5, Ct)).Position());
    }

    [Fact]
    public async Task SocketUndoOfTamperedSkipAddAndRemoveEchoesUndoesTheOriginals()
    {
        var (room, a) = await RoomAsync("t-cur", "t-next", "t-other");
        await using var _ = a;
        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 4 }, Ct);
        await a.SyncAsync(s => s.Has("playbackPosition") && s.Position() == 4, Ct);

        // Skip: the echo names another video and position; the room's record wins.
        await a.RequestAsync(new JsonObject { ["type"] = 3 }, Ct);
        var skip = await a.EventAsync(3, Ct);
        await a.SyncAsync(s => s.CurrentId() == Direct("t-next"), Ct);
        var tampered = skip.DeepClone().AsObject();
        tampered["additional"] = new JsonObject { ["video"] = Video(Direct("t-other")), ["prevPosition"] = 99 };
        await a.RequestAsync(new JsonObject { ["type"] = 12, ["event"] = tampered }, Ct);
        var back = await a.SyncAsync(s => s.CurrentId() == Direct("t-cur"), Ct);
        Assert.Equal(4, back.Position());
        Assert.Equal([Direct("t-next"), Direct("t-other")], back.QueueIds());

        // Add: the echo claims another item was added; only the added one is removed.
        await app.AddAsync(room, a.Token!, Video(Direct("t-added")), Ct);
        var add = await a.EventAsync(5, Ct);
        tampered = add.DeepClone().AsObject();
        tampered["additional"] = new JsonObject { ["video"] = Video(Direct("t-next")) };
        tampered["request"]!["video"] = Video(Direct("t-next"));
        await a.RequestAsync(new JsonObject { ["type"] = 12, ["event"] = tampered }, Ct);
        var removed = await a.EventAsync(6, Ct);
        Assert.Equal(Direct("t-added"), removed["additional"]!["video"]!["id"]!.GetValue<string>());
        Assert.Equal([Direct("t-next"), Direct("t-other")], (await a.SyncAsync(s => s.Has("queue"), Ct)).QueueIds());

        // Remove: the echo names another item and index; the original goes back where it was.
        var (status, _) = await app.SendAsync(HttpMethod.Delete, $"/api/room/{room}/queue", a.Token!, Video(Direct("t-next")), Ct);
        Assert.Equal(200, status);
        var remove = await a.EventAsync(6, Ct);
        Assert.Equal(0, remove["additional"]!["queueIdx"]!.GetValue<int>());
        await a.SyncAsync(s => s.Has("queue") && s.QueueIds().Count == 1, Ct);
        tampered = remove.DeepClone().AsObject();
        tampered["additional"] = new JsonObject { ["video"] = Video(Direct("t-other")), ["queueIdx"] = 5 };
        await a.RequestAsync(new JsonObject { ["type"] = 12, ["event"] = tampered }, Ct);
        var reinserted = await a.SyncAsync(s => s.Has("queue") && s.QueueIds().Count == 2, Ct);
        Assert.Equal([Direct("t-next"), Direct("t-other")], reinserted.QueueIds());
        Assert.DoesNotContain(a.Messages, m => m.Action() == "error");
    }

    [Fact]
    public async Task UndoOfAnUnknownEventIsABadArgumentOverSocketAndRest()
    {
        var (room, a) = await RoomAsync("unknown-undo");
        await using var _ = a;
        var ghost = new JsonObject
        {
            ["action"] = "event",
            ["request"] = new JsonObject { ["type"] = 4, ["value"] = 3 },
            ["additional"] = new JsonObject { ["prevPosition"] = 1 },
            ["id"] = "no-such-event",
        };

        await a.RequestAsync(new JsonObject { ["type"] = 12, ["event"] = ghost.DeepClone() }, Ct);
        Assert.Equal("BadApiArgumentException", (await a.ErrorAsync(Ct))["name"]!.GetValue<string>());

        var (status, body) = await app.SendAsync(HttpMethod.Post, $"/api/room/{room}/undo", a.Token!,
            new JsonObject { ["data"] = new JsonObject { ["event"] = ghost } }, Ct);
        Assert.Equal(400, status);
        Assert.Equal("BadApiArgumentException", body["error"]!["name"]!.GetValue<string>());
        Assert.Equal("event", body["error"]!["arg"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheFullSyncCarriesTheDefaultGrants()
    {
        var room = await app.CreateRoomAsync(ct: Ct);
        await using var a = await app.JoinAsync(room, ct: Ct);

        var expected = JsonNode.Parse("[[0,113250303],[1,113250303],[2,113250303],[3,267390975],[4,536870911],[-1,536870911]]");
        Assert.True(JsonNode.DeepEquals(expected, a.Messages[0]["grants"]), a.Messages[0]["grants"]!.ToJsonString());
    }

    [Fact]
    public async Task PromotionsOverTheSocketFailInProtocolOrder()
    {
        var room = await app.CreateRoomAsync(ct: Ct);
        await using var a = await app.JoinAsync(room, ct: Ct);
        await using var b = await app.JoinAsync(room, ct: Ct);

        await a.RequestAsync(new JsonObject { ["type"] = 9, ["targetClientId"] = b.ClientId, ["role"] = 1 }, Ct);
        var impossible = await a.ErrorAsync(Ct);
        Assert.Equal("ImpossiblePromotionException", impossible["name"]!.GetValue<string>());
        Assert.Equal("Can't promote/demote unregistered user", impossible["error"]!.GetValue<string>());

        await a.RequestAsync(new JsonObject { ["type"] = 9, ["targetClientId"] = b.ClientId, ["role"] = 2 }, Ct);
        var denied = await a.ErrorAsync(Ct);
        Assert.Equal("PermissionDeniedException", denied["name"]!.GetValue<string>());
        Assert.Equal("Permission denied: manage-users.promote-trusted-user", denied["error"]!.GetValue<string>());
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, a.Socket.State);
    }
}
