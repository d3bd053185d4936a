using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using Ott.Tests.Infrastructure.Faults;
using StackExchange.Redis;
using Xunit.Abstractions;
using ClusterNode = Ott.Tests.Infrastructure.Cluster.ClusterNode;

namespace Ott.Tests.Faults;

// A Redis restart from its append-only file answers `LOADING Redis is loading the dataset in memory` until the
// data is back (docs/architecture.md §7.4, §12): a server that is restarting, not a fault of the room. Here
// the load is slowed on purpose (redis-server's hidden `key-load-delay`, microseconds per key, over a few
// thousand filler keys), so requests reach a node while Redis answers LOADING for several seconds.
[Collection(FaultCollection.Name)]
public sealed partial class RedisLoadingTests(ITestOutputHelper output)
{
    private const int FillerKeys = 5000;

    // 5000 keys × 1 ms: 5 to 6 s of LOADING, time enough for a node to reconnect and be answered LOADING.
    private const int LoadDelayMicroseconds = 1000;

    private const string NodeConnectionName = "ott-loading-node";

    [Fact]
    public async Task WhileRedisLoadsARoomRequestIsUnavailableNotAFaultAndTheRoomServesAgainAfterwards()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var ct = timeout.Token;
        var dir = Directory.CreateTempSubdirectory("ott-loading-");
        try
        {
            await using var cluster = await TestCluster.CreateAsync("--appendonly", "yes", "--dir", dir.FullName);
            // A lease long enough that the owner's deadline is still valid while Redis loads, so a request
            // reaches the owner's fenced write (deadline = renew sent + 8 s − 0.8 s, at least 6 s after the
            // restart), and short enough that the room is owned again soon after the load.
            cluster.Environment["Lease__Ttl"] = "00:00:08";
            cluster.Environment["Lease__RenewInterval"] = "00:00:01";
            // Named, so the test sees when the node's connections to the restarted server are back.
            cluster.Environment["ConnectionStrings__Redis"] = $"{cluster.Server.ConnectionString},name={NodeConnectionName}";
            var node = (await cluster.StartAsync(1, ct))[0];
            var room = await cluster.CreateRoomAsync(node, null, temporary: false, ct);
            await using var client = await node.JoinAsync(room, null, ct);
            await SeekAcknowledgedAsync(client, 12.5, ct);
            var token = await node.GrantAsync(ct);

            // Filler keys, written into the base of a rewritten AOF: the load goes through them key by key.
            await cluster.Db.ScriptEvaluateAsync("for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'filler:' .. i, string.rep('x', 64)) end",
                values: [FillerKeys]);
            await cluster.Db.ExecuteAsync("BGREWRITEAOF");
            await WaitUntil.WaitUntilAsync(async () =>
            {
                var info = await PersistenceAsync(cluster);
                return info["aof_rewrite_in_progress"] == "0" && info["aof_rewrite_scheduled"] == "0" && info["aof_last_bgrewrite_status"] == "ok";
            }, TimeSpan.FromSeconds(10), "the AOF rewrite is done");

            await cluster.Server.ShutdownAsync();
            var restarted = Stopwatch.StartNew();
            await cluster.Server.StartAgainAsync("--key-load-delay", LoadDelayMicroseconds.ToString(CultureInfo.InvariantCulture),
                "--loading-process-events-interval-bytes", "1024");
            await WaitUntil.WaitUntilAsync(async () => (await NodeConnectionsAsync(cluster)).Any(c => c.Contains(" sub=0 ", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(10), "the node is connected to the restarted server");
            Assert.Equal("1", (await PersistenceAsync(cluster))["loading"]);
            output.WriteLine($"node reconnected {restarted.Elapsed.TotalSeconds:F2} s after the restart, Redis still loading");

            // A storable change while Redis loads: the owner's fenced write gets LOADING, which is "not now".
            client.SkipReceived();
            var duringLoad = client.Messages.Count;
            await client.RequestAsync(Seek(20), ct);
            var error = await client.WaitForAsync(m => m.Action() == "error", TimeSpan.FromSeconds(10), ct);
            Assert.Equal("RoomUnavailable", error["name"]?.GetValue<string>());

            // REST while Redis loads: the session cannot be read yet, which is unavailable, not an unknown error.
            using (var api = node.ApiClient(token))
            using (var response = await api.GetAsync($"/api/room/{room}", ct))
            {
                var body = await response.Content.ReadAsStringAsync(ct);
                Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"GET during LOADING: {(int)response.StatusCode} {body}");
                Assert.Equal("RoomUnavailable", JsonNode.Parse(body)!["error"]!["name"]!.GetValue<string>());
                Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
            }
            // A socket's `auth` while Redis loads: an infrastructure failure at the handshake closes with 1013
            // (docs/protocol.md §1.2), so the client reconnects; it is not left unauthenticated with Unknown.
            await using (var joining = await AuthenticateAsync(node, room, token, ct))
            {
                var closed = await Task.WhenAny(joining.Closed, Task.Delay(TimeSpan.FromSeconds(10), ct)) == joining.Closed;
                var code = closed ? (int?)await joining.Closed : null;
                Assert.True(code == 1013, $"auth during LOADING: {(closed ? $"closed {code} {joining.CloseDescription}" : "still open")}; frames: {joining.Dump()}");
            }
            Assert.Equal("1", (await PersistenceAsync(cluster))["loading"]);
            output.WriteLine($"answered while loading, {restarted.Elapsed.TotalSeconds:F2} s after the restart");

            // The fenced write itself met LOADING (not a connection that was never there), and the actor handed
            // the room back instead of failing: no "actor failed", no Unknown. The node's console log is
            // written asynchronously, so its line may come after the answer.
            try
            {
                await WaitUntil.WaitUntilAsync(() => Task.FromResult(WriteGaveUpOnLoading().IsMatch(node.Output)),
                    TimeSpan.FromSeconds(5), "the node logs its fenced write giving up on LOADING");
            }
            catch (TimeoutException e)
            {
                Assert.Fail($"{e.Message} The node's log:\n{node.Output}");
            }
            Assert.DoesNotContain("the actor failed", node.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(client.Messages, m => m.Action() == "error" && m["name"]?.GetValue<string>() == "Unknown");

            await WaitUntil.WaitUntilAsync(async () => (await PersistenceAsync(cluster))["loading"] == "0", TimeSpan.FromSeconds(30), "Redis has loaded");
            var loaded = restarted.Elapsed;
            output.WriteLine($"loaded {loaded.TotalSeconds:F2} s after the restart");

            // The room serves again once its old lease has lapsed: the client's socket stayed open, it is
            // re-joined (a full sync), and a change is acknowledged and stored.
            await WaitUntil.WaitUntilAsync(() => Task.FromResult(FaultKit.HasFullSyncSince(client, duringLoad, room)),
                TimeSpan.FromSeconds(15), "the client is re-joined with a full sync");
            await SeekAcknowledgedAsync(client, 30, ct);
            output.WriteLine($"serving again {(restarted.Elapsed - loaded).TotalSeconds:F2} s after the load");
            Assert.False(client.Closed.IsCompleted, $"closed: {client.CloseDescription}");
            Assert.False(node.HasExited, node.Output);
            var stored = JsonNode.Parse((await cluster.Db.StringGetAsync(cluster.Keys.RoomState(room))).ToString())!;
            Assert.Equal(30, stored["playbackPosition"]!.GetValue<double>());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    // A socket that sends `auth` and does not wait for `you` (a failed handshake never sends it).
    private static async Task<OttTestClient> AuthenticateAsync(ClusterNode node, string room, string token, CancellationToken ct)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(node.BaseAddress, $"/api/room/{room}").ToWs(), ct);
        var client = new OttTestClient(socket) { Token = token };
        await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = token }, ct);
        return client;
    }

    private static JsonObject Seek(double value) => new() { ["type"] = 4, ["value"] = value };

    private static async Task SeekAcknowledgedAsync(OttTestClient client, double value, CancellationToken ct)
    {
        client.SkipReceived();
        await client.RequestAsync(Seek(value), ct);
        var answer = await client.WaitForAsync(m => (m.Action() == "sync" && m["playbackPosition"]?.GetValue<double>() == value) || m.Action() == "error",
            TimeSpan.FromSeconds(10), ct);
        Assert.True(answer.Action() == "sync", $"seek to {value}: {answer.ToJsonString()}");
    }

    // Read on a plain socket (RedisServer.RawCommandAsync): the client library drops a connection that meets
    // LOADING and reconnects, which would leave the test blind while Redis loads.
    private static async Task<Dictionary<string, string>> PersistenceAsync(TestCluster cluster)
    {
        var info = await cluster.Server.RawCommandAsync("INFO", "persistence");
        return info.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(l => l.Contains(':', StringComparison.Ordinal))
            .ToDictionary(l => l[..l.IndexOf(':', StringComparison.Ordinal)], l => l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..], StringComparer.Ordinal);
    }

    // CLIENT LIST lines of the node's connections (interactive: sub=0; subscriber: sub>0).
    private static async Task<List<string>> NodeConnectionsAsync(TestCluster cluster)
    {
        var list = await cluster.Server.RawCommandAsync("CLIENT", "LIST");
        return [.. list.Split('\n').Where(l => l.Contains($" name={NodeConnectionName} ", StringComparison.Ordinal))];
    }

    [GeneratedRegex(@"fenced write gave up\s+StackExchange\.Redis\.(RedisServerException: LOADING|RedisConnectionException: Loading on)")]
    private static partial Regex WriteGaveUpOnLoading();
}
