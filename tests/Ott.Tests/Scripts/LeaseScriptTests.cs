using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Scripts;

// RENEW, FENCED_WRITE, RELEASE and DELETE: each acts only for the exact current token.
[Collection(BackendsCollection.Name)]
public sealed class LeaseScriptTests(StoreBackends backends) : StoreTest(backends)
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    // The room is owned by a second incarnation; the first one's token is stale.
    private async Task<(RoomStore Store, LeaseToken Stale, LeaseToken Current)> TakenOverAsync(Backend backend, string room)
    {
        var (store, _) = Backends.NewStore(backend);
        var stale = (await store.CreateAsync(room, "node-a", "{\"by\":\"a\"}", Lease, null, Ct))!.Value;
        Assert.True(await store.ReleaseAsync(room, stale, null, null, Ct));
        var current = Assert.IsType<AcquireResult.Acquired>(await store.AcquireAsync(room, "node-b", Lease, TimeSpan.FromHours(2), Ct)).Token;
        return (store, stale, current);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task StaleTokenIsRejectedByRenewWriteReleaseAndDelete(Backend backend)
    {
        var (store, stale, current) = await TakenOverAsync(backend, "stale");

        Assert.False(await store.RenewAsync("stale", stale, Lease, null, Ct));
        Assert.False(await store.FencedWriteAsync("stale", stale, "{\"by\":\"stale\"}", null, Ct));
        Assert.False(await store.ReleaseAsync("stale", stale, "{\"by\":\"stale\"}", null, Ct));
        Assert.False(await store.DeleteAsync("stale", stale, Ct));

        Assert.Equal("{\"by\":\"a\"}", await store.ReadStateAsync("stale", Ct));
        Assert.IsType<AcquireResult.Held>(await store.AcquireAsync("stale", "node-c", Lease, TimeSpan.FromHours(2), Ct));
        Assert.True(await store.RenewAsync("stale", current, Lease, null, Ct));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task TokenWithTheRightEpochButAnotherNonceIsRejected(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);
        var token = (await store.CreateAsync("nonce", "node-a", "{}", Lease, null, Ct))!.Value;
        var forged = token with { Value = $"node-a|{token.Epoch}|0000000000000000" };

        Assert.False(await store.FencedWriteAsync("nonce", forged, "{\"forged\":true}", null, Ct));
        Assert.Equal("{}", await store.ReadStateAsync("nonce", Ct));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task RenewExtendsTheLeaseAndTheTemporaryStateTtl(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);
        var db = Backends.Connection(backend).Database;
        var token = (await store.CreateAsync("renew", "node-a", "{}", TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(1), Ct))!.Value;

        Assert.True(await store.RenewAsync("renew", token, TimeSpan.FromMinutes(10), TimeSpan.FromHours(1), Ct));

        Assert.InRange((await db.KeyTimeToLiveAsync(keys.RoomLease("renew")))!.Value, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(10));
        Assert.InRange((await store.StateTtlAsync("renew", Ct))!.Value, TimeSpan.FromMinutes(30), TimeSpan.FromHours(1));
        Assert.InRange((await db.KeyTimeToLiveAsync(keys.RoomEpoch("renew")))!.Value, TimeSpan.FromMinutes(30), TimeSpan.FromHours(1));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task RenewOfAPermanentRoomLeavesItWithoutTtl(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);
        var token = (await store.CreateAsync("perm", "node-a", "{}", Lease, null, Ct))!.Value;

        Assert.True(await store.RenewAsync("perm", token, Lease, null, Ct));

        Assert.Null(await store.StateTtlAsync("perm", Ct));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task FencedWriteReplacesTheStateAndKeepsItsTtlPolicy(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);
        var db = Backends.Connection(backend).Database;
        var perm = (await store.CreateAsync("perm", "node-a", "{\"v\":1}", Lease, null, Ct))!.Value;
        var temp = (await store.CreateAsync("temp", "node-a", "{\"v\":1}", Lease, TimeSpan.FromMinutes(1), Ct))!.Value;

        Assert.True(await store.FencedWriteAsync("PERM", perm, "{\"v\":2}", null, Ct));
        Assert.True(await store.FencedWriteAsync("Temp", temp, "{\"v\":2}", TimeSpan.FromHours(1), Ct));

        Assert.Equal("{\"v\":2}", await store.ReadStateAsync("perm", Ct));
        Assert.Null(await store.StateTtlAsync("perm", Ct));
        Assert.Equal("{\"v\":2}", await store.ReadStateAsync("temp", Ct));
        Assert.InRange((await store.StateTtlAsync("temp", Ct))!.Value, TimeSpan.FromMinutes(30), TimeSpan.FromHours(1));
        Assert.InRange((await db.KeyTimeToLiveAsync(keys.RoomEpoch("temp")))!.Value, TimeSpan.FromMinutes(30), TimeSpan.FromHours(1));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task ReleaseWritesTheFinalStateAndFreesTheLease(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);
        var token = (await store.CreateAsync("release", "node-a", "{\"v\":1}", Lease, null, Ct))!.Value;

        Assert.True(await store.ReleaseAsync("release", token, "{\"v\":\"final\"}", null, Ct));

        Assert.Equal("{\"v\":\"final\"}", await store.ReadStateAsync("release", Ct));
        Assert.False(await Backends.Connection(backend).Database.KeyExistsAsync(keys.RoomLease("release")));
        Assert.False(await store.RenewAsync("release", token, Lease, null, Ct));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task ReleaseWithoutFinalStateKeepsTheStoredState(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);
        var token = (await store.CreateAsync("keep", "node-a", "{\"v\":1}", Lease, TimeSpan.FromMinutes(1), Ct))!.Value;

        Assert.True(await store.ReleaseAsync("keep", token, null, TimeSpan.FromMinutes(1), Ct));

        Assert.Equal("{\"v\":1}", await store.ReadStateAsync("keep", Ct));
        Assert.NotNull(await store.StateTtlAsync("keep", Ct));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task DeleteRemovesStateEpochAndLease(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);
        var db = Backends.Connection(backend).Database;
        var token = (await store.CreateAsync("Gone", "node-a", "{}", Lease, TimeSpan.FromMinutes(1), Ct))!.Value;

        Assert.True(await store.DeleteAsync("gone", token, Ct));

        Assert.False(await store.StateExistsAsync("gone", Ct));
        Assert.False(await db.KeyExistsAsync(keys.RoomEpoch("gone")));
        Assert.False(await db.KeyExistsAsync(keys.RoomLease("gone")));
        Assert.IsType<AcquireResult.NotFound>(await store.AcquireAsync("gone", "node-b", Lease, TimeSpan.FromHours(2), Ct));
        Assert.NotNull(await store.CreateAsync("gone", "node-b", "{}", Lease, null, Ct));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task ScriptsStillRunAfterTheServerForgetsThem(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);
        var token = (await store.CreateAsync("flush", "node-a", "{}", Lease, null, Ct))!.Value;
        var connection = Backends.Connection(backend);
        await connection.Multiplexer.GetServer(connection.Multiplexer.GetEndPoints()[0]).ExecuteAsync("SCRIPT", "FLUSH");

        Assert.True(await store.RenewAsync("flush", token, Lease, null, Ct));
        Assert.True(await store.FencedWriteAsync("flush", token, "{\"v\":2}", null, Ct));
    }
}
