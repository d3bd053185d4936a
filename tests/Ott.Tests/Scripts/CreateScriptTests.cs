using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;
using StackExchange.Redis;

namespace Ott.Tests.Scripts;

[Collection(BackendsCollection.Name)]
public sealed class CreateScriptTests(StoreBackends backends) : StoreTest(backends)
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task CreateTakesTheLeaseAndStoresTheState(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);

        var token = await store.CreateAsync("room1", "node-a", "{\"v\":1}", Lease, null, Ct);

        Assert.NotNull(token);
        Assert.Equal(1, token.Value.Epoch);
        var parts = token.Value.Value.Split('|');
        Assert.Equal("node-a", parts[0]);
        Assert.Equal("1", parts[1]);
        Assert.Matches("^[0-9a-f]{16}$", parts[2]);
        Assert.Equal("{\"v\":1}", await store.ReadStateAsync("room1", Ct));
        var db = Backends.Connection(backend).Database;
        Assert.Equal(token.Value.Value, (string?)await db.StringGetAsync(keys.RoomLease("room1")));
        var leaseTtl = await db.KeyTimeToLiveAsync(keys.RoomLease("room1"));
        Assert.InRange(leaseTtl!.Value, TimeSpan.FromMilliseconds(1), Lease);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task CreateWhenStateExistsReportsNameTaken(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);
        await Backends.Connection(backend).Database.StringSetAsync(keys.RoomState("taken"), "{\"old\":true}");

        var token = await store.CreateAsync("taken", "node-a", "{\"new\":true}", Lease, null, Ct);

        Assert.Null(token);
        Assert.Equal("{\"old\":true}", await store.ReadStateAsync("taken", Ct));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task CreateWhenLeaseExistsReportsNameTaken(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);
        await Backends.Connection(backend).Database.StringSetAsync(keys.RoomLease("leased"), "node-x|7|0123456789abcdef", Lease);

        var token = await store.CreateAsync("leased", "node-a", "{}", Lease, null, Ct);

        Assert.Null(token);
        Assert.False(await store.StateExistsAsync("leased", Ct));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task SecondCreateOfTheSameNameInAnotherCaseIsTaken(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);

        var first = await store.CreateAsync("Foo", "node-a", "{\"name\":\"Foo\"}", Lease, null, Ct);
        var second = await store.CreateAsync("foo", "node-b", "{\"name\":\"foo\"}", Lease, null, Ct);

        Assert.NotNull(first);
        Assert.Null(second);
        Assert.Equal("{\"name\":\"Foo\"}", await store.ReadStateAsync("FOO", Ct));
        Assert.True(await Backends.Connection(backend).Database.KeyExistsAsync((RedisKey)$"{keys.Prefix}room:{{foo}}:state"));
        var held = Assert.IsType<AcquireResult.Held>(await store.AcquireAsync("fOO", "node-b", Lease, TimeSpan.FromHours(2), Ct));
        Assert.Equal(first.Value.Value, held.HolderToken);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task PermanentRoomHasNoStateOrEpochTtl(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);

        await store.CreateAsync("perm", "node-a", "{}", Lease, null, Ct);

        Assert.Null(await store.StateTtlAsync("perm", Ct));
        Assert.True(await store.StateExistsAsync("perm", Ct));
        Assert.Null(await Backends.Connection(backend).Database.KeyTimeToLiveAsync(keys.RoomEpoch("perm")));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task TemporaryRoomStateAndEpochExpireWithinTheStateTtl(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);
        var stateTtl = TimeSpan.FromMinutes(10);

        await store.CreateAsync("temp", "node-a", "{}", Lease, stateTtl, Ct);

        Assert.InRange((await store.StateTtlAsync("temp", Ct))!.Value, TimeSpan.FromMilliseconds(1), stateTtl);
        var epochTtl = await Backends.Connection(backend).Database.KeyTimeToLiveAsync(keys.RoomEpoch("temp"));
        Assert.InRange(epochTtl!.Value, TimeSpan.FromMilliseconds(1), stateTtl);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task ConcurrentCreatesOfOneNameHaveExactlyOneWinner(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            store.CreateAsync(i % 2 == 0 ? "race" : "RACE", $"node-{i}", $"{{\"by\":{i}}}", Lease, null, Ct)));

        var winner = Assert.Single(results, r => r is not null);
        Assert.Equal(1, winner!.Value.Epoch);
    }
}
