using Ott.Bench.Hosting;
using Ott.Bench.Report;

namespace Ott.Bench.Scenarios;

internal static class BenchRunner
{
    public static readonly string[] Scenarios = ["fanout", "joins", "idle", "chatty", "restore", "baseline", "forward", "failover"];

    public static readonly string[] NotYetMeasurable = ["forward", "failover"];

    public const string NotYetMeasurableText =
        "not yet measurable: forward and failover are not written yet; `run fanout --nodes N --store redis` measures event fan-out through gateway nodes";

    // Runs one scenario against a started target. "baseline" is fanout; the caller points it at the baseline server.
    public static Task<RunResult> RunAsync(string scenario, IBenchTarget target, IReadOnlyDictionary<string, double> parameters,
        Action<string> status, int repeat, CancellationToken ct)
    {
        var ctx = new BenchContext(target, parameters, status, repeat);
        return scenario switch
        {
            "fanout" or "baseline" => LoadScenarios.FanoutAsync(ctx, ct),
            "chatty" => LoadScenarios.ChattyAsync(ctx, ct),
            "joins" => LoadScenarios.JoinsAsync(ctx, ct),
            "idle" => LoadScenarios.IdleAsync(ctx, ct),
            "restore" => RestoreScenario.RunAsync(ctx, ct),
            _ when NotYetMeasurable.Contains(scenario) => throw new NotSupportedException(NotYetMeasurableText),
            _ => throw new ArgumentException($"unknown scenario {scenario}; one of {string.Join(", ", Scenarios)}"),
        };
    }

    // --smoke: each scenario for a second or two, to prove it works (the CI test uses these too).
    public static Dictionary<string, double> SmokeParameters(string scenario) => scenario switch
    {
        "fanout" or "baseline" => new() { ["rooms"] = 2, ["members"] = 3, ["rate"] = 20, ["warmup"] = 0.2, ["duration"] = 1, ["drain"] = 2 },
        "chatty" => new() { ["rooms"] = 2, ["members"] = 3, ["interval-ms"] = 50, ["warmup"] = 0.2, ["duration"] = 1, ["drain"] = 2 },
        "joins" => new() { ["sockets"] = 20, ["rooms"] = 4, ["join-concurrency"] = 8 },
        "idle" => new() { ["sockets"] = 20, ["rooms"] = 4, ["hold"] = 0.5 },
        "restore" => new() { ["rooms"] = 10, ["timeout"] = 30 },
        _ => [],
    };
}
