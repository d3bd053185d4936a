namespace Ott.Sync.Cluster;

/// <summary>
/// Wall-clock time corrected to the Redis server's TIME (docs/architecture.md §11). Playback anchors use it, so a
/// handoff does not shift playback by the skew between nodes. Lease deadlines never use it.
/// </summary>
public sealed class ClusterClock(TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Queue<(TimeSpan Rtt, TimeSpan Offset)> _samples = new();
    private TimeSpan _offset;

    public TimeProvider Time => time;

    public DateTimeOffset Now => time.GetUtcNow() + _offset;

    public TimeSpan Offset => _offset;

    /// <summary>Records a TIME reading taken between two local instants; keeps the best of the last 10.</summary>
    public void Sample(long redisTimeMs, DateTimeOffset localSend, DateTimeOffset localReceive)
    {
        var rtt = localReceive - localSend;
        var midpoint = localSend + rtt / 2;
        var offset = DateTimeOffset.FromUnixTimeMilliseconds(redisTimeMs) - midpoint;
        lock (_gate)
        {
            _samples.Enqueue((rtt, offset));
            while (_samples.Count > 10)
            {
                _samples.Dequeue();
            }
            _offset = _samples.MinBy(s => s.Rtt).Offset;
        }
    }
}
