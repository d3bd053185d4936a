using Ott.Bench.Hosting;
using Ott.Bench.Report;

namespace Ott.Bench.Scenarios;

internal static class BenchRunner
{
    public static readonly string[] Scenarios = ["fanout", "joins", "idle", "chatty", "restore", "baseline", "forward", "failover"];

    // How many Ott nodes a local target starts for a scenario when --nodes does not say: failover
    // kills node 1 and needs a gateway and a spare (3); forward needs an owner and a gateway (2).
    public static int DefaultNodes(string scenario) => scenario switch
    {
        "failover" => 3,
        "forward" => 2,
        _ => 1,
    };

    // What a scenario adds to every local Ott node's environment (failover: short leases and heartbeats).
    public static IReadOnlyDictionary<string, string?> ServerEnvironment(string scenario, IReadOnlyDictionary<string, double> parameters) =>
        scenario == "failover" ? FailoverScenario.ServerEnvironment(parameters) : new Dictionary<string, string?>();

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
            "forward" => ForwardScenario.RunAsync(ctx, ct),
            "failover" => FailoverScenario.RunAsync(ctx, ct),
            _ => throw new ArgumentException($"unknown scenario {scenario}; one of {string.Join(", ", Scenarios)}"),
        };
    }

    // --smoke: each scenario for a second or two (failover: a few seconds after the kill, forward: 2 s),
    // to prove it works (the CI test uses these too).
    public static Dictionary<string, double> SmokeParameters(string scenario) => scenario switch
    {
        "fanout" or "baseline" => new() { ["rooms"] = 2, ["members"] = 3, ["rate"] = 20, ["warmup"] = 0.2, ["duration"] = 1, ["drain"] = 2 },
        "chatty" => new() { ["rooms"] = 2, ["members"] = 3, ["interval-ms"] = 50, ["warmup"] = 0.2, ["duration"] = 1, ["drain"] = 2 },
        "joins" => new() { ["sockets"] = 20, ["rooms"] = 4, ["join-concurrency"] = 8 },
        "idle" => new() { ["sockets"] = 20, ["rooms"] = 4, ["hold"] = 0.5 },
        "restore" => new() { ["rooms"] = 10, ["timeout"] = 30 },
        "failover" => new() { ["rooms"] = 4, ["warmup"] = 1, ["timeout"] = 15, ["after"] = 0.5, ["thaw"] = 1 },
        "forward" => new() { ["rooms"] = 4, ["warmup"] = 0.5, ["duration"] = 2, ["drain"] = 2 },
        _ => [],
    };
}
