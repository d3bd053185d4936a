using System.Text.Json.Serialization;
using HdrHistogram;

namespace Ott.Bench.Report;

// One scenario run against one target: what was asked, what was measured, and the latency
// distribution (percentiles plus log-spaced bins for the histogram image).
internal sealed record RunResult
{
    public required string Scenario { get; init; }
    public required string Target { get; init; }
    public int Repeat { get; init; }
    public DateTimeOffset At { get; init; } = DateTimeOffset.UtcNow;
    public Dictionary<string, double> Parameters { get; init; } = [];
    public Dictionary<string, double?> Metrics { get; init; } = [];
    public LatencySummary? Latency { get; init; }
    public LatencySummary? SecondaryLatency { get; init; }
    public List<string> Notes { get; init; } = [];
    // Per-item figures kept in the JSON but not tabulated by `report` (failover: each room's recovery).
    public Dictionary<string, double?>? Details { get; init; }
}

internal sealed record LatencySummary
{
    public string What { get; init; } = "";
    public long Count { get; init; }
    public double MeanMs { get; init; }
    public double P50Ms { get; init; }
    public double P90Ms { get; init; }
    public double P99Ms { get; init; }
    public double P999Ms { get; init; }
    public double MaxMs { get; init; }
    // [upper bound in ms, count] per bin; bins grow by 2^(1/4).
    public List<double[]> Bins { get; init; } = [];

    public static LatencySummary From(string what, LongHistogram h)
    {
        if (h.TotalCount == 0)
        {
            return new LatencySummary { What = what };
        }
        static double Ms(long micros) => Math.Round(micros / 1000.0, 3);
        var bins = new List<double[]>();
        var upper = 50.0; // µs
        long counted = 0;
        foreach (var v in h.RecordedValues())
        {
            while (v.ValueIteratedTo > upper)
            {
                bins.Add([Math.Round(upper / 1000, 4), counted]);
                counted = 0;
                upper *= Math.Pow(2, 0.25);
            }
            counted += v.CountAtValueIteratedTo;
        }
        bins.Add([Math.Round(upper / 1000, 4), counted]);
        return new LatencySummary
        {
            What = what,
            Count = h.TotalCount,
            MeanMs = Math.Round(h.GetMean() / 1000, 3),
            P50Ms = Ms(h.GetValueAtPercentile(50)),
            P90Ms = Ms(h.GetValueAtPercentile(90)),
            P99Ms = Ms(h.GetValueAtPercentile(99)),
            P999Ms = Ms(h.GetValueAtPercentile(99.9)),
            MaxMs = Ms(h.GetMaxValue()),
            Bins = bins,
        };
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(RunResult))]
[JsonSerializable(typeof(List<RunResult>))]
internal sealed partial class BenchJson : JsonSerializerContext;
