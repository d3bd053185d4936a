using Ott.Tests.Infrastructure;

namespace Ott.Tests.Scripts;

[Collection(BackendsCollection.Name)]
public sealed class RoomDirectoryTests(StoreBackends backends) : StoreTest(backends)
{
    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task ListShowsOnlyRoomsWhoseEntryIsStillFresh(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);
        var now = DateTimeOffset.UtcNow;
        await store.MarkActiveAsync("Fresh", now.AddSeconds(30), "{\"name\":\"Fresh\"}", Ct);
        await store.MarkActiveAsync("stale", now.AddSeconds(-30), "{\"name\":\"stale\"}", Ct);

        Assert.Equal(["{\"name\":\"Fresh\"}"], await store.ListMetaAsync(now, Ct));
        Assert.Equal(["fresh", "stale"], (await store.ActiveRoomsAsync(Ct)).Order());
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task RemovedRoomLeavesBothDirectoryKeys(Backend backend)
    {
        var (store, keys) = Backends.NewStore(backend);
        var now = DateTimeOffset.UtcNow;
        await store.MarkActiveAsync("room", now.AddSeconds(30), "{}", Ct);

        await store.RemoveActiveAsync("ROOM", Ct);

        Assert.Empty(await store.ActiveRoomsAsync(Ct));
        Assert.Empty(await store.ListMetaAsync(now, Ct));
        Assert.False(await Backends.Connection(backend).Database.HashExistsAsync(keys.RoomsMeta, "room"));
    }
}
