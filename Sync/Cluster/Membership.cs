using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Ott.Sync.Storage;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Cluster;

/// <summary>
/// Heartbeats into the membership set, keeps the live set and the cluster clock, and reports when the
/// live set has settled (docs/architecture.md §4, §10.1). It also reports the changes other parts act on (§9.6):
/// a node that left (missing from two timely heartbeat results), this node having been pruned (it must
/// re-join its clients), and this node being cut off from the store for 2 × the lease TTL.
/// </summary>
internal sealed partial class Membership(
    RoomStore store,
    NodeIdentity node,
    ClusterClock clock,
    OttMetrics metrics,
    IOptions<ClusterOptions> options,
    IOptions<LeaseOptions> lease,
    NodeBus bus,
    ILogger<Membership> logger) : BackgroundService
{
    private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<string, long> _suspects = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _missing = new(StringComparer.Ordinal);
    private volatile IReadOnlyList<string> _live = [];
    private volatile bool _healthy;
    private volatile bool _stopped;
    private bool _beaten;
    private long _lastBeatCompleted;
    private long _lastSuccess;
    private bool _cutOff;

    public IReadOnlyList<string> LiveNodes => _live;

    public bool IsSettled => _settled.Task.IsCompleted;

    public bool LastHeartbeatSucceeded => _healthy;

    public bool IsStopped => _stopped;

    public Task WaitSettledAsync(CancellationToken ct) => _settled.Task.WaitAsync(ct);

    /// <summary>A node reported as gone (docs/architecture.md §9.6): owners drop its users, gateways re-join rooms it owned.</summary>
    public event Action<string>? NodeLeft;

    /// <summary>This node had been pruned from the live set while it still ran: it re-joins all its clients.</summary>
    public event Action? Pruned;

    /// <summary>This node could not reach the store for 2 × the lease TTL: it closes its sockets with 1012 (§7.4).</summary>
    public event Action? CutOff;

    /// <summary>How long without a successful heartbeat before this node closes its sockets with 1012.</summary>
    public TimeSpan CutOffAfter => lease.Value.Ttl * 2 + options.Value.HeartbeatInterval * 2;

    /// <summary>Usable for routing and placement: live and not suspect; this node while it is not draining.</summary>
    public bool IsUsable(string nodeId)
    {
        if (nodeId == node.Id)
        {
            return !_stopped;
        }
        if (_suspects.TryGetValue(nodeId, out var until))
        {
            if (clock.Time.GetTimestamp() < until)
            {
                return false;
            }
            _suspects.TryRemove(new KeyValuePair<string, long>(nodeId, until));
        }
        return _live.Contains(nodeId, StringComparer.Ordinal);
    }

    /// <summary>The nodes HRW placement chooses from (docs/architecture.md §9.3).</summary>
    public IEnumerable<string> UsableNodes()
    {
        var nodes = _live.Where(IsUsable).ToList();
        if (!_stopped && !nodes.Contains(node.Id, StringComparer.Ordinal))
        {
            nodes.Add(node.Id);
        }
        return nodes;
    }

    /// <summary>No process listens on the node's channel: not usable for one node timeout (§9.3 step 4).</summary>
    public void MarkSuspect(string nodeId)
    {
        if (nodeId != node.Id)
        {
            _suspects[nodeId] = clock.Time.GetTimestamp() + (long)(options.Value.NodeTimeout.TotalSeconds * clock.Time.TimestampFrequency);
        }
    }

    /// <summary>A <c>node_down</c> hint: the node drains, so it leaves placement at once.</summary>
    public void MarkDown(string nodeId)
    {
        MarkSuspect(nodeId);
        _live = [.. _live.Where(n => n != nodeId)];
    }

    /// <summary>Stops heartbeating and leaves the live set (the first step of a drain, docs/architecture.md §10.4).</summary>
    public async Task LeaveAsync(CancellationToken ct)
    {
        _stopped = true;
        _healthy = false;
        try
        {
            await store.RemoveNodeAsync(node.Id, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.HeartbeatFailed(logger, e, node.Id);
        }
    }

    /// <summary>Stops heartbeating without leaving the set (tests of a silent node).</summary>
    public void StopHeartbeating() => _stopped = true;

    internal async Task<bool> BeatAsync(CancellationToken ct)
    {
        var sent = clock.Time.GetUtcNow();
        var result = await store.HeartbeatAsync(node.Id, options.Value.NodeTimeout, ct);
        var received = clock.Time.GetUtcNow();
        clock.Sample(result.RedisTimeMs, sent, received);
        metrics.RedisRoundTrip(received - sent);
        var now = clock.Time.GetTimestamp();
        // A heartbeat that completes long after the previous one (this node or Redis stalled) updates
        // the live set but does not count toward NodeLeft (docs/architecture.md §9.6).
        var timely = _lastBeatCompleted != 0 && clock.Time.GetElapsedTime(_lastBeatCompleted, now) <= options.Value.HeartbeatInterval * 2;
        _lastBeatCompleted = now;
        _lastSuccess = now;
        _cutOff = false;
        if (result.Added && _beaten)
        {
            Log.WasPruned(logger, node.Id);
            Raise(Pruned);
        }
        _beaten = true;
        var changed = UpdateLive(result.LiveNodes);
        TrackDepartures(result.LiveNodes, timely);
        return changed;
    }

    private void TrackDepartures(IReadOnlyList<string> live, bool timely)
    {
        foreach (var id in live)
        {
            if (id != node.Id)
            {
                _missing[id] = 0;
            }
        }
        foreach (var id in _missing.Keys.ToList())
        {
            if (live.Contains(id, StringComparer.Ordinal) || !timely)
            {
                continue;
            }
            var count = _missing[id] + 1;
            if (count < 2)
            {
                _missing[id] = count;
                continue;
            }
            _missing.Remove(id);
            Log.NodeLeft(logger, id, node.Id);
            var handlers = NodeLeft;
            if (handlers is not null)
            {
                _ = Task.Run(() => handlers(id));
            }
        }
    }

    private static void Raise(Action? handlers)
    {
        if (handlers is not null)
        {
            _ = Task.Run(handlers);
        }
    }

    private bool UpdateLive(IReadOnlyList<string> live)
    {
        var changed = !live.Order(StringComparer.Ordinal).SequenceEqual(_live.Order(StringComparer.Ordinal));
        _live = live;
        return changed;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Subscribed to the node and cluster channels before the first heartbeat (docs/architecture.md §9.1).
        await bus.Ready.WaitAsync(stoppingToken);
        _lastSuccess = clock.Time.GetTimestamp();
        var watchdog = WatchAsync(stoppingToken);
        var unchanged = 0;
        using var timer = new PeriodicTimer(options.Value.HeartbeatInterval, clock.Time);
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!_stopped)
            {
                try
                {
                    var changed = await BeatAsync(stoppingToken);
                    _healthy = true;
                    // Settled once SettleHeartbeats heartbeats after the last change read the same live set
                    // (docs/architecture.md §10.1 step 4); the heartbeat that saw the change is not one of them.
                    unchanged = changed ? 0 : unchanged + 1;
                    if (unchanged >= options.Value.SettleHeartbeats && _settled.TrySetResult())
                    {
                        Log.Settled(logger, node.Id, _live.Count);
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e)
                {
                    _healthy = false;
                    Log.HeartbeatFailed(logger, e, node.Id);
                }
            }
            try
            {
                await timer.WaitForNextTickAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        await watchdog;
    }

    /// <summary>Runs apart from the heartbeat, whose call may hang on a cut connection.</summary>
    private async Task WatchAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.Value.HeartbeatInterval, clock.Time);
        var lastTick = clock.Time.GetTimestamp();
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                var now = clock.Time.GetTimestamp();
                var late = clock.Time.GetElapsedTime(lastTick, now) > options.Value.HeartbeatInterval * 2;
                lastTick = now;
                if (late)
                {
                    // This process itself was stalled (SIGSTOP, a GC or VM pause), not cut off: its
                    // heartbeat had no chance to reach the store. The cut-off clock starts again now,
                    // so a resumed node keeps its sockets and re-joins them instead (§9.6, T4, T8).
                    Volatile.Write(ref _lastSuccess, Math.Max(Volatile.Read(ref _lastSuccess), now));
                    continue;
                }
                // The last success precedes a cut by up to one heartbeat, and the first success after it follows
                // the reconnect by up to one more: so a cut shorter than 2 × TTL never closes sockets (§7.4).
                if (!_stopped && !_cutOff && clock.Time.GetElapsedTime(_lastSuccess) > CutOffAfter)
                {
                    _cutOff = true;
                    Log.CutOff(logger, node.Id);
                    Raise(CutOff);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Information, "Node {NodeId} settled with {LiveCount} live node(s)")]
        public static partial void Settled(ILogger logger, string nodeId, int liveCount);

        [LoggerMessage(LogLevel.Warning, "Heartbeat of node {NodeId} failed")]
        public static partial void HeartbeatFailed(ILogger logger, Exception e, string nodeId);

        [LoggerMessage(LogLevel.Warning, "Node {Gone} left the cluster (seen by {NodeId})")]
        public static partial void NodeLeft(ILogger logger, string gone, string nodeId);

        [LoggerMessage(LogLevel.Warning, "Node {NodeId} had been pruned from the live set; re-joining its clients")]
        public static partial void WasPruned(ILogger logger, string nodeId);

        [LoggerMessage(LogLevel.Error, "Node {NodeId} cannot reach the store; closing its sockets with 1012")]
        public static partial void CutOff(ILogger logger, string nodeId);
    }
}
