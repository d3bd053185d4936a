using System.Net;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using Ott.Tests.Infrastructure.Faults;

namespace Ott.Tests.Faults;

// docs/architecture.md §15.3 (last line), §7.6: a stored record that cannot be read fails its activation
// cleanly: the lease is released, the record is left for an operator, and the node stays up.
[Collection(FaultCollection.Name)]
public sealed class CorruptStateTests
{
    [Fact]
    public async Task CorruptStateFailsActivationCleanlyWhileEveryNodeStaysUp()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        var nodes = await cluster.StartAsync(3, ct);
        await FaultKit.WithLogsAsync(cluster, () => cluster.WaitForMembershipAsync(ct));
        var room = TestCluster.NewRoomName();
        const string Corrupt = "{\"v\":1,\"name\":\"half a record";
        await cluster.Db.StringSetAsync(cluster.Keys.RoomState(room), Corrupt);

        await FaultKit.WithLogsAsync(cluster, async () =>
        {
            // Through every node: the activation runs on the room's HRW node, which may be another one.
            foreach (var node in nodes)
            {
                var client = await JoinUnauthenticatedAsync(node, room, ct);
                await using (client)
                {
                    Assert.Equal(1011, await client.CloseCodeAsync(ct));
                }

                using var api = node.ApiClient(await node.GrantAsync(ct));
                using var response = await api.GetAsync($"/api/room/{room}", ct);
                var text = await response.Content.ReadAsStringAsync(ct);
                var body = JsonNode.Parse(text)!;
                Assert.True(response.StatusCode == HttpStatusCode.InternalServerError, $"GET through {node.Name}: {(int)response.StatusCode} {text}");
                Assert.False(body["success"]!.GetValue<bool>());
                Assert.Equal("Unknown", body["error"]!["name"]!.GetValue<string>());
                Assert.Equal("An unknown error occurred. Try again later.", body["error"]!["message"]!.GetValue<string>());
            }
        });

        // The record is left as it was, no lease is left behind, and every node is alive and serving.
        Assert.Equal(Corrupt, (await cluster.Db.StringGetAsync(cluster.Keys.RoomState(room))).ToString());
        Assert.Null(await cluster.LeaseTokenAsync(room));
        foreach (var node in nodes)
        {
            Assert.False(node.HasExited, $"{node} exited:\n{node.Output}");
            using var api = node.ApiClient();
            using var live = await api.GetAsync("/health/live", ct);
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }
        Assert.Contains(nodes, n => n.Output.Contains("stored state is unreadable", StringComparison.Ordinal));
        var healthy = await cluster.CreateRoomAsync(nodes[1], null, temporary: true, ct);
        await using var ok = await nodes[2].JoinAsync(healthy, token: null, ct);
        await FaultKit.WaitForFullSyncAsync(ok, healthy);
    }

    // JoinAsync waits for `you`, which a failed join may never send; this one only authenticates.
    private static async Task<OttTestClient> JoinUnauthenticatedAsync(ClusterNode node, string room, CancellationToken ct)
    {
        var token = await node.GrantAsync(ct);
        var socket = new System.Net.WebSockets.ClientWebSocket();
        await socket.ConnectAsync(new Uri(node.BaseAddress, $"/api/room/{room}").ToWs(), ct);
        var client = new OttTestClient(socket) { Token = token };
        await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = token }, ct);
        return client;
    }
}
