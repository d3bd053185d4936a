using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Ott.Sync.Cluster;
using Ott.Sync.Storage;
using Ott.Sync.Telemetry;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;

namespace Ott.Tests.Unit;

// The 1012 cut-off (docs/architecture.md §7.4): a node closes its sockets only when no heartbeat has succeeded
// for 2 × Lease:Ttl + 2 × Cluster:HeartbeatInterval, so a store cut shorter than 2 × TTL never closes them.
// The last success precedes a cut by up to one heartbeat, and the first success after it follows the
// reconnect by up to one more; a cut-off at 2 × TTL (the rule before issue 13's fix) closed the sockets of a
// node cut for 3.05 s with a TTL of 2 s. Membership runs on fake time against a real Redis, reached through a
// ChaosProxy that the test cuts, so each heartbeat really succeeds or fails and the test sets when.
[SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test class through IAsyncLifetime.DisposeAsync.")]
public sealed class CutOffTests : IAsyncLifetime
{
    private static readonly TimeSpan Heartbeat = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);

    private readonly FakeTimeProvider _time = new();
    private readonly RedisServer _redis = new();
    private readonly CountingLogger<Membership> _log = new();
    private readonly TestMeterFactory _meters = new();
    private readonly CancellationTokenSource _stop = new();
    private ChaosProxy _proxy = null!;
    private RedisConnection _connection = null!;
    private NodeBus _bus = null!;
    private Membership _membership = null!;
    private int _cutOffs;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _proxy = new ChaosProxy(_redis.Endpoint);
        var keys = new RedisKeys($"cutoff-{Guid.NewGuid():N}:");
        // The heartbeat's script and the client library's paths warmed up on a patient connection first, so
        // the impatient one below does not time out on a cold start.
        await using (var warm = new RedisConnection(_redis.ConnectionString, new StorageOptions(), Path.GetTempPath(), keys, NullLoggerFactory.Instance))
        {
            await warm.ConnectAsync(_stop.Token);
            await new RoomStore(warm, keys).HeartbeatAsync("warm-up", Heartbeat, _stop.Token);
        }
        // A heartbeat that cannot reach the store fails within a few hundred ms (RedisConnection bounds a call's
        // wait in the backlog, while the connection is down, by the async timeout too).
        _connection = new RedisConnection($"{_proxy.ConnectionString},asyncTimeout=300,connectTimeout=300",
            new StorageOptions(), Path.GetTempPath(), keys, NullLoggerFactory.Instance);
        await _connection.ConnectAsync(_stop.Token);
        var node = new NodeIdentity(Options.Create(new NodeOptions { Name = "cutoff" }));
        var clock = new ClusterClock(_time);
        var metrics = new OttMetrics(_meters);
        _bus = new NodeBus(_connection, keys, node, clock, metrics, NullLogger<NodeBus>.Instance);
        await _bus.StartAsync(_stop.Token);
        _membership = new Membership(new RoomStore(_connection, keys), node, clock, metrics,
            Options.Create(new ClusterOptions { HeartbeatInterval = Heartbeat, NodeTimeout = Heartbeat * 3 }),
            Options.Create(new LeaseOptions { Ttl = Ttl, RenewInterval = TimeSpan.FromMilliseconds(400) }),
            _bus, _log);
        _membership.CutOff += () => Interlocked.Increment(ref _cutOffs);
        await _membership.StartAsync(_stop.Token);
        // A heartbeat succeeds (the first may still time out): the test's time 0.
        await WaitUntil.WaitUntilAsync(() =>
        {
            if (!_membership.LastHeartbeatSucceeded && Failed > 0)
            {
                _log.Reset();
                _time.Advance(Heartbeat);
            }
            return Task.FromResult(_membership.LastHeartbeatSucceeded);
        }, TimeSpan.FromSeconds(10), "a heartbeat succeeds");
        _log.Reset();
    }

    public async Task DisposeAsync()
    {
        _proxy.Heal();
        await _stop.CancelAsync();
        await _membership.StopAsync(CancellationToken.None);
        _membership.Dispose();
        await _bus.StopAsync(CancellationToken.None);
        _bus.Dispose();
        await _connection.DisposeAsync();
        _proxy.Dispose();
        _meters.Dispose();
        _stop.Dispose();
        await _redis.DisposeAsync();
    }

    private int Failed => _log.Count("HeartbeatFailed");

    private int CutOffsLogged => _log.Count("CutOff");

    // One heartbeat interval on the fake clock; returns once that heartbeat has failed (real time passes
    // meanwhile, so the watchdog, which ticks on the same clock, has looked too).
    private async Task FailingBeatAsync()
    {
        var failed = Failed;
        _time.Advance(Heartbeat);
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(Failed > failed), TimeSpan.FromSeconds(10), "the heartbeat fails");
    }

    private async Task SucceedingBeatAsync()
    {
        _proxy.Heal();
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(_connection.IsConnected), TimeSpan.FromSeconds(10), "the store connection is back");
        var failed = Failed;
        _time.Advance(Heartbeat);
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(_membership.LastHeartbeatSucceeded), TimeSpan.FromSeconds(10), "the heartbeat succeeds");
        Assert.Equal(failed, Failed);
    }

    private async Task CutAsync()
    {
        _proxy.Cut();
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(!_connection.IsConnected), TimeSpan.FromSeconds(10), "the store connection is cut");
    }

    [Fact]
    public async Task ACutJustShorterThanTwiceTheTtlInTheWorstHeartbeatPhaseKeepsTheSockets()
    {
        // Heartbeats every 500 ms, TTL 2 s. The last success was at 0; the cut starts just before the
        // heartbeat at 0.5 s and lasts just under 4 s (2 × TTL), to just before 4.5 s; the reconnect takes a
        // moment, so the heartbeat at 4.5 s fails too, and the one at 5 s succeeds: 5 s without a success.
        await CutAsync();
        for (var beat = 1; beat <= 9; beat++)
        {
            await FailingBeatAsync();
        }
        await SucceedingBeatAsync();
        Assert.True(CutOffsLogged == 0 && Volatile.Read(ref _cutOffs) == 0, "the node reported a cut-off (its sockets closed with 1012) during a cut shorter than 2 × TTL");
    }

    [Fact]
    public async Task NoSuccessForLongerThanTwiceTheTtlPlusTwoHeartbeatsClosesTheSockets()
    {
        await CutAsync();
        // 5 s (2 × TTL + 2 heartbeats) without a success is not yet a cut-off...
        for (var beat = 1; beat <= 10; beat++)
        {
            await FailingBeatAsync();
        }
        Assert.Equal(0, CutOffsLogged);

        // ...5.5 s is.
        await FailingBeatAsync();
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(Volatile.Read(ref _cutOffs) == 1), TimeSpan.FromSeconds(10), "the node reports its cut-off");
        Assert.Equal(1, CutOffsLogged);
    }
}

// Counts log entries by event name (the LoggerMessage method's name).
internal sealed class CountingLogger<T> : ILogger<T>
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

    public int Count(string eventName) => _counts.GetValueOrDefault(eventName);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Reset() => _counts.Clear();

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _counts.AddOrUpdate(eventId.Name ?? "", 1, (_, n) => n + 1);
}
