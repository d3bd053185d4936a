using System.Diagnostics;
using HdrHistogram;

namespace Ott.Bench.Measure;

// Latencies in microseconds, recorded from many receive loops at once. HdrHistogram's LongHistogram
// is not thread-safe, so recording is striped over a few locked histograms and merged at the end.
internal sealed class LatencyRecorder
{
    public const long MaxMicros = 120_000_000;
    private const int Stripes = 16;

    private readonly LongHistogram[] _stripes = new LongHistogram[Stripes];
    private readonly Lock[] _locks = new Lock[Stripes];

    public LatencyRecorder()
    {
        for (var i = 0; i < Stripes; i++)
        {
            _stripes[i] = new LongHistogram(MaxMicros, 3);
            _locks[i] = new Lock();
        }
    }

    public static long Micros(long fromTimestamp, long toTimestamp) =>
        Math.Clamp((toTimestamp - fromTimestamp) * 1_000_000 / Stopwatch.Frequency, 0, MaxMicros);

    public void Record(int hint, long micros)
    {
        var i = (int)((uint)hint % Stripes);
        lock (_locks[i])
        {
            _stripes[i].RecordValue(Math.Max(1, micros));
        }
    }

    public LongHistogram Snapshot()
    {
        var total = new LongHistogram(MaxMicros, 3);
        for (var i = 0; i < Stripes; i++)
        {
            lock (_locks[i])
            {
                total.Add(_stripes[i]);
            }
        }
        return total;
    }
}
