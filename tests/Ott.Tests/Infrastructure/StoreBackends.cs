using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging.Abstractions;
using Ott.Sync.Storage;

namespace Ott.Tests.Infrastructure;

public enum Backend
{
    Redis,
    Garnet,
    // A Redis Cluster of three masters (and three replicas): every script must keep to one slot.
    Cluster,
}

// The backends of the §8 contract tests: the shared redis-server, the shared Redis Cluster and an embedded Garnet.
[SuppressMessage("Design", "CA1001", Justification = "xunit disposes fixtures through IAsyncLifetime.DisposeAsync.")]
public sealed class StoreBackends : IAsyncLifetime
{
    private readonly RedisServer _redis = new();
    private readonly GarnetFixture _garnet = new();
    private readonly RedisCluster _cluster = new();
    private RedisConnection? _redisConnection;
    private RedisConnection? _clusterConnection;

    internal RedisConnection Connection(Backend backend) => backend switch
    {
        Backend.Redis => _redisConnection ?? throw new InvalidOperationException("not started"),
        Backend.Cluster => _clusterConnection ?? throw new InvalidOperationException("not started"),
        _ => _garnet.Connection,
    };

    // A fresh key prefix per call, so tests never see each other's rooms or nodes.
    internal (RoomStore Store, RedisKeys Keys) NewStore(Backend backend)
    {
        var keys = new RedisKeys($"t{Guid.NewGuid():N}:");
        return (new RoomStore(Connection(backend), keys), keys);
    }

    public async Task InitializeAsync()
    {
        await Task.WhenAll(_redis.InitializeAsync(), _garnet.InitializeAsync(), _cluster.InitializeAsync());
        _redisConnection = new RedisConnection(_redis.ConnectionString, new StorageOptions(), Path.GetTempPath(), new RedisKeys("ott:"), NullLoggerFactory.Instance);
        _clusterConnection = new RedisConnection(_cluster.Server.ConnectionString, new StorageOptions(), Path.GetTempPath(), new RedisKeys("ott:"), NullLoggerFactory.Instance);
        await Task.WhenAll(_redisConnection.ConnectAsync(CancellationToken.None), _clusterConnection.ConnectAsync(CancellationToken.None));
    }

    public async Task DisposeAsync()
    {
        if (_redisConnection is not null)
        {
            await _redisConnection.DisposeAsync();
        }

        if (_clusterConnection is not null)
        {
            await _clusterConnection.DisposeAsync();
        }

        await _garnet.DisposeAsync();
        await _redis.DisposeAsync();
        await _cluster.DisposeAsync();
    }
}

// One redis-server, one Redis Cluster and one Garnet serve every contract test class: each test is milliseconds,
// while each Garnet costs most of a second and a few hundred MB.
[CollectionDefinition(Name)]
public sealed class BackendsCollection : ICollectionFixture<StoreBackends>
{
    public const string Name = "Backends";
}

// xunit makes a class instance per test, so each test gets its own 10 s budget (docs/architecture.md §15.2).
public abstract class StoreTest(StoreBackends backends) : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    protected StoreBackends Backends => backends;

    protected CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _timeout.Dispose();
        GC.SuppressFinalize(this);
    }
}
