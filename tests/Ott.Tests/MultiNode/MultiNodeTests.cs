using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Cluster;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;
using static Ott.Tests.Infrastructure.Web.RoomFlow;

namespace Ott.Tests.MultiNode;

// Several in-process nodes (Kestrel-less TestServers) on one Redis and one key prefix (docs/architecture.md §5.2,
// §9): requests are forwarded to the owner, its events reach every node's clients, presence is one list.
public abstract class MultiNodeSuite(RedisServer redis) : IAsyncLifetime, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));
    private readonly List<OttApplication> _nodes = [];
    private readonly string _prefix = $"multi-{Guid.NewGuid():N}:";

    private CancellationToken Ct => _timeout.Token;

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            // Heartbeats tolerant of a loaded test machine: a node missing for 300 ms (the single-node
            // tests' setting) would be declared gone and its users dropped while it still serves them.
            var node = new OttApplication(redis, ownsRedis: false, _prefix, new Dictionary<string, string?>
            {
                ["Cluster:HeartbeatInterval"] = "00:00:00.200",
                ["Cluster:NodeTimeout"] = "00:00:01.500",
            });
            _nodes.Add(node);
        }
        await Task.WhenAll(_nodes.Select(n => n.InitializeAsync()));
        // Every node sees the others before routing is exercised (placement uses the live set).
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(_nodes.All(n => Live(n).Count == 3)), TimeSpan.FromSeconds(10), "every node sees three live nodes");
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
    }

    public void Dispose()
    {
        _timeout.Dispose();
        GC.SuppressFinalize(this);
    }

    private static IReadOnlyList<string> Live(OttApplication node) =>
        node.Services.GetRequiredService<Membership>().LiveNodes;

    private OttApplication A => _nodes[0];
    private OttApplication B => _nodes[1];
    private OttApplication C => _nodes[2];

    [Fact]
    public async Task AClientOnAnotherNodeJoinsTheOwnersRoomAndTheyShareEventsPresenceAndState()
    {
        var room = await A.CreateRoomAsync(ct: Ct);
        Assert.NotNull(A.Rooms.Loaded(room));

        await using var onA = await A.JoinAsync(room, ct: Ct);
        await using var onB = await B.JoinAsync(room, ct: Ct);

        // The gateway's client got the owner's handshake: a full sync and the user list with both users.
        Assert.Contains(onB.Messages, m => m.Action() == "sync" && m["name"]?.GetValue<string>() == room);
        var handshake = onB.Messages.Select(m => m.Action() == "user" ? "user " + m["update"]!["kind"] : m.Action()).ToList();
        // OTT's handshake order (docs/protocol.md §1.2): full sync, the join's broadcasts, then the user list and `you`.
        Assert.Equal(["sync", "event", "sync", "user update", "user init", "you"], handshake);
        var init = onB.Messages.Single(m => m.Action() == "user" && m["update"]!["kind"]!.GetValue<string>() == "init");
        Assert.Equal(2, init["update"]!["value"]!.AsArray().Count);
        Assert.Null(B.Rooms.Loaded(room)); // B forwards; A owns

        // Chat both ways.
        await onB.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "from b" }, Ct);
        await onA.WaitForAsync(m => m.Action() == "chat" && m["text"]?.GetValue<string>() == "from b", ct: Ct);
        await onB.WaitForAsync(m => m.Action() == "chat" && m["text"]?.GetValue<string>() == "from b", ct: Ct);
        await onA.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "from a" }, Ct);
        await onB.WaitForAsync(m => m.Action() == "chat" && m["text"]?.GetValue<string>() == "from a", ct: Ct);

        // A storable change through the gateway is persisted by the owner and synced everywhere.
        await onB.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 42.5 }, Ct);
        await onA.SyncAsync(s => s.Has("playbackPosition") && s.Position() == 42.5, Ct);
        await onB.SyncAsync(s => s.Has("playbackPosition") && s.Position() == 42.5, Ct);
        Assert.Equal(42.5, (await A.StoredAsync(room))["playbackPosition"]!.GetValue<double>());

        // REST on a third node sees both users.
        var (getStatus, body) = await C.SendAsync(HttpMethod.Get, $"/api/room/{room}", await C.GrantAsync(Ct), null, Ct);
        Assert.True(getStatus == 200, body.ToJsonString());
        Assert.Equal(2, body["users"]!.AsArray().Count);

        // A client leaving on the gateway leaves the one user list.
        var leaving = onB.ClientId;
        await onB.DisposeAsync();
        await onA.WaitForAsync(m => m.Action() == "user" && m["update"]!["kind"]!.GetValue<string>() == "remove"
            && m["update"]!["value"]!.GetValue<string>() == leaving, ct: Ct);
    }

    [Fact]
    public async Task RestRequestsOnAGatewayAreForwardedToTheOwner()
    {
        var room = await A.CreateRoomAsync(ct: Ct);
        await using var onA = await A.JoinAsync(room, ct: Ct);
        var token = await B.GrantAsync(Ct);

        await B.AddAsync(room, token, new JsonObject { ["url"] = Direct("via-gateway") }, Ct);
        await onA.SyncAsync(s => s.CurrentId() == Direct("via-gateway") || (s.Has("queue") && s.QueueIds().Contains(Direct("via-gateway"))), Ct);

        var (status, response) = await C.SendAsync(HttpMethod.Patch, $"/api/room/{room}", token, new JsonObject { ["title"] = "Set on C" }, Ct);
        Assert.True(status == 200, response.ToJsonString());
        await onA.SyncAsync(s => s["title"]?.GetValue<string>() == "Set on C", Ct);
        Assert.Equal("Set on C", (await A.StoredAsync(room))["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task ARoomNobodyOwnsIsActivatedOnceWhicheverNodesAskAtOnce()
    {
        var room = await A.CreateRoomAsync(permanent: true, ct: Ct);
        Assert.True(await A.Rooms.UnloadAsync(room, Sync.Rooms.UnloadReason.Admin, Ct));

        // Every node joins at once: HRW names one node to try, the lease settles it.
        var joins = await Task.WhenAll(_nodes.SelectMany(n => new[] { n, n }).Select(n => n.JoinAsync(room, ct: Ct)));
        try
        {
            Assert.Single(_nodes, n => n.Rooms.Loaded(room) is not null);
            var owner = _nodes.Single(n => n.Rooms.Loaded(room) is not null);
            await WaitUntil.WaitUntilAsync(() => Task.FromResult(owner.Rooms.Loaded(room)!.State.Users.Count == joins.Length),
                TimeSpan.FromSeconds(5), "the owner lists every client");
        }
        finally
        {
            foreach (var join in joins)
            {
                await join.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task CreatingTheSameNameOnEveryNodeAtOnceSucceedsExactlyOnceWhateverTheCase()
    {
        // T2: 60 concurrent creates of x and X across three nodes.
        var name = OttApplication.NewRoomName();
        var token = await A.GrantAsync(Ct);
        var attempts = Enumerable.Range(0, 60).Select(async i =>
        {
            var node = _nodes[i % 3];
            var spelled = i % 2 == 0 ? name : name.ToUpperInvariant();
            using var client = node.ApiClient(token);
            using var response = await client.PostAsync("/api/room/create",
                OttApplication.Json(new JsonObject { ["name"] = spelled, ["isTemporary"] = true }), Ct);
            return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!);
        });
        var results = await Task.WhenAll(attempts);

        Assert.Single(results, r => r.Item1 == 201);
        Assert.All(results.Where(r => r.Item1 != 201), r =>
        {
            Assert.Equal(400, r.Item1);
            Assert.Equal("RoomNameTakenException", r.Item2["error"]!["name"]!.GetValue<string>());
        });
        Assert.Single(_nodes, n => n.Rooms.Loaded(name) is not null);
        var lease = (string?)await A.Database.StringGetAsync($"{_prefix}room:{{{name.ToLowerInvariant()}}}:lease");
        var owner = _nodes.Single(n => n.Rooms.Loaded(name) is not null);
        Assert.StartsWith(owner.Rooms.NodeId + "|1|", lease);
    }

    [Fact]
    public async Task AnnouncementsAndUsernameChangesReachClientsOnEveryNode()
    {
        var room = await A.CreateRoomAsync(ct: Ct);
        await using var onA = await A.JoinAsync(room, ct: Ct);
        await using var onC = await C.JoinAsync(room, ct: Ct);

        using var admin = B.AdminClient();
        using var announce = await admin.PostAsync("/api/announce", OttApplication.Json(new JsonObject { ["text"] = "maintenance at noon" }), Ct);
        Assert.Equal(200, (int)announce.StatusCode);
        await onA.WaitForAsync(m => m.Action() == "announcement" && m["text"]?.GetValue<string>() == "maintenance at noon", ct: Ct);
        await onC.WaitForAsync(m => m.Action() == "announcement" && m["text"]?.GetValue<string>() == "maintenance at noon", ct: Ct);

        // The username is changed through node B's REST API, where neither socket is.
        var (status, response) = await B.SendAsync(HttpMethod.Post, "/api/user", onC.Token!, new JsonObject { ["username"] = "renamed-on-b" }, Ct);
        Assert.True(status == 200, response.ToJsonString());
        await onA.WaitForAsync(m => m.Action() == "user" && m["update"]!["kind"]!.GetValue<string>() == "update"
            && m["update"]!["value"]!["name"]?.GetValue<string>() == "renamed-on-b", ct: Ct);
    }

    [Fact]
    public async Task WhenAGatewayStopsItsUsersLeaveTheOwnersRoom()
    {
        var room = await A.CreateRoomAsync(ct: Ct);
        await using var onA = await A.JoinAsync(room, ct: Ct);
        var onB = await B.JoinAsync(room, ct: Ct);
        await onA.WaitForAsync(m => m.Action() == "user" && m["update"]!["kind"]!.GetValue<string>() == "update"
            && m["update"]!["value"]!["id"]?.GetValue<string>() == onB.ClientId, ct: Ct);

        // B disappears without a goodbye: no leave is sent, its heartbeats stop.
        B.Services.GetRequiredService<Membership>().StopHeartbeating();
        await onA.WaitForAsync(m => m.Action() == "user" && m["update"]!["kind"]!.GetValue<string>() == "remove"
            && m["update"]!["value"]!.GetValue<string>() == onB.ClientId, ct: Ct);
        Assert.DoesNotContain(A.Rooms.Loaded(room)!.State.Users, u => u.ClientId == onB.ClientId);
    }

    [Fact]
    public async Task AGracefulHandoffKeepsTheGatewaysSocketsAndPlaybackContinues()
    {
        var room = await A.CreateRoomAsync(permanent: true, ct: Ct);
        await using var onB = await B.JoinAsync(room, ct: Ct);
        await A.AddAsync(room, onB.Token!, new JsonObject { ["url"] = Direct("long-film") }, Ct);
        await onB.SyncAsync(s => s.CurrentId() == Direct("long-film"), Ct);
        await onB.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 100 }, Ct);
        await onB.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true }, Ct);
        await onB.SyncAsync(s => s["isPlaying"]?.GetValue<bool>() == true, Ct);
        var playingSince = DateTime.UtcNow;
        onB.SkipReceived();

        // A stops gracefully: it hands the room back and says so; B re-joins its client wherever the room goes.
        var owner = A;
        _nodes.Remove(owner);
        await owner.DisposeAsync();

        var resync = await onB.SyncAsync(s => s.Has("queue") && s.Has("playbackPosition"), Ct);
        var elapsed = (DateTime.UtcNow - playingSince).TotalSeconds;
        Assert.True(resync["isPlaying"]!.GetValue<bool>());
        Assert.Equal(Direct("long-film"), resync.CurrentId());
        // Positions are anchored to the cluster clock: the new owner continues from where playback is now.
        Assert.InRange(resync.Position(), 100 + elapsed - 1.5, 100 + elapsed + 0.5);
        Assert.False(onB.Closed.IsCompleted);
        Assert.Single(_nodes, n => n.Rooms.Loaded(room) is not null);
    }
}

// The multi-node suite on the shared standalone redis-server.
public sealed class MultiNodeTests(RedisServer redis) : MultiNodeSuite(redis), IClassFixture<RedisServer>;

// The same tests on a real Redis Cluster (docs/architecture.md §6.3): sharded room, node and cluster channels,
// and every script on one slot.
public sealed class MultiNodeOnClusterTests(RedisCluster cluster) : MultiNodeSuite(cluster.Server), IClassFixture<RedisCluster>;
