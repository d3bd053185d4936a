using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging.Abstractions;
using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using StackExchange.Redis;

namespace Ott.Tests.Unit;

// A store call resolves within Ott's async timeout (2 s unless the connection string sets one), so a stalled
// call never outlasts the hold window (docs/architecture.md §6.1, §7.4). That holds while the connection is
// down too: the client library then keeps the call in its backlog for its *sync* timeout (5 s by default),
// which Ott sets to the same bound. The store is a real Redis behind a ChaosProxy that the test cuts.
[SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test class through IAsyncLifetime.DisposeAsync.")]
public sealed class StoreTimeoutTests : IAsyncLifetime
{
    private readonly RedisServer _redis = new();
    private ChaosProxy? _proxy;

    public Task InitializeAsync() => _redis.InitializeAsync();

    public async Task DisposeAsync()
    {
        _proxy?.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task ACallWhileTheConnectionIsDownFailsWithinTheAsyncTimeout()
    {
        _proxy = new ChaosProxy(_redis.Endpoint);
        var keys = new RedisKeys($"timeout-{Guid.NewGuid():N}:");
        await using var connection = new RedisConnection(_proxy.ConnectionString, new StorageOptions(), Path.GetTempPath(), keys, NullLoggerFactory.Instance);
        await connection.ConnectAsync(CancellationToken.None);
        var store = new RoomStore(connection, keys);
        await store.HeartbeatAsync("timeout-node", TimeSpan.FromSeconds(3), CancellationToken.None);

        _proxy.Cut();
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(!connection.IsConnected), TimeSpan.FromSeconds(10), "the connection is cut");
        var clock = Stopwatch.StartNew();
        var failure = await Record.ExceptionAsync(() => store.HeartbeatAsync("timeout-node", TimeSpan.FromSeconds(3), CancellationToken.None));
        var took = clock.Elapsed;

        Assert.True(failure is RedisException or TimeoutException, $"the call did not fail: {failure}");
        Assert.True(StoreErrors.IsTransient(failure!), failure!.ToString());
        // 2 s, plus the client's 250 ms heartbeat that finds timed-out calls in the backlog, plus slack; the
        // library's 5 s default would be well past it.
        Assert.True(took < TimeSpan.FromSeconds(4.5), $"the call failed after {took.TotalSeconds:F2} s");
    }
}
