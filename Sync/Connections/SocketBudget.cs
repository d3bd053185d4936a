namespace Ott.Sync.Connections;

/// <summary>
/// The per-socket message budget (docs/protocol.md §9): a token bucket refilled lazily from elapsed time.
/// One per socket and used only by its receive loop, so it needs no lock and no timer — thousands of
/// sockets would otherwise mean thousands of replenishment timers.
/// </summary>
internal sealed class SocketBudget(int perSecond, int burst, TimeProvider time, Func<bool>? forgive = null)
{
    private double _tokens = burst;
    private long _last = time.GetTimestamp();

    public bool TryTake()
    {
        var now = time.GetTimestamp();
        _tokens = Math.Min(burst, _tokens + time.GetElapsedTime(_last, now).TotalSeconds * perSecond);
        _last = now;
        if (_tokens < 1)
        {
            // After this node's own stall the messages queued meanwhile arrive as one burst: the client
            // sent them over the stall, not at once (docs/architecture.md §12).
            return forgive?.Invoke() ?? false;
        }
        _tokens -= 1;
        return true;
    }
}
