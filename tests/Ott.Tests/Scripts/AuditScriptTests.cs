using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Scripts;

// FENCED_WRITE's audit entries (docs/architecture.md §6.3, §8): appended with the state under the token check,
// numbered by the room's sequence, capped, never twice for a retried write, and removed with the room.
[Collection(BackendsCollection.Name)]
public sealed class AuditScriptTests(StoreBackends backends) : StoreTest(backends)
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    public async Task EntriesAreWrittenWithTheStateCappedNewestFirstAndOnlyOnce(Backend backend)
    {
        var (store, _) = Backends.NewStore(backend);
        var token = (await store.CreateAsync("audited", "node-a", "{\"v\":1}", Lease, null, Ct))!.Value;

        Assert.True(await store.FencedWriteAsync("audited", token, "{\"v\":2}", null, ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"], 4, Ct));
        Assert.True(await store.FencedWriteAsync("audited", token, "{\"v\":3}", null, ["{\"n\":4}", "{\"n\":5}"], 4, Ct));
        // A retry of the last write (its first outcome unknown) leaves the log as it was.
        Assert.True(await store.FencedWriteAsync("audited", token, "{\"v\":3}", null, ["{\"n\":4}", "{\"n\":5}"], 4, Ct));
        // A fenced-out writer appends nothing either.
        var stale = token with { Value = $"node-a|{token.Epoch}|0000000000000000" };
        Assert.False(await store.FencedWriteAsync("audited", stale, "{\"v\":9}", null, ["{\"n\":9}"], 4, Ct));

        var (all, more) = await store.ReadAuditAsync("audited", null, 10, Ct);
        Assert.False(more);
        Assert.Equal([5L, 4L, 3L, 2L], all.Select(e => e.Id));
        Assert.Equal(["{\"n\":5}", "{\"n\":4}", "{\"n\":3}", "{\"n\":2}"], all.Select(e => e.Json));
        var (page, pageMore) = await store.ReadAuditAsync("audited", 5, 2, Ct);
        Assert.True(pageMore);
        Assert.Equal([4L, 3L], page.Select(e => e.Id));
        var (last, lastMore) = await store.ReadAuditAsync("audited", 3, 2, Ct);
        Assert.False(lastMore);
        Assert.Equal([2L], last.Select(e => e.Id));

        Assert.True(await store.DeleteAsync("audited", token, Ct));
        Assert.Empty((await store.ReadAuditAsync("audited", null, 10, Ct)).Entries);
    }
}
