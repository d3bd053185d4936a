using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Cluster;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;
using static Ott.Tests.Infrastructure.Web.RoomFlow;

namespace Ott.Tests.Web;

// Issue 16 / docs/protocol.md §10: the clock-sync probe, playback anchors for the clients that probed, drift
// reports, and nothing new for a client that never probes (as OTT's does not).
public sealed class ClockSyncTests(ProbedApplication app) : IClassFixture<ProbedApplication>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(15));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task OnlyAClientThatProbedGetsAnchorsAndAnOttClientsFramesAreUnchanged()
    {
        var room = await app.CreateRoomAsync(ct: Ct);
        // The synced client probes before its auth, as the watch page does, so its join already brings an anchor.
        var token = await app.GrantAsync(Ct);
        await using var synced = await app.ConnectAsync(room, ct: Ct);
        await synced.SendAsync(new JsonObject { ["action"] = "ott-time", ["t0"] = 1234.5 }, Ct);
        var reply = await synced.WaitForAsync(m => m.Action() == "ott-time", ct: Ct);
        Assert.Equal(1234.5, reply["t0"]!.GetValue<double>());
        await synced.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = token }, Ct);
        await synced.WaitForAsync(m => m.Action() == "you", ct: Ct);
        await using var ott = await app.JoinAsync(room, ct: Ct);

        await app.AddAsync(room, ott.Token!, new JsonObject { ["url"] = Direct("anchored") }, Ct);
        await ott.SyncAsync(s => s.CurrentId() == Direct("anchored"), Ct);
        await ott.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true }, Ct);
        await ott.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 7 }, Ct);
        await ott.RequestAsync(new JsonObject { ["type"] = 16, ["speed"] = 1.5 }, Ct);
        await ott.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = false }, Ct);
        await ott.SyncAsync(s => s["isPlaying"]?.GetValue<bool>() == false, Ct);

        // The join's anchor (paused at 0, 1×) came first; the pause's carries the speed and position it stopped at.
        var anchor = await synced.WaitForAsync(
            m => m.Action() == "ott-anchor" && m["isPlaying"]!.GetValue<bool>() == false && m["speed"]!.GetValue<double>() == 1.5, ct: Ct);
        Assert.InRange(anchor["position"]!.GetValue<double>(), 7, 8);

        // The anchor is last in the pause's batch, so the synced client has every frame of the series by now.
        // The OTT-style client got not one extension frame, and every frame it got the synced client got too,
        // byte for byte (apart from the two frames that name the receiver itself).
        Assert.DoesNotContain(ott.Messages, m => m.Action()!.StartsWith("ott-", StringComparison.Ordinal));
        var shared = synced.Messages.Where(m => !m.Action()!.StartsWith("ott-", StringComparison.Ordinal)).Select(m => m.ToJsonString()).ToHashSet();
        var own = ott.Messages.Where(m => m.Action() is not ("you" or "user")).Select(m => m.ToJsonString()).ToList();
        Assert.NotEmpty(own);
        Assert.All(own, frame => Assert.Contains(frame, shared));
    }

    [Fact]
    public async Task TheProbeIsAnsweredOnTheClusterClockNotTheNodesOwn()
    {
        // The cluster clock follows the store's TIME: shift it by a reading 10 s ahead with a zero round trip
        // (which the clock prefers over its heartbeat's readings), and the answer moves with it.
        var clock = app.Services.GetRequiredService<ClusterClock>();
        var local = DateTimeOffset.UtcNow;
        clock.Sample(local.AddSeconds(10).ToUnixTimeMilliseconds(), local, local);
        var room = await app.CreateRoomAsync(ct: Ct);
        await using var client = await app.JoinAsync(room, ct: Ct);
        await client.SendAsync(new JsonObject { ["action"] = "ott-time", ["t0"] = 1 }, Ct);
        var reply = await client.WaitForAsync(m => m.Action() == "ott-time", ct: Ct);
        var t1 = reply["t1"]!.GetValue<double>();
        var expected = clock.Now.ToUnixTimeMilliseconds();
        Assert.InRange(t1, expected - 2_000, expected + 100);
        Assert.True(t1 - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > 8_000, $"t1 {t1} is not on the shifted cluster clock");
        Assert.True(reply["t2"]!.GetValue<double>() >= t1);
        // Undo the shift for the class's other tests.
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < 12; i++)
        {
            clock.Sample(now.ToUnixTimeMilliseconds(), now, now);
        }
    }

    [Fact]
    public async Task MalformedProbesAndReportsGetAClearErrorAndChangeNothing()
    {
        var room = await app.CreateRoomAsync(ct: Ct);
        await using var client = await app.JoinAsync(room, ct: Ct);
        await client.SendAsync(new JsonObject { ["action"] = "ott-time", ["t0"] = "soon" }, Ct);
        Assert.Contains("t0", (await client.ErrorAsync(Ct)).ToJsonString(), StringComparison.Ordinal);
        await client.SendAsync(new JsonObject { ["action"] = "ott-report", ["position"] = -1, ["at"] = 1, ["buffering"] = false, ["uncertainty"] = 1 }, Ct);
        Assert.Contains("position", (await client.ErrorAsync(Ct)).ToJsonString(), StringComparison.Ordinal);
        // A client that sent only bad probes is still an OTT client: no anchors.
        await app.AddAsync(room, client.Token!, new JsonObject { ["url"] = Direct("bad-probe") }, Ct);
        await client.SyncAsync(s => s.CurrentId() == Direct("bad-probe"), Ct);
        Assert.DoesNotContain(client.Messages, m => m.Action() == "ott-anchor");
    }

    [Fact]
    public async Task DriftReportsAreMeasuredAgainstTheAnchorAndSummarisedForAdmins()
    {
        var room = await app.CreateRoomAsync(ct: Ct);
        await using var client = await app.JoinAsync(room, ct: Ct);
        await client.SendAsync(new JsonObject { ["action"] = "ott-time", ["t0"] = 1 }, Ct);
        await client.WaitForAsync(m => m.Action() == "ott-time", ct: Ct);
        await app.AddAsync(room, client.Token!, new JsonObject { ["url"] = Direct("drift") }, Ct);
        await client.SyncAsync(s => s.CurrentId() == Direct("drift"), Ct);
        await client.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = false }, Ct);
        await client.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 20 }, Ct);
        var anchor = await client.WaitForAsync(m => m.Action() == "ott-anchor" && m["position"]!.GetValue<double>() == 20, ct: Ct);
        var at = anchor["at"]!.GetValue<double>() + 500;
        // Paused at 20 s: a player at 20.25 s is 250 ms ahead.
        await client.SendAsync(new JsonObject { ["action"] = "ott-report", ["position"] = 20.25, ["at"] = at, ["buffering"] = false, ["uncertainty"] = 4 }, Ct);

        using var anonymous = app.ApiClient(client.Token);
        Assert.False((await anonymous.GetAsync($"/api/room/{room}/drift", Ct)).IsSuccessStatusCode);
        using var admin = app.AdminClient();
        JsonNode? summary = null;
        await WaitUntil.WaitUntilAsync(async () =>
        {
            summary = JsonNode.Parse(await admin.GetStringAsync($"/api/room/{room}/drift", Ct));
            return summary!["viewers"]!.GetValue<int>() == 1;
        }, TimeSpan.FromSeconds(5), "the report is summarised");
        Assert.Equal(client.ClientId, summary!["worst"]!["id"]!.GetValue<string>());
        Assert.Equal(0.25, summary["worst"]!["driftSeconds"]!.GetValue<double>(), 6);
        Assert.Equal(0.0, summary["spreadSeconds"]!.GetValue<double>());
    }
}
