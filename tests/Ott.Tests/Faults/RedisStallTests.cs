using Microsoft.Extensions.Logging.Abstractions;
using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Faults;

// Fault tests get a private redis-server: DEBUG SLEEP would stall every other test's Redis.
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultCollection
{
    public const string Name = "Faults";
}

[Collection(FaultCollection.Name)]
public sealed class RedisStallTests
{
    [Fact]
    public async Task RenewQueuedBehindARedisStallFindsTheLeaseGone()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var redis = new AsyncDisposer(await RedisServer.StartPrivateAsync());
        var server = redis.Server;
        await using var connection = new RedisConnection(server.ConnectionString + ",allowAdmin=true", new StorageOptions(), Path.GetTempPath(), new RedisKeys("ott:"), NullLoggerFactory.Instance);
        var store = new RoomStore(connection, new RedisKeys("ott:"));
        var token = (await store.CreateAsync("stall", "node-a", "{}", TimeSpan.FromMilliseconds(300), null, ct))!.Value;

        // Redis TTLs are absolute deadlines: a stall does not stretch them (docs/architecture.md §8). The stall
        // goes out on the store's own connection, so the renew is queued behind it on one socket.
        var stall = connection.Multiplexer.GetServers()[0].ExecuteAsync("DEBUG", "SLEEP", "0.6");
        var renewed = await store.RenewAsync("stall", token, TimeSpan.FromSeconds(30), null, ct);
        await stall;

        Assert.False(renewed);
        Assert.IsType<AcquireResult.Acquired>(await store.AcquireAsync("stall", "node-b", TimeSpan.FromSeconds(30), TimeSpan.FromHours(2), ct));
    }

    private sealed class AsyncDisposer(RedisServer server) : IAsyncDisposable
    {
        public RedisServer Server => server;

        public async ValueTask DisposeAsync() => await server.DisposeAsync();
    }
}
