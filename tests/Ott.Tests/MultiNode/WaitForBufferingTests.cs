using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Cluster;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;
using static Ott.Tests.Infrastructure.Web.RoomFlow;

namespace Ott.Tests.MultiNode;

// Issue 16's bounded wait for buffering (docs/protocol.md §10): the waitForBuffering setting, and the room waiting
// after a seek for every member's "ready", at most that long. Two in-process nodes on one Redis, so a member can
// be on another node than the room's owner; ticks every 100 ms, so a due wait ends promptly.
public sealed class WaitForBufferingTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));
    private readonly List<OttApplication> _nodes = [];
    private readonly string _prefix = $"wait-{Guid.NewGuid():N}:";

    private CancellationToken Ct => _timeout.Token;

    private OttApplication A => _nodes[0];
    private OttApplication B => _nodes[1];

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 2; i++)
        {
            _nodes.Add(new OttApplication(redis, ownsRedis: false, _prefix, new Dictionary<string, string?>
            {
                ["Cluster:HeartbeatInterval"] = "00:00:00.200",
                ["Cluster:NodeTimeout"] = "00:00:01.500",
                ["Rooms:TickInterval"] = "00:00:00.100",
            }));
        }
        await Task.WhenAll(_nodes.Select(n => n.InitializeAsync()));
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(_nodes.All(n => n.Services.GetRequiredService<Membership>().LiveNodes.Count == 2)),
            TimeSpan.FromSeconds(10), "both nodes see each other");
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
    }

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public void TheSettingIsStoredAndRestoredWithTheRoom()
    {
        var state = RoomState.Create("r", isTemporary: false, DateTimeOffset.UnixEpoch) with { WaitForBuffering = 7.5 };
        Assert.Equal(7.5, state.ToStorable().FromStorable().WaitForBuffering);
        Assert.Equal(7.5, state.ToSnapshot().FromSnapshot().WaitForBuffering);
    }

    [Fact]
    public async Task WaitForBufferingIsSetOverRestAndTheSettingsRequestButNeverShownToOttClients()
    {
        var room = await A.CreateRoomAsync(ct: Ct);
        await using var client = await JoinSyncedAsync(A, room);
        var (status, _) = await A.SendAsync(HttpMethod.Patch, $"/api/room/{room}", client.Token!, new JsonObject { ["waitForBuffering"] = 5 }, Ct);
        Assert.Equal(200, status);
        Assert.Equal(5, (await A.StoredAsync(room))["waitForBuffering"]!.GetValue<double>());
        Assert.Equal(5, (await client.WaitForAsync(m => m.Action() == "ott-anchor" && Wait(m) == 5, ct: Ct))["waitForBuffering"]!.GetValue<double>());

        // Out of range or not a number: OTT's validation error, and nothing changes.
        foreach (var bad in (JsonNode[])[31, -1, "5"])
        {
            var (badStatus, body) = await A.SendAsync(HttpMethod.Patch, $"/api/room/{room}", client.Token!, new JsonObject { ["waitForBuffering"] = bad.DeepClone() }, Ct);
            Assert.Equal(400, badStatus);
            Assert.Equal("ZodValidationError", body["error"]!["name"]!.GetValue<string>());
        }
        Assert.Equal(5, (await A.StoredAsync(room))["waitForBuffering"]!.GetValue<double>());

        await client.RequestAsync(new JsonObject { ["type"] = 13, ["settings"] = new JsonObject { ["waitForBuffering"] = 30.5 } }, Ct);
        Assert.Contains("waitForBuffering", (await client.ErrorAsync(Ct)).ToJsonString(), StringComparison.Ordinal);
        await client.RequestAsync(new JsonObject { ["type"] = 13, ["settings"] = new JsonObject { ["waitForBuffering"] = 2 } }, Ct);
        await client.WaitForAsync(m => m.Action() == "ott-anchor" && Wait(m) == 2, ct: Ct);
        Assert.Equal(2, (await A.StoredAsync(room))["waitForBuffering"]!.GetValue<double>());

        // GET keeps its 13 keys, and no sync frame carries the setting.
        var (_, get) = await A.SendAsync(HttpMethod.Get, $"/api/room/{room}", client.Token!, null, Ct);
        Assert.Equal(13, get.Count);
        Assert.False(get.ContainsKey("waitForBuffering"));
        Assert.DoesNotContain(client.Messages, m => m.Action() == "sync" && m.ContainsKey("waitForBuffering"));
    }

    [Fact]
    public async Task AfterASeekTheRoomWaitsForEveryMemberToBeReadyThenPlaysForEveryone()
    {
        var (_, a, b) = await PlayingRoomAsync(waitSeconds: 20, bOnOtherNode: false);
        await using var _a = a;
        await using var _b = b;
        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 30 }, Ct);
        var held = await a.WaitForAsync(m => m.Action() == "ott-anchor" && Waiting(m).Count == 2, ct: Ct);
        Assert.False(held["isPlaying"]!.GetValue<bool>());
        Assert.Equal(30, held["position"]!.GetValue<double>());
        await b.SyncAsync(s => s["isPlaying"]?.GetValue<bool>() == false, Ct);

        await b.SendAsync(new JsonObject { ["action"] = "status", ["status"] = "buffering" }, Ct);
        await b.SendAsync(new JsonObject { ["action"] = "status", ["status"] = "ready" }, Ct);
        var one = await a.WaitForAsync(m => m.Action() == "ott-anchor" && Waiting(m).Count == 1, ct: Ct);
        Assert.Equal([a.ClientId], Waiting(one));
        Assert.False(one["isPlaying"]!.GetValue<bool>());

        await a.SendAsync(new JsonObject { ["action"] = "status", ["status"] = "ready" }, Ct);
        var resumed = await a.WaitForAsync(m => m.Action() == "ott-anchor" && m["isPlaying"]!.GetValue<bool>(), ct: Ct);
        Assert.Empty(Waiting(resumed));
        // Playing from 30 s at the instant it resumed; the anchor names that instant to the whole millisecond.
        Assert.Equal(30, resumed["position"]!.GetValue<double>(), 0.002);
        await b.SyncAsync(s => s["isPlaying"]?.GetValue<bool>() == true, Ct);
    }

    [Fact]
    public async Task AMemberThatKeepsBufferingDoesNotHoldTheRoomPastTheTimeout()
    {
        var (_, a, b) = await PlayingRoomAsync(waitSeconds: 1, bOnOtherNode: false);
        await using var _a = a;
        await using var _b = b;
        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 30 }, Ct);
        await a.WaitForAsync(m => m.Action() == "ott-anchor" && Waiting(m).Count == 2, ct: Ct);
        var held = Stopwatch.StartNew();
        await a.SendAsync(new JsonObject { ["action"] = "status", ["status"] = "ready" }, Ct);
        await b.SendAsync(new JsonObject { ["action"] = "status", ["status"] = "buffering" }, Ct);

        var resumed = await a.WaitForAsync(m => m.Action() == "ott-anchor" && m["isPlaying"]!.GetValue<bool>(), ct: Ct);
        Assert.InRange(held.Elapsed.TotalSeconds, 0.7, 5);
        Assert.Empty(Waiting(resumed));
        await b.SyncAsync(s => s["isPlaying"]?.GetValue<bool>() == true, Ct);
    }

    [Fact]
    public async Task AMemberLeavingWhileWaitedOnEndsTheWait()
    {
        var (_, a, b) = await PlayingRoomAsync(waitSeconds: 30, bOnOtherNode: false);
        await using var _a = a;
        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 30 }, Ct);
        await a.WaitForAsync(m => m.Action() == "ott-anchor" && Waiting(m).Count == 2, ct: Ct);
        await a.SendAsync(new JsonObject { ["action"] = "status", ["status"] = "ready" }, Ct);
        await a.WaitForAsync(m => m.Action() == "ott-anchor" && Waiting(m).Count == 1, ct: Ct);

        await b.DisposeAsync();
        var resumed = await a.WaitForAsync(m => m.Action() == "ott-anchor" && m["isPlaying"]!.GetValue<bool>(), ct: Ct);
        Assert.Empty(Waiting(resumed));
    }

    [Fact]
    public async Task AMemberOnAnotherNodeIsWaitedOnAndSeesTheWait()
    {
        var (_, a, b) = await PlayingRoomAsync(waitSeconds: 20, bOnOtherNode: true);
        await using var _a = a;
        await using var _b = b;
        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 30 }, Ct);
        // The anchor crosses to the other node with the room's event, to the client there that probed.
        var seen = await b.WaitForAsync(m => m.Action() == "ott-anchor" && Waiting(m).Contains(b.ClientId), ct: Ct);
        Assert.False(seen["isPlaying"]!.GetValue<bool>());
        await a.SendAsync(new JsonObject { ["action"] = "status", ["status"] = "ready" }, Ct);
        var waitingOnB = await a.WaitForAsync(m => m.Action() == "ott-anchor" && Waiting(m).Count == 1, ct: Ct);
        Assert.Equal([b.ClientId], Waiting(waitingOnB));

        await b.SendAsync(new JsonObject { ["action"] = "status", ["status"] = "ready" }, Ct);
        await a.WaitForAsync(m => m.Action() == "ott-anchor" && m["isPlaying"]!.GetValue<bool>(), ct: Ct);
        await b.WaitForAsync(m => m.Action() == "ott-anchor" && m["isPlaying"]!.GetValue<bool>(), ct: Ct);
    }

    private static double Wait(JsonObject anchor) => anchor["waitForBuffering"]!.GetValue<double>();

    private static List<string> Waiting(JsonObject anchor) => [.. anchor["waiting"]!.AsArray().Select(n => n!.GetValue<string>())];

    // A room owned by node A with the setting on, an item playing, and two clock-synced members (the second on B when asked).
    private async Task<(string Room, OttTestClient A, OttTestClient B)> PlayingRoomAsync(double waitSeconds, bool bOnOtherNode)
    {
        var room = await A.CreateRoomAsync(ct: Ct);
        Assert.NotNull(A.Rooms.Loaded(room));
        var a = await JoinSyncedAsync(A, room);
        var b = await JoinSyncedAsync(bOnOtherNode ? B : A, room);
        var (status, _) = await A.SendAsync(HttpMethod.Patch, $"/api/room/{room}", a.Token!, new JsonObject { ["waitForBuffering"] = waitSeconds }, Ct);
        Assert.Equal(200, status);
        await A.AddAsync(room, a.Token!, new JsonObject { ["url"] = Direct("held") }, Ct);
        await a.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true }, Ct);
        await a.WaitForAsync(m => m.Action() == "ott-anchor" && m["isPlaying"]!.GetValue<bool>(), ct: Ct);
        await b.WaitForAsync(m => m.Action() == "ott-anchor" && m["isPlaying"]!.GetValue<bool>(), ct: Ct);
        return (room, a, b);
    }

    private async Task<OttTestClient> JoinSyncedAsync(OttApplication node, string room)
    {
        var client = await node.JoinAsync(room, ct: Ct);
        await client.SendAsync(new JsonObject { ["action"] = "ott-time", ["t0"] = 1 }, Ct);
        await client.WaitForAsync(m => m.Action() == "ott-time", ct: Ct);
        return client;
    }
}
