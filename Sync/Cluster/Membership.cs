using Microsoft.Extensions.Options;
using Ott.Sync.Storage;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Cluster;

/// <summary>
/// Heartbeats into the membership set, keeps the live set and the cluster clock, and reports when the
/// live set has settled (design.md §4, §10.1). The core runs one node; the same loop serves many.
/// </summary>
internal sealed partial class Membership(
    RoomStore store,
    NodeIdentity node,
    ClusterClock clock,
    OttMetrics metrics,
    IOptions<ClusterOptions> options,
    ILogger<Membership> logger) : BackgroundService
{
    private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile IReadOnlyList<string> _live = [];
    private volatile bool _healthy;
    private volatile bool _stopped;

    public IReadOnlyList<string> LiveNodes => _live;

    public bool IsSettled => _settled.Task.IsCompleted;

    public bool LastHeartbeatSucceeded => _healthy;

    public Task WaitSettledAsync(CancellationToken ct) => _settled.Task.WaitAsync(ct);

    /// <summary>Stops heartbeating (the first step of a drain, design.md §10.4).</summary>
    public void StopHeartbeating() => _stopped = true;

    internal async Task<bool> BeatAsync(CancellationToken ct)
    {
        var sent = clock.Time.GetUtcNow();
        var result = await store.HeartbeatAsync(node.Id, options.Value.NodeTimeout, ct);
        var received = clock.Time.GetUtcNow();
        clock.Sample(result.RedisTimeMs, sent, received);
        metrics.RedisRoundTrip(received - sent);
        return UpdateLive(result.LiveNodes);
    }

    private bool UpdateLive(IReadOnlyList<string> live)
    {
        var changed = !live.Order(StringComparer.Ordinal).SequenceEqual(_live.Order(StringComparer.Ordinal));
        _live = live;
        return changed;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
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
                    unchanged = changed ? 1 : unchanged + 1;
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
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Information, "Node {NodeId} settled with {LiveCount} live node(s)")]
        public static partial void Settled(ILogger logger, string nodeId, int liveCount);

        [LoggerMessage(LogLevel.Warning, "Heartbeat of node {NodeId} failed")]
        public static partial void HeartbeatFailed(ILogger logger, Exception e, string nodeId);
    }
}
