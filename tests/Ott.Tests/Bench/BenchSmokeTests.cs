using Microsoft.AspNetCore.Mvc.Testing;
using Ott.Bench.Hosting;
using Ott.Bench.Scenarios;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Bench;

// Benchmarks never run in CI; this proves each scenario still works end to end, for a second or two,
// against Ott on a real Kestrel port (the generator uses real ClientWebSockets). Here the generator
// shares the test process with the server, which the real bench never does, except for failover
// and forward, which need several nodes and so start Ott.dll child processes as the bench does.
public sealed class BenchSmokeTests
{
    [Theory]
    [InlineData("fanout")]
    [InlineData("chatty")]
    [InlineData("joins")]
    [InlineData("idle")]
    public async Task ScenarioRunsAgainstAnInTestServer(string scenario)
    {
        await using var target = new InTestOtt(new RedisServer(), $"bench-{Guid.NewGuid():N}:");
        await target.StartAsync(CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var result = await BenchRunner.RunAsync(scenario, target, BenchRunner.SmokeParameters(scenario), _ => { }, 1, timeout.Token);

        Assert.Equal(scenario, result.Scenario);
        if (scenario is "fanout" or "chatty")
        {
            Assert.True(result.Metrics["delivered"] > 0);
            Assert.Equal(0, result.Metrics["lost"]);
            Assert.Equal(0, result.Metrics["error_frames"]);
            Assert.True(result.Latency!.Count > 0);
        }
        else if (scenario == "joins")
        {
            Assert.Equal(20, result.Metrics["joins"]);
            Assert.Equal(0, result.Metrics["failures"]);
        }
        else
        {
            Assert.Equal(20, result.Metrics["sockets_held"]);
        }
    }

    [Fact]
    public async Task RestoreServesEverySeededRoom()
    {
        await using var target = new InTestOtt(new RedisServer(), $"bench-{Guid.NewGuid():N}:");
        await target.StartAsync(CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var result = await BenchRunner.RunAsync("restore", target, BenchRunner.SmokeParameters("restore"), _ => { }, 1, timeout.Token);

        Assert.Equal(0, result.Metrics["not_served"]);
        Assert.NotNull(result.Metrics["all_leased_s"]);
    }

    [Fact]
    public async Task BaselineFanoutRunsAgainstTheBaselineProcess()
    {
        await using var target = new LocalServer(ServerKind.Baseline, StoreKind.Embedded, BaselineDll());
        await target.StartAsync(CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var result = await BenchRunner.RunAsync("baseline", target, BenchRunner.SmokeParameters("baseline"), _ => { }, 1, timeout.Token);

        Assert.True(result.Metrics["delivered"] > 0);
        Assert.Equal(0, result.Metrics["lost"]);
    }

    // failover and forward need several nodes, so they run against Ott.dll child processes on their own
    // redis-server, as the real bench does (the ProjectReference copies Ott.dll next to the tests).
    [Theory]
    [InlineData(FailoverScenario.SigKill)]
    [InlineData(FailoverScenario.SigStop)]
    public async Task FailoverRecoversEveryRoomAfterNode1Dies(int signal)
    {
        var parameters = BenchRunner.SmokeParameters("failover");
        parameters["signal"] = signal;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var target = new LocalServer(ServerKind.Ott, StoreKind.Redis, OttChildProcess.ServerDll,
            BenchRunner.DefaultNodes("failover"), BenchRunner.ServerEnvironment("failover", parameters));
        await target.StartAsync(timeout.Token);

        var result = await BenchRunner.RunAsync("failover", target, parameters, _ => { }, 1, timeout.Token);

        var rooms = parameters["rooms"];
        Assert.Equal(rooms, result.Metrics["rooms"]);
        Assert.Equal(rooms, result.Metrics["recovered"]);
        Assert.Equal(0, result.Metrics["not_recovered"]);
        Assert.Equal(FailoverScenario.DefaultTtl * 1000, result.Metrics["lease_ttl_ms"]);
        Assert.True(result.Metrics["recovery_min_ms"] > 0, $"recovery_min_ms {result.Metrics["recovery_min_ms"]}");
        Assert.True(result.Metrics["recovery_max_ms"] <= parameters["timeout"] * 1000, $"recovery_max_ms {result.Metrics["recovery_max_ms"]}");
        Assert.True(result.Metrics["recovery_p50_ms"] <= result.Metrics["recovery_max_ms"]);
        // Every room's lease moved off node 1, to node 2 or node 3.
        Assert.Equal(rooms, result.Metrics["new_owner_node2"] + result.Metrics["new_owner_node3"]);
        Assert.True(result.Metrics["new_lease_max_ms"] > 0);
        Assert.True(result.Metrics["rtt_before_p50_ms"] > 0);
        Assert.Equal(0, result.Metrics["closed_sockets"]);
        Assert.Equal((double)signal, result.Parameters["signal"]);
        if (signal == FailoverScenario.SigStop)
        {
            // Thawed, node 1 finds its leases gone and fences itself: the writers keep going.
            Assert.Equal(rooms, result.Metrics["acknowledging_after_thaw"]);
        }
    }

    [Fact]
    public async Task ForwardMeasuresTheOwnerSideAndTheGatewaySide()
    {
        var parameters = BenchRunner.SmokeParameters("forward");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var target = new LocalServer(ServerKind.Ott, StoreKind.Redis, OttChildProcess.ServerDll, BenchRunner.DefaultNodes("forward"));
        await target.StartAsync(timeout.Token);

        var result = await BenchRunner.RunAsync("forward", target, parameters, _ => { }, 1, timeout.Token);

        Assert.Equal(2, result.Parameters["nodes"]);
        Assert.True(result.Metrics["owner_seen"] > 0);
        Assert.True(result.Metrics["gateway_seen"] > 0);
        Assert.Equal(result.Metrics["owner_expected"], result.Metrics["owner_seen"]);
        Assert.Equal(result.Metrics["gateway_expected"], result.Metrics["gateway_seen"]);
        Assert.Equal(0, result.Metrics["lost"]);
        Assert.Equal(0, result.Metrics["error_frames"]);
        Assert.Equal(0, result.Metrics["unmatched"]);
        Assert.True(result.Metrics["owner_p50_ms"] > 0);
        Assert.True(result.Metrics["gateway_p50_ms"] > 0);
        Assert.NotNull(result.Metrics["forward_cost_p50_ms"]);
        Assert.True(result.Latency!.Count > 0 && result.SecondaryLatency!.Count > 0);
    }

    // The baseline is built next to this test project (a ProjectReference without its assembly).
    private static string BaselineDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Ott.csproj")))
        {
            dir = dir.Parent;
        }
        var bin = Path.Combine(dir!.FullName, "bench", "Ott.Bench.Baseline", "bin");
        return Directory.EnumerateFiles(bin, "Ott.Bench.Baseline.dll", SearchOption.AllDirectories)
            .OrderByDescending(File.GetLastWriteTimeUtc).First();
    }

    // Ott on a real Kestrel port inside the test process; a restart is a new app on the same Redis and prefix.
    private sealed class InTestOtt(RedisServer redis, string prefix) : IBenchTarget
    {
        private OttApplication? _app;
        private bool _redisStarted;

        public string Name => "ott-in-test";

        public Uri BaseUrl { get; private set; } = new("http://127.0.0.1/");

        public int? ServerPid => Environment.ProcessId;

        public int? StorePid => null;

        public string? Redis => redis.ConnectionString;

        public string KeyPrefix => prefix;

        public bool CanRestart => true;

        public async Task StartAsync(CancellationToken ct)
        {
            if (!_redisStarted)
            {
                await redis.InitializeAsync();
                _redisStarted = true;
            }
            var app = new OttApplication(redis, ownsRedis: false, prefix, new Dictionary<string, string?> { ["Connections:MaxPerIp"] = "0" });
            app.UseKestrel(0);
            app.StartServer();
            _app = app;
            BaseUrl = app.ClientOptions.BaseAddress;
        }

        public async Task StopAsync(CancellationToken ct)
        {
            if (_app is { } app)
            {
                _app = null;
                await app.DisposeAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync(CancellationToken.None);
            if (_redisStarted)
            {
                await redis.DisposeAsync();
            }
        }
    }
}
