namespace Ott.Sync.Cluster;

/// <summary>
/// Notices when this process itself was stopped (SIGSTOP, a VM or GC pause): a 100 ms timer that fires
/// late by more than a second. For a grace period after such a stall (at least 2 s, at least as long as the
/// stall), decisions about clients forgive what the stall caused: the frames that piled up for them and the
/// messages they sent meanwhile, which the node reads as one burst (docs/architecture.md §12).
/// </summary>
internal sealed partial class StallWatch(TimeProvider time, ILogger<StallWatch> logger) : BackgroundService
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Late = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MinimumGrace = TimeSpan.FromSeconds(2);

    private long _graceUntil;

    /// <summary>True while the node is within the grace period after a stall of its own.</summary>
    public bool InGrace => time.GetTimestamp() < Volatile.Read(ref _graceUntil);

    /// <summary>Records a stall that ended now (the timer's own detection, and tests).</summary>
    public void Stalled(TimeSpan length)
    {
        var grace = length > MinimumGrace ? length : MinimumGrace;
        Volatile.Write(ref _graceUntil, time.GetTimestamp() + (long)(grace.TotalSeconds * time.TimestampFrequency));
        Log.Stalled(logger, length.TotalMilliseconds);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Tick, time);
        var last = time.GetTimestamp();
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = time.GetTimestamp();
                var gap = time.GetElapsedTime(last, now);
                last = now;
                if (gap > Late)
                {
                    Stalled(gap);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "This node was stalled for {Milliseconds} ms; its clients are not charged for it")]
        public static partial void Stalled(ILogger logger, double milliseconds);
    }
}
