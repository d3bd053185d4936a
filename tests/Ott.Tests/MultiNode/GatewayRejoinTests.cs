using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Cluster;
using Ott.Sync.Connections;
using Ott.Sync.Rooms;
using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using StackExchange.Redis;

namespace Ott.Tests.MultiNode;

// A gateway's rejoins and room-channel messages (docs/architecture.md §9.5, §9.6), on two in-process nodes on
// one Redis: O owns the rooms, G is a gateway. Each test is an anomaly of issue 13 that a gateway hit before
// Rejoiner and GatewayRooms were fixed: a ghost user re-added by a late rejoin, a rejoin into an unreadable
// state retried forever, an older owner's room_unloaded closing the room's clients.
public abstract class GatewayRejoinSuite(RedisServer redis) : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(1.5);

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private readonly string _prefix = $"rejoin-{Guid.NewGuid():N}:";
    private readonly List<OttApplication> _nodes = [];

    private CancellationToken Ct => _timeout.Token;

    private OttApplication O => _nodes[0];

    private OttApplication G => _nodes[1];

    private RedisKeys Keys => new(_prefix);

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 2; i++)
        {
            _nodes.Add(new OttApplication(redis, ownsRedis: false, _prefix, new Dictionary<string, string?>
            {
                // Tolerant of a loaded test machine (as MultiNodeTests), and a forward waits long enough
                // that a request held on its way never times out before the test lets it go on.
                ["Cluster:HeartbeatInterval"] = "00:00:00.200",
                ["Cluster:NodeTimeout"] = "00:00:01.500",
                ["Cluster:RequestTimeout"] = "00:00:05",
            }));
        }
        await Task.WhenAll(_nodes.Select(n => n.InitializeAsync()));
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(_nodes.All(n => Live(n).Count == 2)), TimeSpan.FromSeconds(10), "both nodes see each other");
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

    private static IReadOnlyList<string> Live(OttApplication node) => node.Services.GetRequiredService<Membership>().LiveNodes;

    private static bool IsUserRemove(JsonObject m, string clientId) =>
        m.Action() == "user" && m["update"]!["kind"]!.GetValue<string>() == "remove" && m["update"]!["value"]!.GetValue<string>() == clientId;

    private static bool IsUserAdd(JsonObject m, string clientId) =>
        m.Action() == "user" && m["update"]!["kind"]!.GetValue<string>() == "update" && m["update"]!["value"]!["id"]!.GetValue<string>() == clientId;

    private HashSet<string> OwnersUsers(string room) =>
        [.. O.Rooms.Loaded(room)?.State.Users.Select(u => u.ClientId) ?? []];

    // G believes the room is on a node that no longer owns it (a cache entry older than the room's move,
    // §9.3): its requests go there first and come back not_owner, except the rejoin, which that node holds
    // until the test lets it go on to the real owner.
    private async Task<(ScriptedNode Stale, ScriptedNode.Request Rejoin)> HoldARejoinAsync(string room, params OttTestClient[] onGateway)
    {
        var key = RoomManager.KeyOf(room);
        var stale = await ScriptedNode.StartAsync(redis, _prefix, NodeTimeout, "rejoin");
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(Live(G).Contains(stale.Id)), TimeSpan.FromSeconds(10), "G sees the stale node live");
        G.Services.GetRequiredService<OwnerCache>().Set(key, stale.Id, O.Rooms.Loaded(room)!.Token.Epoch);
        G.Services.GetRequiredService<GatewayRooms>().RejoinAll(); // what a restored subscription does (§9.6)
        var rejoin = await stale.WaitForAsync("rejoin", key, TimeSpan.FromSeconds(10));
        var users = rejoin.Payload.GetProperty("users").Deserialize(StateJsonContext.Default.ListRoomUser)!;
        Assert.Equal(onGateway.Select(c => c.ClientId).Order(), users.Select(u => u.ClientId).Order());
        return (stale, rejoin);
    }

    [Fact]
    public async Task AClientThatLeavesWhileItsRejoinIsOnTheWayIsDroppedAgain()
    {
        var room = await O.CreateRoomAsync(ct: Ct);
        await using var watcher = await O.JoinAsync(room, ct: Ct);
        var leaving = await G.JoinAsync(room, ct: Ct);
        await using var staying = await G.JoinAsync(room, ct: Ct);
        var (stale, rejoin) = await HoldARejoinAsync(room, leaving, staying);
        await using (stale)
        {
            // The client leaves while the rejoin naming it is held. Its Leave is answered not_owner by the
            // stale node, finds the owner, and is applied there first.
            await leaving.DisposeAsync();
            await watcher.WaitForAsync(m => IsUserRemove(m, leaving.ClientId), ct: Ct);

            // Only now the rejoin goes on to the owner, which adds the departed client back...
            stale.AnswerNotOwner(rejoin);
            await watcher.WaitForAsync(m => IsUserAdd(m, leaving.ClientId), ct: Ct);

            // ...and the gateway's next round drops it again: no ghost user.
            await watcher.WaitForAsync(m => IsUserRemove(m, leaving.ClientId), ct: Ct);
            await WaitUntil.WaitUntilAsync(() => Task.FromResult(OwnersUsers(room).SetEquals([watcher.ClientId, staying.ClientId])),
                TimeSpan.FromSeconds(10), "the owner lists the watcher and the staying client only");
            Assert.False(staying.Closed.IsCompleted);
        }
    }

    [Fact]
    public async Task WhenEveryClientLeavesWhileTheirRejoinIsOnTheWayAnEmptyRejoinDropsThem()
    {
        var room = await O.CreateRoomAsync(ct: Ct);
        await using var watcher = await O.JoinAsync(room, ct: Ct);
        var first = await G.JoinAsync(room, ct: Ct);
        var second = await G.JoinAsync(room, ct: Ct);
        var (stale, rejoin) = await HoldARejoinAsync(room, first, second);
        await using (stale)
        {
            // Both leave: G has nobody left in the room (its gateway room is closed) when the rejoin arrives.
            await first.DisposeAsync();
            await second.DisposeAsync();
            await WaitUntil.WaitUntilAsync(() => Task.FromResult(OwnersUsers(room).SetEquals([watcher.ClientId])),
                TimeSpan.FromSeconds(10), "both Leaves are applied by the owner");
            var left = watcher.Messages.Count;

            stale.AnswerNotOwner(rejoin);
            await WaitUntil.WaitUntilAsync(() => Task.FromResult(
                    watcher.Messages.Skip(left).Any(m => IsUserAdd(m, first.ClientId)) && watcher.Messages.Skip(left).Any(m => IsUserAdd(m, second.ClientId))),
                TimeSpan.FromSeconds(10), "the late rejoin re-adds the departed clients");

            // An empty rejoin from G removes the users it had announced.
            await WaitUntil.WaitUntilAsync(() => Task.FromResult(OwnersUsers(room).SetEquals([watcher.ClientId])),
                TimeSpan.FromSeconds(10), "the owner lists the watcher only");
        }
    }

    [Fact]
    public async Task ARejoinIntoAnUnreadableStateClosesTheClientsWith1011()
    {
        var room = await O.CreateRoomAsync(permanent: true, ct: Ct);
        await using var onOwner = await O.JoinAsync(room, ct: Ct);
        await using var onGateway = await G.JoinAsync(room, ct: Ct);
        const string Corrupt = "{\"v\":1,\"name\":\"half a record";
        await O.Database.StringSetAsync(Keys.RoomState(room), Corrupt);

        // The lease lapses (deleted here): the owner demotes at its next renewal and both nodes re-join their
        // clients, which loads the room again from the record that cannot be read.
        await O.Database.KeyDeleteAsync(Keys.RoomLease(room));

        // Retrying cannot help: every client is told with 1011 (docs/protocol.md §1.7), in bounded time.
        var closed = await Task.WhenAll(onOwner.Closed, onGateway.Closed).WaitAsync(TimeSpan.FromSeconds(15), Ct);
        Assert.All(closed, code => Assert.Equal(1011, (int?)code));
        Assert.Equal(Corrupt, (await O.Database.StringGetAsync(Keys.RoomState(room))).ToString());
        Assert.Null(O.Rooms.Loaded(room));
        Assert.Null(G.Rooms.Loaded(room));
    }

    [Fact]
    public async Task AnOlderOwnersRoomUnloadedIsIgnoredAndTheOwnersOwnCarriesItsEpoch()
    {
        var room = OttApplication.NewRoomName();
        var key = RoomManager.KeyOf(room);
        await O.Database.StringSetAsync(Keys.RoomEpoch(room), 4); // the room had owners before: epoch 5 now
        await O.CreateRoomAsync(room, ct: Ct);
        var epoch = O.Rooms.Loaded(room)!.Token.Epoch;
        Assert.Equal(5, epoch);
        await using var onGateway = await G.JoinAsync(room, ct: Ct);

        await using var listener = await redis.ConnectAsync();
        var unloads = new ConcurrentQueue<(string From, long Epoch)>();
        var channel = await listener.GetSubscriber().SubscribeAsync(Keys.RoomChannel(room));
        channel.OnMessage(m =>
        {
            using var doc = JsonDocument.Parse((byte[])m.Message!);
            if (doc.RootElement.GetProperty("type").GetString() == BusType.RoomUnloaded)
            {
                unloads.Enqueue((doc.RootElement.GetProperty("from").GetString()!, doc.RootElement.GetProperty("epoch").GetInt64()));
            }
        });

        // An older owner's room_unloaded, late on the room channel (§9.5): it says nothing about the room now.
        var older = BusWriter.Write(new BusHeader(BusType.RoomUnloaded) { From = "older-owner", Room = key, Epoch = epoch - 1 },
            w => GatewayRooms.WriteUnloaded(w, 4003, "an older owner's unload"));
        await listener.GetSubscriber().PublishAsync(Keys.RoomChannel(room), older);

        // A chat through G comes back on the same channel after it: G's client is still in the room.
        await onGateway.RequestAsync(new JsonObject { ["type"] = 11, ["text"] = "still here" }, Ct);
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(onGateway.Closed.IsCompleted
                || onGateway.Messages.Any(m => m.Action() == "chat" && m["text"]?.GetValue<string>() == "still here")),
            TimeSpan.FromSeconds(10), "G's client gets its chat back, or is closed");
        Assert.False(onGateway.Closed.IsCompleted, $"G's client was closed: {onGateway.CloseDescription}");

        // The owner's own unload carries its epoch and closes G's client.
        await O.Rooms.UnloadAsync(room, UnloadReason.Admin, Ct);
        Assert.Equal(4003, await onGateway.CloseCodeAsync(Ct));
        Assert.Equal("Room was unloaded", onGateway.CloseDescription);
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(unloads.Any(u => u.From == O.Rooms.NodeId)), TimeSpan.FromSeconds(5),
            "the owner's room_unloaded is seen on the channel");
        Assert.Equal(epoch, unloads.Single(u => u.From == O.Rooms.NodeId).Epoch);
    }
}

// The gateway rejoin tests on the shared standalone redis-server.
public sealed class GatewayRejoinTests(RedisServer redis) : GatewayRejoinSuite(redis), IClassFixture<RedisServer>;

// The same tests on a real Redis Cluster (docs/architecture.md §6.3): sharded room, node and cluster channels,
// and every script on one slot.
public sealed class GatewayRejoinOnClusterTests(RedisCluster cluster) : GatewayRejoinSuite(cluster.Server), IClassFixture<RedisCluster>;
