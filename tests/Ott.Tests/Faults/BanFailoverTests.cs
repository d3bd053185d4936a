using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using Ott.Tests.Infrastructure.Faults;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Faults;

// Bans and the audit log across nodes and a failover (docs/protocol.md §10, docs/architecture.md §7.5): two real
// Ott processes; a ban made through the gateway closes the banned client there and keeps it out on every node;
// after kill -9 of the owner, the ban and its audit entry are still there, and new entries follow them.
[Collection(FaultCollection.Name)]
public sealed class BanFailoverTests
{
    private static async Task<JsonObject> SendAsync(HttpClient api, HttpMethod method, string path, JsonObject? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = OttApplication.Json(body);
        }
        using var response = await api.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{method} {path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    // Connects to a node and authenticates: the close code when the node refuses the join, null when it is let in.
    private static async Task<int?> JoinRefusalAsync(ClusterNode node, string room, string token, CancellationToken ct)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(node.BaseAddress, $"/api/room/{room}").ToWs(), ct);
        await using var client = new OttTestClient(socket) { Token = token };
        await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = token }, ct);
        // Judged by the outcome of the wait for `you`: it arrives (let in) or the wait fails at once because the
        // socket closed first (refused); never by which of it and the close finished first.
        try
        {
            await client.WaitForAsync(m => m.Action() == "you", ct: ct);
            return null;
        }
        catch (InvalidOperationException) when (client.Closed.IsCompleted)
        {
            return (int?)await client.Closed;
        }
    }

    [Fact]
    public async Task BansAndTheirAuditEntriesSurviveAnOwnerCrashAndHoldOnEveryNode()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        var nodes = await cluster.StartAsync(2, ct);
        await cluster.WaitForMembershipAsync(ct);
        var room = await cluster.CreateRoomAsync(nodes[0], null, temporary: false, ct);
        var owner = await cluster.WaitForOwnerAsync(room, ct);
        var gateway = nodes.Single(n => n != owner);
        var firstToken = await gateway.GrantAsync(ct);
        await using var first = await gateway.JoinAsync(room, firstToken, ct);
        await using var second = await gateway.JoinAsync(room, null, ct);
        using var admin = gateway.AdminClient();

        // Through the gateway: the owner applies the ban and the gateway closes its client.
        await SendAsync(admin, HttpMethod.Post, $"/api/room/{room}/bans", new JsonObject { ["clientId"] = first.ClientId, ["reason"] = "before" }, ct);
        Assert.Equal(4005, await first.CloseCodeAsync(ct));
        Assert.Equal(4005, await JoinRefusalAsync(owner, room, firstToken, ct));
        Assert.Equal(4005, await JoinRefusalAsync(gateway, room, firstToken, ct));

        await owner.KillAsync();
        await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(
            async () => (await cluster.LeaseOwnerAsync(room))?.NodeId == gateway.NodeId,
            TimeSpan.FromSeconds(15), "the gateway holds the lease after the crash"));

        // The new owner still refuses the banned session, and writes new entries after the old ones.
        Assert.Equal(4005, await JoinRefusalAsync(gateway, room, firstToken, ct));
        await SendAsync(admin, HttpMethod.Post, $"/api/room/{room}/bans", new JsonObject { ["clientId"] = second.ClientId, ["reason"] = "after" }, ct);
        Assert.Equal(4005, await second.CloseCodeAsync(ct));

        var bans = await SendAsync(admin, HttpMethod.Get, $"/api/room/{room}/bans", null, ct);
        Assert.Equal(["after", "before"], bans["bans"]!.AsArray().Select(b => b!["reason"]!.GetValue<string>()).Order());
        var audit = await SendAsync(admin, HttpMethod.Get, $"/api/room/{room}/audit", null, ct);
        var entries = audit["entries"]!.AsArray().Select(e => e!.AsObject()).ToList();
        Assert.Equal(["ban", "ban"], entries.Select(e => e["action"]!.GetValue<string>()));
        Assert.Equal(["after", "before"], entries.Select(e => e["details"]!["reason"]!.GetValue<string>()));
        Assert.True(long.Parse(entries[0]["id"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)
            > long.Parse(entries[1]["id"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture));
    }
}
