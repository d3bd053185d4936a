using Microsoft.AspNetCore.Mvc.Testing;
using Ott.Bench.Hosting;
using Ott.Bench.Scenarios;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Bench;

// Benchmarks never run in CI; this proves each scenario still works end to end, for a second or two,
// against Ott on a real Kestrel port (the generator uses real ClientWebSockets). Here the generator
// shares the test process with the server, which the real bench never does.
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

    [Fact]
    public async Task ForwardAndFailoverSayTheyAreNotYetMeasurable()
    {
        await using var target = new UrlTarget(new Uri("http://127.0.0.1:1"));
        var e = await Assert.ThrowsAsync<NotSupportedException>(() => BenchRunner.RunAsync("failover", target, new Dictionary<string, double>(), _ => { }, 1, CancellationToken.None));
        Assert.Contains("not yet measurable", e.Message, StringComparison.Ordinal);
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
