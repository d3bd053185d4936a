using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Scripts;

[Collection(BackendsCollection.Name)]
public sealed class AcquireScriptTests(StoreBackends backends) : StoreTest(backends)
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan TemporaryTtl = TimeSpan.FromHours(2);

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task AcquireWhenHeldReportsTheHolderAndItsRemainingTime(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);
        var owner = await store.CreateAsync("held", "node-a", "{}", Lease, null, Ct);

        var result = await store.AcquireAsync("held", "node-b", Lease, TemporaryTtl, Ct);

        var held = Assert.IsType<AcquireResult.Held>(result);
        Assert.Equal(owner!.Value.Value, held.HolderToken);
        Assert.InRange(held.Pttl, TimeSpan.FromMilliseconds(1), Lease);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task AcquireWithNoStateReportsNotFound(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);

        var result = await store.AcquireAsync("missing", "node-a", Lease, TemporaryTtl, Ct);

        Assert.IsType<AcquireResult.NotFound>(result);
        Assert.False(await Backends.Connection(backend).Database.KeyExistsAsync(keys.RoomLease("missing")));
        Assert.False(await Backends.Connection(backend).Database.KeyExistsAsync(keys.RoomEpoch("missing")));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task AcquireOfAReleasedRoomLoadsItsStateUnderAHigherEpoch(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);
        var created = (await store.CreateAsync("restore", "node-a", "{\"v\":1}", Lease, null, Ct))!.Value;
        Assert.True(await store.ReleaseAsync("restore", created, "{\"v\":2}", null, Ct));

        var acquired = Assert.IsType<AcquireResult.Acquired>(await store.AcquireAsync("restore", "node-b", Lease, TemporaryTtl, Ct));

        Assert.Equal("{\"v\":2}", acquired.StateJson);
        Assert.Equal(created.Epoch + 1, acquired.Token.Epoch);
        Assert.StartsWith($"node-b|{acquired.Token.Epoch}|", acquired.Token.Value);
        Assert.NotEqual(created.Value, acquired.Token.Value);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task EpochOnlyGoesUpAcrossCreateAcquireReleaseAndAcquire(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);
        var epochs = new List<long>();
        var token = (await store.CreateAsync("epochs", "node-a", "{}", Lease, null, Ct))!.Value;
        epochs.Add(token.Epoch);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await store.ReleaseAsync("epochs", token, null, null, Ct));
            token = Assert.IsType<AcquireResult.Acquired>(await store.AcquireAsync("EPOCHS", $"node-{i}", Lease, TemporaryTtl, Ct)).Token;
            epochs.Add(token.Epoch);
        }

        Assert.Equal([1, 2, 3, 4], epochs);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task AcquireSucceedsOnceTheHoldersLeaseLapses(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);
        var first = (await store.CreateAsync("lapse", "node-a", "{}", TimeSpan.FromMilliseconds(50), null, Ct))!.Value;

        AcquireResult result = new AcquireResult.NotFound();
        await WaitUntil.WaitUntilAsync(
            async () => (result = await store.AcquireAsync("lapse", "node-b", Lease, TemporaryTtl, Ct)) is AcquireResult.Acquired,
            TimeSpan.FromSeconds(5),
            "the 50 ms lease lapses and node-b acquires the room");

        var acquired = Assert.IsType<AcquireResult.Acquired>(result);
        Assert.True(acquired.Token.Epoch > first.Epoch);
        Assert.False(await store.RenewAsync("lapse", first, Lease, null, Ct));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task AcquireRefreshesTheTtlOfATemporaryRoomOnly(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);
        var db = Backends.Connection(backend).Database;
        var shortTtl = TimeSpan.FromMinutes(1);
        var temp = (await store.CreateAsync("temp", "node-a", "{}", Lease, shortTtl, Ct))!.Value;
        var perm = (await store.CreateAsync("perm", "node-a", "{}", Lease, null, Ct))!.Value;
        await store.ReleaseAsync("temp", temp, null, null, Ct);
        await store.ReleaseAsync("perm", perm, null, null, Ct);

        Assert.IsType<AcquireResult.Acquired>(await store.AcquireAsync("temp", "node-b", Lease, TemporaryTtl, Ct));
        Assert.IsType<AcquireResult.Acquired>(await store.AcquireAsync("perm", "node-b", Lease, TemporaryTtl, Ct));

        Assert.InRange((await store.StateTtlAsync("temp", Ct))!.Value, shortTtl, TemporaryTtl);
        Assert.InRange((await db.KeyTimeToLiveAsync(keys.RoomEpoch("temp")))!.Value, shortTtl, TemporaryTtl);
        Assert.Null(await store.StateTtlAsync("perm", Ct));
        Assert.Null(await db.KeyTimeToLiveAsync(keys.RoomEpoch("perm")));
    }
}
