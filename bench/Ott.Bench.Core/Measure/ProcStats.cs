using System.Diagnostics;

namespace Ott.Bench.Measure;

// Resident memory and CPU time of a local process, read from /proc (Linux only; null elsewhere).
internal static class ProcStats
{
    private const double ClockTicksPerSecond = 100; // USER_HZ on every mainstream Linux build

    public static long? RssBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim()) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }

    // The summed RSS of several processes (every node of a multi-node target); null if any is unreadable.
    public static long? RssBytes(IReadOnlyList<int> pids)
    {
        long sum = 0;
        foreach (var pid in pids)
        {
            if (RssBytes(pid) is not { } rss)
            {
                return null;
            }
            sum += rss;
        }
        return pids.Count == 0 ? null : sum;
    }

    // utime + stime of the process, in seconds.
    public static double? CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name may contain spaces; fields resume after its closing parenthesis.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11]) + long.Parse(fields[12])) / ClockTicksPerSecond;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}

// CPU use of the server (every node of a multi-node target, summed and per node), its store and
// the generator itself over one measured window.
internal sealed class CpuMeter
{
    private readonly int[] _servers;
    private readonly int? _store;
    private readonly double?[] _servers0;
    private readonly double? _store0;
    private readonly TimeSpan _self0 = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly long _start = Stopwatch.GetTimestamp();

    public CpuMeter(IReadOnlyList<int> serverPids, int? storePid)
    {
        _servers = [.. serverPids];
        _store = storePid;
        _servers0 = [.. _servers.Select(p => ProcStats.CpuSeconds(p))];
        _store0 = storePid is { } r ? ProcStats.CpuSeconds(r) : null;
    }

    // Percent of one core (200 = both cores of a 2-core machine).
    public CpuUse Stop()
    {
        var wall = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        double? Pct(int? pid, double? before) =>
            pid is { } p && before is { } b && ProcStats.CpuSeconds(p) is { } after ? Math.Round((after - b) / wall * 100, 1) : null;
        var self = (Process.GetCurrentProcess().TotalProcessorTime - _self0).TotalSeconds / wall * 100;
        var nodes = _servers.Select((p, i) => Pct(p, _servers0[i])).ToList();
        double? server = nodes.Count == 0 || nodes.Any(n => n is null) ? null : Math.Round(nodes.Sum(n => n!.Value), 1);
        return new CpuUse(server, Pct(_store, _store0), Math.Round(self, 1), nodes);
    }
}

// ServerPct: all server processes together; NodePcts: each of them, in node order.
internal sealed record CpuUse(double? ServerPct, double? StorePct, double GeneratorPct, IReadOnlyList<double?> NodePcts);
