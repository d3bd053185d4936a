using System.Globalization;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;
using static Ott.Tests.Infrastructure.Web.RoomFlow;

namespace Ott.Tests.Web;

/// <summary>Empty rooms unload after a second, so idle unloads can be observed.</summary>
// docs/protocol.md §11 "Restore queue and persistence", end to end over sockets, REST and the stored record.
public sealed class RestoreQueueAndPersistenceTests(QuickUnloadApplication app) : IClassFixture<QuickUnloadApplication>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private Task WaitUnloadedAsync(string room) =>
        WaitUntil.WaitUntilAsync(() => Task.FromResult(app.Rooms.Loaded(room) is null), TimeSpan.FromSeconds(5), $"{room} unloads");

    /// <summary>A permanent room left idle with a current item at 7 and two queued items, then unloaded.</summary>
    private async Task<string> IdleUnloadedRoomAsync(string tag, int restoreQueueBehavior = 1)
    {
        var room = await app.CreateRoomAsync(permanent: true, ct: Ct);
        await using (var a = await app.JoinAsync(room, ct: Ct))
        {
            var (status, _) = await app.SendAsync(HttpMethod.Patch, $"/api/room/{room}", a.Token!,
                new JsonObject { ["restoreQueueBehavior"] = restoreQueueBehavior }, Ct);
            Assert.Equal(200, status);
            await app.AddAsync(room, a.Token!, new JsonObject
            {
                ["videos"] = new JsonArray(Video(Direct(tag + "-0")), Video(Direct(tag + "-1")), Video(Direct(tag + "-2"))),
            }, Ct);
            await a.SyncAsync(s => s.CurrentId() == Direct(tag + "-0"), Ct);
            await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 7 }, Ct);
            await a.SyncAsync(s => s.Has("playbackPosition") && s.Position() == 7, Ct);
        }
        await WaitUnloadedAsync(room);
        return room;
    }

    [Fact]
    public async Task AnIdleUnloadStoresTheCurrentItemWithItsPositionAndTheQueueAsPrevQueue()
    {
        var room = await IdleUnloadedRoomAsync("rest");

        var stored = await app.StoredAsync(room);
        var prev = stored["prevQueue"]!.AsArray();
        Assert.Equal([Direct("rest-0"), Direct("rest-1"), Direct("rest-2")], prev.Select(i => i!["id"]!.GetValue<string>()));
        Assert.Equal(7, prev[0]!["startAt"]!.GetValue<double>());
        Assert.Null(stored["currentSource"]);
        Assert.Empty(stored["queue"]!.AsArray());
    }

    [Fact]
    public async Task AnIdleUnloadWithNothingPlayingOrQueuedStoresANullPrevQueue()
    {
        var room = await app.CreateRoomAsync(permanent: true, ct: Ct);
        await (await app.JoinAsync(room, ct: Ct)).DisposeAsync();
        await WaitUnloadedAsync(room);

        Assert.Null((await app.StoredAsync(room))["prevQueue"]);
        await using var a = await app.JoinAsync(room, ct: Ct);
        Assert.Null(a.Messages[0]["prevQueue"]);
    }

    [Fact]
    public async Task RestoreQueueOverTheSocketBringsTheOldQueueBack()
    {
        var room = await IdleUnloadedRoomAsync("restore");
        await using var a = await app.JoinAsync(room, ct: Ct);
        Assert.Equal(3, a.Messages[0]["prevQueue"]!.AsArray().Count);
        Assert.Null(a.Messages[0]["currentSource"]);

        await a.RequestAsync(new JsonObject { ["type"] = 17 }, Ct);

        var restored = await a.SyncAsync(s => s.Has("prevQueue") && s["prevQueue"] is null, Ct);
        // The first restored item becomes current at once (§6.8), the rest stay queued in order.
        Assert.Equal(Direct("restore-0"), restored.CurrentId());
        Assert.True(restored.Has("playbackPosition"));
        Assert.Equal([Direct("restore-1"), Direct("restore-2")], restored.QueueIds());
    }

    [Fact]
    public async Task RestoreQueueWithDiscardLeavesTheQueueEmpty()
    {
        var room = await IdleUnloadedRoomAsync("discard");
        await using var a = await app.JoinAsync(room, ct: Ct);

        await a.RequestAsync(new JsonObject { ["type"] = 17, ["discard"] = true }, Ct);

        await a.SyncAsync(s => s.Has("prevQueue") && s["prevQueue"] is null, Ct);
        var state = app.Rooms.Loaded(room)!.State;
        Assert.Null(state.CurrentSource);
        Assert.Empty(state.Queue);
        Assert.Null(state.PrevQueue);
    }

    [Fact]
    public async Task OnLoadAlwaysRestoresThePrevQueueAndNeverDropsIt()
    {
        var always = await IdleUnloadedRoomAsync("always", restoreQueueBehavior: 2);
        var never = await IdleUnloadedRoomAsync("never", restoreQueueBehavior: 0);

        await using var a = await app.JoinAsync(always, ct: Ct);
        await using var n = await app.JoinAsync(never, ct: Ct);

        var full = a.Messages[0];
        Assert.Null(full["prevQueue"]);
        Assert.Equal(
            [Direct("always-0"), Direct("always-1"), Direct("always-2")],
            new[] { full.CurrentId()! }.Concat(full.QueueIds()));
        Assert.Null(n.Messages[0]["prevQueue"]);
        Assert.Null(n.Messages[0]["currentSource"]);
        Assert.Empty(n.Messages[0]["queue"]!.AsArray());
    }

    [Fact]
    public async Task ARoomWithAUserNeverIdlesOutWhileAnEmptyOneUnloads()
    {
        var occupied = await app.CreateRoomAsync(permanent: true, ct: Ct);
        var empty = await app.CreateRoomAsync(permanent: true, ct: Ct);
        await using var a = await app.JoinAsync(occupied, ct: Ct);
        Assert.NotNull(app.Rooms.Loaded(empty));

        await WaitUnloadedAsync(empty);
        // A second empty room, created after the first unloaded, measures another whole idle period.
        var later = await app.CreateRoomAsync(permanent: true, ct: Ct);
        await WaitUnloadedAsync(later);

        Assert.NotNull(app.Rooms.Loaded(occupied));
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, a.Socket.State);
    }

    [Fact]
    public async Task AStoredRecordRoundTripsAndThePlayheadKeepsMoving()
    {
        var room = await app.CreateRoomAsync(permanent: true, ct: Ct);
        await WaitUnloadedAsync(room);
        var stored = await app.StoredAsync(room);
        var current = new JsonObject { ["service"] = "direct", ["id"] = Direct("stored-0"), ["title"] = "stored-0", ["mime"] = "video/mp4" };
        var queued = new JsonObject { ["service"] = "direct", ["id"] = Direct("stored-1"), ["title"] = "stored-1", ["mime"] = "video/mp4" };
        stored["owner"] = new JsonObject { ["id"] = 42, ["username"] = "alice" };
        stored["userRoles"] = JsonNode.Parse("[[2,[7]],[3,[8]],[4,[]]]");
        // Role 0 asks for bit 12 (set-permissions.for-moderator), which validation must trim.
        stored["grants"] = JsonNode.Parse($"[[0,{1234 | 4096}],[1,1234],[2,1234],[3,267390975],[4,536870911],[-1,536870911]]");
        stored["currentSource"] = current.DeepClone();
        stored["queue"] = new JsonArray(queued.DeepClone());
        stored["isPlaying"] = true;
        stored["playbackPosition"] = 10;
        stored["playbackStart"] = DateTimeOffset.UtcNow.AddSeconds(-10).ToString("O", CultureInfo.InvariantCulture);
        stored["prevQueue"] = null;
        await app.Database.StringSetAsync(app.StateKey(room), stored.ToJsonString());

        await using var a = await app.JoinAsync(room, ct: Ct);

        var full = a.Messages[0];
        Assert.InRange(full.Position(), 19.5, 21);
        Assert.True(full["isPlaying"]!.GetValue<bool>());
        Assert.True(full["hasOwner"]!.GetValue<bool>());
        Assert.True(JsonNode.DeepEquals(current, full["currentSource"]), full["currentSource"]!.ToJsonString());
        Assert.True(JsonNode.DeepEquals(new JsonArray(queued.DeepClone()), full["queue"]));
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("[[0,1234],[1,1234],[2,1234],[3,267390975],[4,536870911],[-1,536870911]]"), full["grants"]),
            full["grants"]!.ToJsonString());
        Assert.False(full.Has("owner"));
        Assert.False(full.Has("userRoles"));

        // A later write keeps the private fields as they were. Mask 1234 grants skip, not seek.
        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 3 }, Ct);
        Assert.Equal("Permission denied: playback.seek", (await a.ErrorAsync(Ct))["error"]!.GetValue<string>());
        await a.RequestAsync(new JsonObject { ["type"] = 3 }, Ct);
        await a.SyncAsync(s => s.CurrentId() == Direct("stored-1"), Ct);
        var rewritten = await app.StoredAsync(room);
        Assert.True(JsonNode.DeepEquals(stored["owner"], rewritten["owner"]));
        Assert.True(JsonNode.DeepEquals(stored["userRoles"], rewritten["userRoles"]), rewritten["userRoles"]!.ToJsonString());
        Assert.Equal(1234, rewritten["grants"]![0]![1]!.GetValue<int>());
    }
}
