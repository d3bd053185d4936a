using ScottPlot;

namespace Ott.Bench.Report;

internal static class Plots
{
    // One line per target: the share of messages in each log-spaced latency bin, so the shape of the
    // distribution (and its tail) is visible, not just the percentiles.
    public static void Histogram(string path, string title, IReadOnlyDictionary<string, LatencySummary> series)
    {
        var plot = new Plot();
        foreach (var (target, latency) in series)
        {
            if (latency.Count == 0)
            {
                continue;
            }
            var xs = latency.Bins.Select(b => Math.Log10(b[0])).ToArray();
            var ys = latency.Bins.Select(b => b[1] * 100.0 / latency.Count).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = $"{target} (p50 {latency.P50Ms:0.##} ms, p99 {latency.P99Ms:0.##} ms)";
            line.MarkerSize = 0;
            line.LineWidth = 2;
        }
        plot.Title(title);
        plot.XLabel("latency, ms (log scale)");
        plot.YLabel("% of messages per bin (bins ×2^¼)");
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = x => Math.Pow(10, x).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture),
        };
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 1000, 520);
    }
}
