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
        plot.Axes.Bottom.TickGenerator = LogTicks();
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 1000, 520);
    }

    // One line per target: p99 latency (log scale) against offered load, with the latency bound drawn across.
    public static void Sweep(string path, string title, double boundMs, IReadOnlyDictionary<string, IReadOnlyList<(double Offered, double P99Ms)>> series)
    {
        var plot = new Plot();
        foreach (var (target, points) in series)
        {
            if (points.Count == 0)
            {
                continue;
            }
            var line = plot.Add.Scatter(points.Select(p => p.Offered / 1000).ToArray(), points.Select(p => Math.Log10(Math.Max(p.P99Ms, 0.1))).ToArray());
            line.LegendText = target;
            line.MarkerSize = 7;
            line.LineWidth = 2;
        }
        var bound = plot.Add.HorizontalLine(Math.Log10(boundMs));
        bound.LinePattern = LinePattern.Dashed;
        bound.LegendText = $"p99 = {boundMs} ms";
        plot.Title(title);
        plot.XLabel("offered deliveries per second (thousands)");
        plot.YLabel("p99 latency, ms (log scale)");
        plot.Axes.Left.TickGenerator = LogTicks();
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1000, 520);
    }

    // Ticks for an axis that carries log10 of its values: labelled with the values themselves, minor ticks between.
    private static ScottPlot.TickGenerators.NumericAutomatic LogTicks() => new()
    {
        MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
        IntegerTicksOnly = true,
        LabelFormatter = v => Math.Pow(10, v).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture),
    };
}
