using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using StackExchange.Redis;
using Xunit.Abstractions;
using ClusterNode = Ott.Tests.Infrastructure.Cluster.ClusterNode;

namespace Ott.Tests.Faults;

// T10 of docs/architecture.md §15.3: Redis goes away with SHUTDOWN NOSAVE and comes back on the same port,
// (a) empty, (b) from its append-only file.
[Collection(FaultCollection.Name)]
public sealed class RedisRestartTests(ITestOutputHelper output)
{
    // (a) Every room is gone with no half state: owners demote on the failed renews, nobody writes
    // its memory back into the empty Redis, and the rooms' sockets, joins and REST reads all say so.
    [Fact]
    public async Task RestartWithoutPersistenceEndsTheRoomsWithoutWritingThemBack()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        cluster.Environment["Logging__LogLevel__Ott"] = "Information";
        var nodes = await cluster.StartAsync(3, ct);
        var clients = new List<OttTestClient>();
        try
        {
            await cluster.WaitForMembershipAsync(ct);
            var room = await cluster.CreateRoomAsync(nodes[0], null, temporary: false, ct);
            var owner = await cluster.WaitForOwnerAsync(room, ct);
            foreach (var node in nodes)
            {
                clients.Add(await node.JoinAsync(room, null, ct));
            }
            // An acknowledged change: the state in Redis is not just the created one.
            await clients[0].RequestAsync(Seek(12.5), ct);
            await clients[2].WaitForAsync(m => m.Action() == "sync" && m["playbackPosition"]?.GetValue<double>() == 12.5, ct: ct);
            var keys = RoomKeys(cluster, room);
            Assert.True(await cluster.Db.KeyExistsAsync(cluster.Keys.RoomState(room)));
            var runId = await RunIdAsync(cluster);

            // Watches the room's keys from the moment Redis is back until the end of the test.
            using var stopWatching = new CancellationTokenSource();
            var seen = new ConcurrentQueue<string>();
            // Each socket's close is timed as it happens, not when the test gets round to it: the
            // run id read below waits for the test's own connection to come back.
            var restarted = new Stopwatch();
            var closedAt = clients.Select(c => c.Closed.ContinueWith(_ => restarted.Elapsed, TaskScheduler.Default)).ToList();
            await cluster.Server.RestartAsync();
            restarted.Start();
            var watcher = WatchKeysAsync(cluster, keys, seen, restarted, stopWatching.Token);
            Assert.NotEqual(runId, await RunIdAsync(cluster));

            // Every socket of the room, on the owner and on the gateways, is closed with 4003.
            var codes = new List<int?>();
            foreach (var client in clients)
            {
                codes.Add((int?)await client.Closed.WaitAsync(TimeSpan.FromSeconds(30), ct));
            }
            var closedAfter = (await Task.WhenAll(closedAt)).Max();
            output.WriteLine($"every socket closed {closedAfter.TotalSeconds:F2} s after the restart, codes {string.Join(", ", codes)}");
            Assert.All(codes, code => Assert.Equal(4003, code));

            // The owner demoted: no node claims the room with a valid deadline.
            await WaitUntil.WaitUntilAsync(async () =>
            {
                foreach (var node in nodes)
                {
                    if (OwnedRooms(await node.OwnershipAsync(ct)).Any(r => string.Equals(r.Room, room, StringComparison.OrdinalIgnoreCase) && r.DeadlineValid))
                    {
                        return false;
                    }
                }
                return true;
            }, TimeSpan.FromSeconds(10), $"no node holds {room} (the owner was {owner.Name})");

            // New joins get 4002 and REST reads 404, on every node.
            foreach (var node in nodes)
            {
                Assert.Equal(4002, await JoinCloseCodeAsync(node, room, ct));
                Assert.Equal(HttpStatusCode.NotFound, (await GetRoomAsync(node, room, ct)).Status);
            }

            // Two more lease periods: any write-back from a node's memory would have happened by now.
            await Task.Delay(TimeSpan.FromSeconds(2 * 2), ct);
            await stopWatching.CancelAsync();
            await watcher;
            Assert.True(seen.IsEmpty, $"keys of the room appeared in the empty Redis: {string.Join("; ", seen)}");
            var prefix = cluster.KeyPrefix;
            var left = cluster.RedisAdmin.Keys(pattern: prefix + "*").Select(k => k.ToString())
                .Where(k => k.Contains(room, StringComparison.OrdinalIgnoreCase)).ToList();
            Assert.Empty(left);
            Assert.All(nodes, n => Assert.False(n.HasExited));
        }
        catch (Exception)
        {
            output.WriteLine(cluster.Logs());
            throw;
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    // (b) With the append-only file the state and the epoch counter survive the restart: the next
    // owner's epoch is higher than any before, no lease token comes back, and the acknowledged
    // change is in the state every node serves.
    [Fact]
    public async Task RestartWithAppendOnlyFileKeepsStateAndEpochsRising()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var ct = timeout.Token;
        var dir = Directory.CreateTempSubdirectory("ott-t10-aof-");
        try
        {
            await using var cluster = await TestCluster.CreateAsync("--appendonly", "yes", "--dir", dir.FullName);
            cluster.Environment["Logging__LogLevel__Ott"] = "Information";
            var nodes = await cluster.StartAsync(3, ct);
            var clients = new List<OttTestClient>();
            using var stopWatching = new CancellationTokenSource();
            var tokens = new ConcurrentQueue<string>();
            Task? watcher = null;
            try
            {
                await cluster.WaitForMembershipAsync(ct);
                var room = await cluster.CreateRoomAsync(nodes[0], null, temporary: false, ct);
                watcher = WatchLeaseAsync(cluster, room, tokens, stopWatching.Token);
                var before = (await cluster.LeaseOwnerAsync(room))!.Value;
                foreach (var node in nodes)
                {
                    clients.Add(await node.JoinAsync(room, null, ct));
                }
                await clients[1].RequestAsync(Seek(42.25), ct);
                await clients[2].WaitForAsync(m => m.Action() == "sync" && m["playbackPosition"]?.GetValue<double>() == 42.25, ct: ct);
                var runId = await RunIdAsync(cluster);

                // Down for longer than the lease TTL (2 s), so the lease lapses and the room must be
                // acquired again from the reloaded state.
                await cluster.Server.RestartAsync(downFor: TimeSpan.FromSeconds(2.5));
                var restarted = Stopwatch.StartNew();
                Assert.NotEqual(runId, await RunIdAsync(cluster));
                Assert.True(await cluster.Db.KeyExistsAsync(cluster.Keys.RoomState(room)), "the state did not survive the restart");
                Assert.True((long)await cluster.Db.StringGetAsync(cluster.Keys.RoomEpoch(room)) >= before.Epoch, "the epoch did not survive the restart");

                // Someone owns the room again, under a higher epoch.
                (string NodeId, long Epoch) after = default;
                await WaitUntil.WaitUntilAsync(async () =>
                {
                    after = await cluster.LeaseOwnerAsync(room) ?? default;
                    return after.Epoch > before.Epoch && cluster.FindNodeById(after.NodeId) is not null;
                }, TimeSpan.FromSeconds(30), $"the room is owned again with an epoch above {before.Epoch}");
                output.WriteLine($"owned again by {after.NodeId} at epoch {after.Epoch} (was {before.NodeId} at {before.Epoch}) {restarted.Elapsed.TotalSeconds:F2} s after the restart");

                // Every node serves the surviving state, with the acknowledged change: GET finds it,
                // and a new client's full sync has the position.
                foreach (var node in nodes)
                {
                    Assert.Equal(HttpStatusCode.OK, (await GetRoomAsync(node, room, ct)).Status);
                    await using var fresh = await node.JoinAsync(room, null, ct);
                    // JoinAsync has read up to `you`; the join's full sync came before it.
                    var full = fresh.Messages.First(m => m.Action() == "sync" && m["name"] is not null);
                    Assert.Equal(42.25, full["playbackPosition"]!.GetValue<double>());
                }

                // Clients were never told the room is gone; any socket that closed did so with a
                // migration code (1012 after a long cut, say), and the open ones are synced again.
                foreach (var client in clients)
                {
                    if (client.Closed.IsCompleted)
                    {
                        var code = (int?)await client.Closed;
                        output.WriteLine($"client {client.ClientId} closed with {code}");
                        Assert.True(code is null or < 4000, $"close code {code}");
                    }
                    else
                    {
                        var sync = await client.WaitForAsync(m => m.Action() == "sync" && m["name"] is not null && m["queue"] is not null && m["playbackPosition"]?.GetValue<double>() == 42.25, TimeSpan.FromSeconds(20), ct);
                        Assert.NotNull(sync);
                    }
                }

                // A change after the restart is acknowledged and stored under the new token.
                await using var late = await nodes[2].JoinAsync(room, null, ct);
                await late.RequestAsync(Seek(7.75), ct);
                await late.WaitForAsync(m => m.Action() == "sync" && m["playbackPosition"]?.GetValue<double>() == 7.75, ct: ct);
                var stored = (string?)await cluster.Db.StringGetAsync(cluster.Keys.RoomState(room));
                Assert.Contains("7.75", stored, StringComparison.Ordinal);

                await stopWatching.CancelAsync();
                await watcher;
                // No token was ever reused: each distinct token has its own, strictly rising epoch.
                var distinct = tokens.Distinct().ToList();
                output.WriteLine($"lease tokens seen: {string.Join(", ", distinct)}");
                var epochs = distinct.Select(t => long.Parse(t.Split('|')[1], CultureInfo.InvariantCulture)).ToList();
                Assert.True(distinct.Count >= 2, "the lease never changed hands");
                Assert.Equal(epochs.Order(), epochs);
                Assert.Equal(epochs.Count, epochs.Distinct().Count());
                Assert.Equal(before.Epoch, epochs[0]);
                Assert.True(epochs[^1] > before.Epoch);
            }
            catch (Exception)
            {
                output.WriteLine(cluster.Logs());
                throw;
            }
            finally
            {
                await stopWatching.CancelAsync();
                if (watcher is not null)
                {
                    await watcher;
                }
                foreach (var client in clients)
                {
                    await client.DisposeAsync();
                }
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static JsonObject Seek(double value) => new() { ["type"] = 4, ["value"] = value };

    private static RedisKey[] RoomKeys(TestCluster cluster, string room) =>
        [cluster.Keys.RoomState(room), cluster.Keys.RoomLease(room), cluster.Keys.RoomEpoch(room)];

    private static async Task<string> RunIdAsync(TestCluster cluster)
    {
        var info = (string)(await cluster.RedisAdmin.ExecuteAsync("INFO", "server"))!;
        return info.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("run_id:", StringComparison.Ordinal));
    }

    // Every 50 ms until cancelled: which of the keys exist (a failed read while Redis reconnects is skipped).
    private static async Task WatchKeysAsync(TestCluster cluster, RedisKey[] keys, ConcurrentQueue<string> seen, Stopwatch since, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            foreach (var key in keys)
            {
                try
                {
                    if (await cluster.Db.KeyExistsAsync(key))
                    {
                        seen.Enqueue($"{key} at {since.Elapsed.TotalSeconds:F2} s: {await cluster.Db.StringGetAsync(key)}");
                    }
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                }
            }
            try
            {
                await Task.Delay(50, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task WatchLeaseAsync(TestCluster cluster, string room, ConcurrentQueue<string> tokens, CancellationToken ct)
    {
        string? last = null;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (await cluster.LeaseTokenAsync(room) is { } token && token != last)
                {
                    tokens.Enqueue(token);
                    last = token;
                }
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
            }
            try
            {
                await Task.Delay(50, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static IEnumerable<(string Room, bool DeadlineValid, long Epoch)> OwnedRooms(JsonObject ownership) =>
        ownership["rooms"]!.AsArray().Select(r => (r!["room"]!.GetValue<string>(), r["deadlineValid"]!.GetValue<bool>(), r["epoch"]!.GetValue<long>()));

    private static async Task<(HttpStatusCode Status, JsonNode? Body)> GetRoomAsync(ClusterNode node, string room, CancellationToken ct)
    {
        using var client = node.ApiClient(await node.GrantAsync(ct));
        using var response = await client.GetAsync($"/api/room/{room}", ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        return (response.StatusCode, response.IsSuccessStatusCode ? JsonNode.Parse(text) : null);
    }

    // Opens a socket, authenticates, and returns the code the server closes it with.
    private static async Task<int?> JoinCloseCodeAsync(ClusterNode node, string room, CancellationToken ct)
    {
        var token = await node.GrantAsync(ct);
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(node.BaseAddress, $"/api/room/{room}").ToWs(), ct);
        await using var client = new OttTestClient(socket);
        await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = token }, ct);
        return await client.CloseCodeAsync(ct);
    }
}
