using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using Xunit.Abstractions;

namespace Ott.Tests.Faults;

// T8 of docs/architecture.md §15.3: a gateway that stops reading its pub/sub connection overruns Redis's
// client-output-buffer-limit and loses its subscription. It must come back as a gateway: re-sync its
// clients, re-join them to the owner (which dropped them while the gateway's heartbeats were
// missing, §9.6), and leave the owner alone.
[Collection(FaultCollection.Name)]
public sealed class SlowSubscriberTests(ITestOutputHelper output)
{
    // Node timeout 1.5 s + 2 heartbeats of 500 ms (the §15.3 fault timings), plus slack for a
    // 2-core machine that other fault tests share.
    private static readonly TimeSpan RejoinBound = TimeSpan.FromSeconds(1.5 + 2 * 0.5 + 4);

    [Fact]
    public async Task StoppedGatewayLosesItsSubscriptionThenResyncsAndRejoinsItsClients()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        cluster.Environment["Logging__LogLevel__Ott"] = "Information";
        var nodes = await cluster.StartAsync(3, ct);
        await WithLogs(cluster, () => cluster.WaitForMembershipAsync(ct));
        var (owner, gateway, other) = (nodes[0], nodes[1], nodes[2]);
        var room = await cluster.CreateRoomAsync(owner, null, temporary: true, ct);
        var key = room.ToLowerInvariant();
        var lease = await cluster.LeaseOwnerAsync(key);
        Assert.Equal(owner.NodeId, lease?.NodeId);

        var senders = new List<OttTestClient>();
        var gatewayClients = new List<OttTestClient>();
        var others = new List<OttTestClient>();
        try
        {
            // Four senders keep each socket under Connections:MessagesPerSecond (30).
            for (var i = 0; i < 4; i++)
            {
                senders.Add(await owner.JoinAsync(room, null, ct));
            }
            for (var i = 0; i < 3; i++)
            {
                gatewayClients.Add(await gateway.JoinAsync(room, null, ct));
            }
            others.Add(await other.JoinAsync(room, null, ct));
            var everyone = senders.Concat(gatewayClients).Concat(others).Select(c => c.ClientId).ToList();
            await WithLogs(cluster, () => WaitUntil.WaitUntilAsync(
                async () => (await UsersAsync(other, room, ct))?.IsSupersetOf(everyone) == true,
                TimeSpan.FromSeconds(15), "every client is in the room's user list"));

            await cluster.RedisAdmin.ExecuteAsync("CONFIG", "SET", "client-output-buffer-limit", "pubsub 256kb 128kb 5");
            var subscribersBefore = await PubSubClientIdsAsync(cluster);
            output.WriteLine($"pub/sub clients before the stop: {string.Join(", ", subscribersBefore)}");

            gateway.Stop();
            var stopped = Stopwatch.StartNew();
            var dropped = false;
            TimeSpan? droppedAt = null;
            TimeSpan? usersDroppedAt = null;
            var chats = 0;
            // 16 kB chats: the stopped gateway's socket buffers (several MB on loopback) fill first,
            // so the volume must go well past the 256 kB limit. Chat is ephemeral (no writes). The
            // gateway stays stopped for 10 s, longer only until Redis has dropped it (at most 20 s).
            var text = new string('x', 16 * 1024);
            var load = Task.WhenAll(senders.Select(sender => Task.Run(async () =>
            {
                while (stopped.Elapsed < TimeSpan.FromSeconds(10) || (!Volatile.Read(ref dropped) && stopped.Elapsed < TimeSpan.FromSeconds(20)))
                {
                    await sender.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = text }, ct);
                    Interlocked.Increment(ref chats);
                    // 25 a second each until Redis has dropped the subscription, then a trickle.
                    await Task.Delay(Volatile.Read(ref dropped) ? 200 : 40, ct);
                }
            }, ct)));
            while (!load.IsCompleted)
            {
                var now = await PubSubClientIdsAsync(cluster);
                if (droppedAt is null && subscribersBefore.Except(now).Any())
                {
                    droppedAt = stopped.Elapsed;
                    Volatile.Write(ref dropped, true);
                }
                if (usersDroppedAt is null && await UsersAsync(owner, room, ct) is { } users && !users.Overlaps(gatewayClients.Select(c => c.ClientId)))
                {
                    usersDroppedAt = stopped.Elapsed;
                }
                await Task.Delay(100, ct);
            }
            await load;
            output.WriteLine($"{chats} chats of 16 kB in {stopped.Elapsed.TotalSeconds:F1} s; subscription dropped at {droppedAt?.TotalSeconds:F2} s; owner dropped the gateway's users at {usersDroppedAt?.TotalSeconds:F2} s");
            Assert.True(droppedAt is not null, $"Redis never dropped a pub/sub client; before {string.Join(", ", subscribersBefore)}, now {string.Join(", ", await PubSubClientIdsAsync(cluster))}");
            Assert.True(usersDroppedAt is not null, "the owner never dropped the stopped gateway's users (NodeLeft)");
            foreach (var client in gatewayClients)
            {
                client.SkipReceived();
            }

            gateway.Continue();
            var resumed = Stopwatch.StartNew();

            // Every client of the gateway is in the room's user list again, on every node's view.
            var gatewayIds = gatewayClients.Select(c => c.ClientId).ToList();
            await WithLogs(cluster, () => WaitUntil.WaitUntilAsync(async () =>
            {
                foreach (var node in nodes)
                {
                    if ((await UsersAsync(node, room, ct))?.IsSupersetOf(everyone) != true)
                    {
                        return false;
                    }
                }
                return true;
            }, TimeSpan.FromSeconds(30), "every client (the gateway's too) is listed on every node"));
            var rejoined = resumed.Elapsed;
            output.WriteLine($"gateway's clients listed again {rejoined.TotalSeconds:F2} s after SIGCONT (bound {RejoinBound.TotalSeconds} s)");

            // Each of the gateway's clients got a full sync (and its user list) after the resume,
            // and kept its socket: a stall is not a migration, nor a protocol close.
            foreach (var client in gatewayClients)
            {
                var sync = await client.WaitForAsync(m => m.Action() == "sync" && m["name"] is not null && m["queue"] is not null, TimeSpan.FromSeconds(10), ct);
                Assert.Equal(room, sync["name"]!.GetValue<string>(), ignoreCase: true);
                var init = await client.WaitForAsync(m => m.Action() == "user" && m["update"]?["kind"]?.GetValue<string>() == "init", TimeSpan.FromSeconds(10), ct);
                Assert.Superset(gatewayIds.ToHashSet(), init["update"]!["value"]!.AsArray().Select(u => u!["id"]!.GetValue<string>()).ToHashSet());
                Assert.False(client.Closed.IsCompleted, $"a gateway client was closed: {client.CloseDescription}");
            }
            Assert.All(senders.Concat(others), c => Assert.False(c.Closed.IsCompleted));

            // The owner was never disturbed: same node, same epoch.
            var after = await cluster.LeaseOwnerAsync(key);
            Assert.Equal(lease, after);
            var ownership = await owner.OwnershipAsync(ct);
            var owned = ownership["rooms"]!.AsArray().SingleOrDefault(r => string.Equals(r!["room"]!.GetValue<string>(), key, StringComparison.OrdinalIgnoreCase));
            Assert.True(owned is not null, $"the owner does not list {key}: {ownership.ToJsonString()}");
            Assert.Equal(lease!.Value.Epoch, owned["epoch"]!.GetValue<long>());
            Assert.True(owned["deadlineValid"]!.GetValue<bool>());

            // The resumed gateway's subscription is back: a chat from it reaches the others, and theirs reach it.
            await gatewayClients[0].RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "back" }, ct);
            await others[0].WaitForAsync(m => m.Action() == "chat" && m["text"]?.GetValue<string>() == "back", TimeSpan.FromSeconds(10), ct);
            await senders[0].RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "welcome" }, ct);
            await gatewayClients[1].WaitForAsync(m => m.Action() == "chat" && m["text"]?.GetValue<string>() == "welcome", TimeSpan.FromSeconds(10), ct);

            Assert.True(rejoined <= RejoinBound, $"re-joined after {rejoined.TotalSeconds:F2} s, bound {RejoinBound.TotalSeconds} s\n{gateway.Output}");
        }
        catch (Exception)
        {
            output.WriteLine(cluster.Logs());
            throw;
        }
        finally
        {
            foreach (var client in senders.Concat(gatewayClients).Concat(others))
            {
                await client.DisposeAsync();
            }
        }
    }

    // The ids of GET /api/room/<name>'s users, or null when the room is not found.
    private static async Task<HashSet<string>?> UsersAsync(ClusterNode node, string room, CancellationToken ct)
    {
        using var client = node.ApiClient(await node.GrantAsync(ct));
        using var response = await client.GetAsync($"/api/room/{room}", ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        Assert.True(response.IsSuccessStatusCode, $"GET /api/room/{room} on {node.Name}: {(int)response.StatusCode} {text}");
        var body = JsonNode.Parse(text)!;
        return [.. body["users"]!.AsArray().Select(u => u!["id"]!.GetValue<string>())];
    }

    private static async Task<HashSet<string>> PubSubClientIdsAsync(TestCluster cluster)
    {
        var list = (await cluster.RedisAdmin.ExecuteAsync("CLIENT", "LIST", "TYPE", "pubsub")).ToString() ?? "";
        return [.. list.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ')[0])];
    }

    private static async Task WithLogs(TestCluster cluster, Func<Task> wait)
    {
        try
        {
            await wait();
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\n{cluster.Logs()}", e);
        }
    }
}
