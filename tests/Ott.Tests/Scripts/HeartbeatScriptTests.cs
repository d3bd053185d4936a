using Ott.Tests.Infrastructure;

namespace Ott.Tests.Scripts;

[Collection(BackendsCollection.Name)]
public sealed class HeartbeatScriptTests(StoreBackends backends) : StoreTest(backends)
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task FirstHeartbeatAddsTheNodeAndLaterOnesDoNot(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);

        var first = await store.HeartbeatAsync("node-a", NodeTimeout, Ct);
        var second = await store.HeartbeatAsync("node-a", NodeTimeout, Ct);
        var other = await store.HeartbeatAsync("node-b", NodeTimeout, Ct);

        Assert.True(first.Added);
        Assert.False(second.Added);
        Assert.True(other.Added);
        Assert.Equal(["node-a"], first.LiveNodes);
        Assert.Equal(["node-a", "node-b"], other.LiveNodes.Order());
        Assert.True(second.RedisTimeMs >= first.RedisTimeMs);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task HeartbeatReturnsTheServerTimeInMilliseconds(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);
        var server = Backends.Connection(backend).Multiplexer.GetServers()[0];

        var result = await store.HeartbeatAsync("node-a", NodeTimeout, Ct);
        var serverTime = new DateTimeOffset(await server.TimeAsync()).ToUnixTimeMilliseconds();

        Assert.InRange(serverTime - result.RedisTimeMs, 0, 5_000);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task HeartbeatPrunesNodesSilentForLongerThanTheTimeout(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);
        var db = Backends.Connection(backend).Database;
        await db.SortedSetAddAsync(keys.ClusterNodes, "ghost", 1_000);

        var result = await store.HeartbeatAsync("node-a", NodeTimeout, Ct);

        Assert.Equal(["node-a"], result.LiveNodes);
        Assert.Null(await db.SortedSetScoreAsync(keys.ClusterNodes, "ghost"));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task NodeThatStopsBeatingIsPrunedAndReAddedWhenItReturns(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);
        var timeout = TimeSpan.FromMilliseconds(100);
        await store.HeartbeatAsync("node-a", timeout, Ct);

        await WaitUntil.WaitUntilAsync(
            async () => !(await store.HeartbeatAsync("node-b", timeout, Ct)).LiveNodes.Contains("node-a"),
            TimeSpan.FromSeconds(5),
            "node-a, silent for longer than 100 ms, is pruned by node-b's heartbeat");

        Assert.True((await store.HeartbeatAsync("node-a", timeout, Ct)).Added);
    }
}
