using System.Globalization;
using System.Text.Json;
using Ott.Bench.Hosting;
using Ott.Bench.Report;
using Ott.Bench.Scenarios;
using Spectre.Console;

namespace Ott.Bench;

// Ott.Bench: a load generator that speaks OTT only over the wire (REST + raw WebSockets).
//   run <scenario> [--target ott|baseline|url] [--store redis|cluster|embedded] [--nodes N] [--url U] [--repeats N]
//                  [--out DIR] [--label NAME] [--smoke] [--<parameter> <number>]...
// --nodes N (Ott on redis-server or a cluster): N Ott processes on one store; rooms are created on node 1
// and member k of each room joins through node k mod N. forward starts 2 nodes and failover 3 unless
// --nodes says otherwise; failover takes --signal kill|stop (SIGKILL, the default, or SIGSTOP of node 1).
// --sweep L1,L2,... (chatty only) runs one chatty point per offered load L (deliveries/s = rooms x members^2 x
// sends per member per s; the rooms are what grows), each against a fresh target, under the label "sweep" unless --label says otherwise;
// `report` then tabulates p99 against offered load and draws one line per target.
//   report --results DIR [--readme FILE]
internal static class BenchProgram
{
    public static async Task<int> Main(string[] args)
    {
        // Thousands of receive loops plus one schedule per sender: with the default minimum (one thread per
        // core) a brief block lets the pool grow only slowly, and sends drift from their schedule.
        ThreadPool.SetMinThreads(Math.Max(16, Environment.ProcessorCount * 4), Environment.ProcessorCount * 4);
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine("usage: Ott.Bench run <" + string.Join('|', BenchRunner.Scenarios) + "> [options] | report --results DIR [--readme FILE]");
            return 0;
        }
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        var numbers = new Dictionary<string, double>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        for (var i = args[0] == "run" ? 2 : 1; i < args.Length; i++)
        {
            var name = args[i].TrimStart('-');
            if (name == "smoke")
            {
                flags.Add(name);
            }
            else if (i + 1 < args.Length)
            {
                var value = args[++i];
                if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                {
                    numbers[name] = number;
                }
                options[name] = value;
            }
        }

        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };

        if (args[0] == "report")
        {
            var dir = options.GetValueOrDefault("results", "bench/results");
            Summary.Write(dir, options.GetValueOrDefault("readme"));
            return 0;
        }

        if (args[0] != "run" || args.Length < 2)
        {
            Console.Error.WriteLine("expected `run <scenario>` or `report`");
            return 2;
        }
        var scenario = args[1];
        if (options.TryGetValue("signal", out var signal))
        {
            // Kept among the numeric parameters as the signal's number, so the result records it.
            numbers["signal"] = signal switch
            {
                "kill" or "9" => FailoverScenario.SigKill,
                "stop" or "19" => FailoverScenario.SigStop,
                _ => -1,
            };
            if (scenario != "failover" || numbers["signal"] < 0)
            {
                Console.Error.WriteLine("--signal kill|stop belongs to the failover scenario");
                return 2;
            }
        }
        var parameters = flags.Contains("smoke") ? BenchRunner.SmokeParameters(scenario) : [];
        foreach (var (k, v) in numbers)
        {
            parameters[k] = v;
        }
        var repeats = (int)numbers.GetValueOrDefault("repeats", 1);
        parameters.Remove("repeats");
        parameters.Remove("sweep");
        double[]? sweep = null;
        if (options.TryGetValue("sweep", out var loads))
        {
            sweep = [.. loads.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(l => double.Parse(l, NumberStyles.Float, CultureInfo.InvariantCulture))];
            if (scenario != "chatty" || sweep.Length == 0 || sweep.Any(l => l <= 0))
            {
                Console.Error.WriteLine("--sweep L1,L2,... (offered deliveries per second, each > 0) belongs to the chatty scenario");
                return 2;
            }
        }
        parameters.Remove("nodes");
        var outDir = options.GetValueOrDefault("out", "bench/results");
        Directory.CreateDirectory(outDir);
        var stopped = scenario == "failover" && parameters.GetValueOrDefault("signal") == FailoverScenario.SigStop;
        var label = options.GetValueOrDefault("label", stopped ? "failover-stop" : sweep is not null ? "sweep" : scenario);
        var targetKind = scenario == "baseline" ? "baseline" : options.GetValueOrDefault("target", "ott");
        var store = options.GetValueOrDefault("store", "redis") switch
        {
            "embedded" => StoreKind.Embedded,
            "cluster" => StoreKind.Cluster,
            _ => StoreKind.Redis,
        };
        var root = options.GetValueOrDefault("root", ".");
        var nodes = numbers.TryGetValue("nodes", out var n) ? (int)n
            : targetKind == "ott" && store != StoreKind.Embedded ? BenchRunner.DefaultNodes(scenario) : 1;
        if (nodes != 1 && (targetKind != "ott" || store == StoreKind.Embedded || scenario == "restore"))
        {
            Console.Error.WriteLine("--nodes N needs the Ott target with --store redis or cluster, and a scenario other than restore");
            return 2;
        }
        if (scenario is "forward" or "failover" && targetKind == "ott" && nodes < 2)
        {
            Console.Error.WriteLine($"{scenario} needs at least 2 nodes: Ott with --store redis (and --nodes 2 or more, if given)");
            return 2;
        }
        var results = new List<RunResult>();

        foreach (var offered in sweep ?? [0])
        {
            var point = new Dictionary<string, double>(parameters, StringComparer.Ordinal);
            if (offered > 0)
            {
                // deliveries/s = rooms x members^2 x (1000 / interval-ms). Each member keeps its chat rate (an ordinary
                // user's, inside any server's per-socket limit), and the load grows with the number of rooms.
                var members = point.GetValueOrDefault("members", 5);
                var interval = point.GetValueOrDefault("interval-ms", 50);
                point["rooms"] = Math.Max(1, Math.Round(offered * interval / (1000 * members * members)));
            }
            for (var repeat = 1; repeat <= repeats; repeat++)
            {
                await using IBenchTarget target = targetKind switch
                {
                    "url" => new UrlTarget(new Uri(options["url"])),
                    "baseline" => new LocalServer(ServerKind.Baseline, StoreKind.Embedded,
                        options.GetValueOrDefault("baseline-dll", Path.Combine(root, "bench/Ott.Bench.Baseline/bin/Release/net10.0/Ott.Bench.Baseline.dll"))),
                    _ => new LocalServer(ServerKind.Ott, store, options.GetValueOrDefault("ott-dll", Path.Combine(root, "bin/Release/net10.0/Ott.dll")), nodes,
                        BenchRunner.ServerEnvironment(scenario, point)),
                };
                RunResult? result = null;
                await AnsiConsole.Status().Spinner(Spinner.Known.Dots).StartAsync($"{label}: starting {target.Name}", async status =>
                {
                    await target.StartAsync(cts.Token);
                    result = await BenchRunner.RunAsync(scenario, target, point, text => status.Status(Markup.Escape(text)), repeat, cts.Token);
                });
                result = result! with { Scenario = label };
                results.Add(result);
                var at = offered > 0 ? $"-{offered.ToString(CultureInfo.InvariantCulture)}" : "";
                var file = Path.Combine(outDir, $"{label}-{target.Name}{at}-r{repeat}.json");
                await File.WriteAllTextAsync(file, JsonSerializer.Serialize(result, BenchJson.Default.RunResult), cts.Token);
                AnsiConsole.MarkupLineInterpolated($"[green]{label}[/] {target.Name}{at} repeat {repeat}/{repeats} -> {file}");
            }
        }
        Summary.PrintTable(results);
        return 0;
    }
}
