using Ott.Tests.Faults;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using StackExchange.Redis;

namespace Ott.Tests.Cluster;

// Proves the multi-node harness itself (child nodes, the cluster, the chaos proxy) before the
// fault tests of docs/architecture.md §15.3 lean on it.
[Collection(FaultCollection.Name)]
public sealed class ClusterHarnessTests
{
    [Fact]
    public async Task ThreeNodesStartedTogetherBecomeReadyAndSeeEachOther()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();

        var nodes = await cluster.StartAsync(3, ct);

        // T1's "started within 100 ms": every fork happens before the first wait.
        var spread = nodes.Max(n => n.LaunchedAt) - nodes.Min(n => n.LaunchedAt);
        Assert.True(spread < TimeSpan.FromMilliseconds(100), $"launches spread over {spread.TotalMilliseconds} ms");
        Assert.Equal(3, nodes.Select(n => n.NodeId).Distinct().Count());
        Assert.All(nodes, n => Assert.StartsWith(n.Name + "-", n.NodeId, StringComparison.Ordinal));
        await WithLogs(cluster, () => cluster.WaitForMembershipAsync(ct));
        foreach (var node in nodes)
        {
            var ownership = await node.OwnershipAsync(ct);
            Assert.Equal(node.NodeId, ownership["nodeId"]!.GetValue<string>());
            Assert.Equal(nodes.Select(n => n.NodeId).Order(), (await node.LiveNodesAsync(ct)).Order());
        }
    }

    [Fact]
    public async Task RestartedNodeRejoinsUnderANewIdAndTheOldIdLeaves()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        var nodes = await cluster.StartAsync(2, ct);
        await WithLogs(cluster, () => cluster.WaitForMembershipAsync(ct));
        var oldId = nodes[1].NodeId;

        var restarted = await cluster.RestartAsync(nodes[1], ct);

        Assert.NotEqual(oldId, restarted.NodeId);
        Assert.Same(restarted, cluster.NodeById(restarted.NodeId));
        Assert.Null(cluster.FindNodeById(oldId));
        // The killed node's id leaves the live set after Cluster:NodeTimeout.
        await WithLogs(cluster, () => cluster.WaitForMembershipAsync(ct));
    }

    [Fact]
    public async Task RoomCreatedOnANodeIsLeasedByARunningNode()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        var nodes = await cluster.StartAsync(1, ct);

        var room = await cluster.CreateRoomAsync(nodes[0], "Harness" + TestCluster.NewRoomName(), temporary: true, ct);
        await using var client = await nodes[0].JoinAsync(room, token: null, ct);

        var lease = await cluster.LeaseOwnerAsync(room.ToUpperInvariant());
        Assert.NotNull(lease);
        Assert.Equal(nodes[0].NodeId, lease.Value.NodeId);
        Assert.True(lease.Value.Epoch >= 1);
        Assert.Same(nodes[0], await cluster.WaitForOwnerAsync(room, ct));
        Assert.Null(await cluster.LeaseOwnerAsync(TestCluster.NewRoomName()));
    }

    [Fact]
    public async Task ProxiedConnectionFailsWhileCutAndRecoversAfterHeal()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var redis = new RedisScope(await RedisServer.StartPrivateAsync());
        using var proxy = new ChaosProxy(redis.Server.Endpoint);
        var options = ConfigurationOptions.Parse(proxy.ConnectionString);
        options.ConnectTimeout = 1000;
        options.AsyncTimeout = 1000;
        options.SyncTimeout = 1000;
        options.ReconnectRetryPolicy = new LinearRetry(100);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        var db = connection.GetDatabase();

        await db.PingAsync();
        Assert.True(proxy.OpenConnections > 0);

        proxy.Cut();

        Assert.True(proxy.IsCut);
        Assert.Equal(0, proxy.OpenConnections);
        await Assert.ThrowsAnyAsync<Exception>(() => db.PingAsync());
        Assert.Equal(0, proxy.OpenConnections);

        proxy.Heal();

        await WaitUntil.WaitUntilAsync(async () =>
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                await db.PingAsync();
                return true;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(20), "a ping through the healed proxy succeeds");
    }

    [Fact]
    public async Task NodeCutFromRedisLeavesTheLiveSetAndReturnsAfterHeal()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        var direct = (await cluster.StartAsync(1, ct))[0];
        var proxied = await cluster.AddNodeAsync(ct, viaProxy: true);
        await WithLogs(cluster, () => cluster.WaitForMembershipAsync(ct));

        cluster.ProxyOf(proxied).Cut();

        // Its heartbeats stop reaching Redis, so the others drop it after Cluster:NodeTimeout.
        await WithLogs(cluster, () => WaitUntil.WaitUntilAsync(
            async () => !(await direct.LiveNodesAsync(ct)).Contains(proxied.NodeId),
            TimeSpan.FromSeconds(20), $"{direct.Name} no longer lists {proxied.NodeId}"));

        cluster.ProxyOf(proxied).Heal();

        await WithLogs(cluster, () => cluster.WaitForMembershipAsync(ct, TimeSpan.FromSeconds(30)));
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

    private sealed class RedisScope(RedisServer server) : IAsyncDisposable
    {
        public RedisServer Server => server;

        public async ValueTask DisposeAsync() => await server.DisposeAsync();
    }
}
