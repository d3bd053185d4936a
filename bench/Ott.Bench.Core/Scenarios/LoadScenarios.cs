using System.Diagnostics;
using Ott.Bench.Measure;
using Ott.Bench.Report;
using Ott.Bench.Wire;

namespace Ott.Bench.Scenarios;

internal static class LoadScenarios
{
    // fanout: R rooms × U members; member 0 of each room plays, seeks, pauses and chats at `rate`
    // requests/s; latency is measured at every member, the sender included.
    public static Task<RunResult> FanoutAsync(BenchContext ctx, CancellationToken ct)
    {
        var rooms = ctx.GetInt("rooms", 100);
        var members = ctx.GetInt("members", 10);
        var rate = ctx.Get("rate", 2);
        return RunAsync(ctx, "fanout", rooms, members, rate, chatty: false, ct);
    }

    // chatty: OTT's "chatty users": every member of every room sends a chat every `interval-ms`.
    public static Task<RunResult> ChattyAsync(BenchContext ctx, CancellationToken ct)
    {
        var rooms = ctx.GetInt("rooms", 40);
        var members = ctx.GetInt("members", 5);
        var intervalMs = ctx.Get("interval-ms", 50);
        return RunAsync(ctx, "chatty", rooms, members, 1000 / intervalMs, chatty: true, ct);
    }

    private static async Task<RunResult> RunAsync(BenchContext ctx, string scenario, int rooms, int members, double rate, bool chatty, CancellationToken ct)
    {
        var warmup = TimeSpan.FromSeconds(ctx.Get("warmup", 2));
        var duration = TimeSpan.FromSeconds(ctx.Get("duration", 10));
        var concurrency = ctx.GetInt("join-concurrency", 32);
        using var api = ctx.Api();
        var nodes = ctx.Nodes();
        var senders = chatty ? rooms * members : rooms;
        var roomSender = Enumerable.Range(0, rooms).Select(r => chatty ? -1 : r).ToArray();
        var receivers = Enumerable.Repeat(members, rooms).ToArray();
        var engine = new LoadEngine(senders, LoadEngine.MaxSends(rate, warmup, duration), roomSender, receivers, rooms * members);
        ctx.Status($"{scenario}: joining {rooms * members} members in {rooms} rooms");
        await using var population = await Population.CreateAsync(api, rooms, members, concurrency,
            (s, f, at) => engine.OnFrame(s, f, at, s.Room * members + s.Index),
            n => { if (n % 200 == 0) ctx.Status($"{scenario}: joined {n}/{rooms * members}"); }, ct, nodes);

        var plan = chatty
            ? population.All.Select(s => (s.Room * members + s.Index, s, (Func<long, byte[]>)(k => Requests.Chat(s.Room * members + s.Index, k)))).ToList()
            : population.Members.Select((m, r) => (r, m[0], (Func<long, byte[]>)(k => Requests.FanoutStep(r, k)))).ToList();

        var pids = ctx.Target.ServerPids;
        await using var ops = await RedisOps.StartAsync(ctx.Target.Redis);
        var cpu = new CpuMeter(pids, ctx.Target.StorePid);
        var started = Stopwatch.GetTimestamp();
        using var ticker = new CancellationTokenSource();
        var display = Task.Run(async () =>
        {
            while (!ticker.IsCancellationRequested)
            {
                var snap = engine.Latency.Snapshot();
                var percentiles = snap.TotalCount == 0 ? "" :
                    $"p50 {snap.GetValueAtPercentile(50) / 1000.0:0.00} ms  p99 {snap.GetValueAtPercentile(99) / 1000.0:0.00} ms  ";
                ctx.Status($"{scenario} {ctx.Target.Name}: {Stopwatch.GetElapsedTime(started).TotalSeconds:0}s  delivered {engine.Delivered:N0}  {percentiles}errors {engine.ErrorFrames}");
                try
                {
                    await Task.Delay(500, ticker.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }, CancellationToken.None);
        var expected = await engine.RunAsync(plan, rate, warmup, duration, ct);
        // Let in-flight frames land; whatever has not arrived within the drain window counts as lost.
        var drain = Stopwatch.GetTimestamp();
        while (engine.Delivered < expected && Stopwatch.GetElapsedTime(drain) < TimeSpan.FromSeconds(ctx.Get("drain", 5)))
        {
            await Task.Delay(50, ct);
        }
        var use = cpu.Stop();
        var window = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var redisOps = await ops.StopAsync();
        await ticker.CancelAsync();
        await display;
        var rss = ProcStats.RssBytes(pids);
        var hist = engine.Latency.Snapshot();
        var closed = population.All.Count(s => s.Closed);
        var result = new RunResult
        {
            Scenario = scenario,
            Target = ctx.Target.Name,
            Repeat = ctx.Repeat,
            Parameters = new(ctx.Used),
            Latency = LatencySummary.From("intended send -> receipt at each member", hist),
            SecondaryLatency = LatencySummary.From("actual send -> receipt at each member", engine.FromActualSend.Snapshot()),
            Metrics =
            {
                ["sockets"] = rooms * members,
                ["sends_per_s"] = Math.Round(expected / (double)members / duration.TotalSeconds, 1),
                ["offered_per_s"] = Math.Round(rooms * members * rate * (chatty ? members : 1), 1),
                ["delivered_per_s"] = Math.Round(engine.Delivered / duration.TotalSeconds, 1),
                ["expected"] = expected,
                ["delivered"] = engine.Delivered,
                ["lost"] = Math.Max(0, expected - engine.Delivered),
                ["error_frames"] = engine.ErrorFrames,
                ["unmatched"] = engine.Unmatched,
                ["closed_sockets"] = closed,
                ["p50_ms"] = hist.TotalCount > 0 ? hist.GetValueAtPercentile(50) / 1000.0 : null,
                ["p99_ms"] = hist.TotalCount > 0 ? hist.GetValueAtPercentile(99) / 1000.0 : null,
                ["send_lag_p50_ms"] = engine.SendLag.Snapshot() is { TotalCount: > 0 } lag ? lag.GetValueAtPercentile(50) / 1000.0 : null,
                ["send_lag_p99_ms"] = engine.SendLag.Snapshot() is { TotalCount: > 0 } lag2 ? lag2.GetValueAtPercentile(99) / 1000.0 : null,
                ["server_cpu_pct"] = use.ServerPct,
                ["store_cpu_pct"] = use.StorePct,
                ["redis_ops_per_s"] = redisOps,
                ["generator_cpu_pct"] = use.GeneratorPct,
                ["server_rss_mb"] = rss is { } b ? Math.Round(b / 1048576.0, 1) : null,
            },
        };
        if (use.ServerPct is { } serverPct && engine.Delivered > 0)
        {
            // Server CPU time (all nodes together) per delivery: the CPU window spans warm-up, measurement and drain,
            // and deliveries flow at the measured rate through warm-up and measurement.
            var deliveries = engine.Delivered / duration.TotalSeconds * (warmup + duration).TotalSeconds;
            result.Metrics["server_cpu_us_per_delivery"] = Math.Round(serverPct / 100 * window * 1e6 / deliveries, 2);
        }
        AddPerNode(result, pids, use);
        return result;
    }

    // joins: N sockets opened as fast as the server takes them (C at a time) into R rooms; latency from
    // socket open to `you`, and from the start of the connect (TCP + upgrade) to `you`.
    public static async Task<RunResult> JoinsAsync(BenchContext ctx, CancellationToken ct)
    {
        var sockets = ctx.GetInt("sockets", 2000);
        var rooms = ctx.GetInt("rooms", 100);
        var concurrency = ctx.GetInt("join-concurrency", 32);
        using var api = ctx.Api();
        var nodes = ctx.Nodes();
        var tokens = await Population.GrantsAsync(api, sockets, ct);
        var names = await Population.CreateRoomsAsync(api, tokens, rooms, temporary: true, ct);
        var handshake = new LatencyRecorder();
        var full = new LatencyRecorder();
        var opened = new List<BenchSocket>(sockets);
        var failures = 0;
        var done = 0;
        var pids = ctx.Target.ServerPids;
        var cpu = new CpuMeter(pids, ctx.Target.StorePid);
        var started = Stopwatch.GetTimestamp();
        double wall;
        CpuUse cpuUse;
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, sockets), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct }, async (i, token) =>
            {
                var begin = Stopwatch.GetTimestamp();
                try
                {
                    var (socket, open, you) = await Population.JoinAsync(api, names[i % rooms], i % rooms, i / rooms, tokens[i % tokens.Length], null, token,
                        Population.Node(nodes, i / rooms));
                    handshake.Record(i, LatencyRecorder.Micros(open, you));
                    full.Record(i, LatencyRecorder.Micros(begin, you));
                    lock (opened)
                    {
                        opened.Add(socket);
                    }
                }
                catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or TimeoutException or IOException or HttpRequestException)
                {
                    Interlocked.Increment(ref failures);
                }
                if (Interlocked.Increment(ref done) % 200 == 0)
                {
                    ctx.Status($"joins {ctx.Target.Name}: {done}/{sockets}");
                }
            });
        }
        finally
        {
            wall = Stopwatch.GetElapsedTime(started).TotalSeconds;
            cpuUse = cpu.Stop();
            ctx.Status($"joins {ctx.Target.Name}: closing {opened.Count} sockets");
            await Parallel.ForEachAsync(opened, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (s, _) => await s.DisposeAsync());
        }
        var h = handshake.Snapshot();
        var result = new RunResult
        {
            Scenario = "joins",
            Target = ctx.Target.Name,
            Repeat = ctx.Repeat,
            Parameters = new(ctx.Used),
            Latency = LatencySummary.From("socket open -> you", h),
            SecondaryLatency = LatencySummary.From("connect start -> you", full.Snapshot()),
            Metrics =
            {
                ["joins"] = h.TotalCount,
                ["failures"] = failures,
                ["joins_per_s"] = Math.Round(h.TotalCount / wall, 1),
                ["p50_ms"] = h.TotalCount > 0 ? h.GetValueAtPercentile(50) / 1000.0 : null,
                ["p99_ms"] = h.TotalCount > 0 ? h.GetValueAtPercentile(99) / 1000.0 : null,
                ["server_cpu_pct"] = cpuUse.ServerPct,
                ["store_cpu_pct"] = cpuUse.StorePct,
                ["generator_cpu_pct"] = cpuUse.GeneratorPct,
            },
        };
        AddPerNode(result, [], cpuUse);
        return result;
    }

    // idle: N authenticated sockets held open; the server's RSS before and after, per socket.
    public static async Task<RunResult> IdleAsync(BenchContext ctx, CancellationToken ct)
    {
        var sockets = ctx.GetInt("sockets", 5000);
        var rooms = ctx.GetInt("rooms", 500);
        var hold = TimeSpan.FromSeconds(ctx.Get("hold", 5));
        using var api = ctx.Api();
        var nodes = ctx.Nodes();
        var pids = ctx.Target.ServerPids;
        // Warm the server's join path first, so one-time JIT and pool growth are not billed to sockets.
        await using (await Population.CreateAsync(api, 2, 2, 4, null, null, ct, nodes))
        {
        }
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        var before = ProcStats.RssBytes(pids);
        var generatorBefore = Environment.WorkingSet;
        await using var population = await Population.CreateAsync(api, rooms, sockets / rooms, ctx.GetInt("join-concurrency", 32), null,
            n => { if (n % 500 == 0) ctx.Status($"idle {ctx.Target.Name}: joined {n}/{sockets}"); }, ct, nodes);
        ctx.Status($"idle {ctx.Target.Name}: holding {sockets} sockets for {hold.TotalSeconds:0} s");
        var cpu = new CpuMeter(pids, ctx.Target.StorePid);
        await Task.Delay(hold, ct);
        var use = cpu.Stop();
        var after = ProcStats.RssBytes(pids);
        var held = population.All.Count(s => !s.Closed);
        var result = new RunResult
        {
            Scenario = "idle",
            Target = ctx.Target.Name,
            Repeat = ctx.Repeat,
            Parameters = new(ctx.Used),
            Metrics =
            {
                ["sockets_held"] = held,
                ["server_rss_before_mb"] = before is { } b ? Math.Round(b / 1048576.0, 1) : null,
                ["server_rss_after_mb"] = after is { } a ? Math.Round(a / 1048576.0, 1) : null,
                ["server_rss_per_socket_kb"] = before is { } b2 && after is { } a2 && held > 0 ? Math.Round((a2 - b2) / 1024.0 / held, 2) : null,
                ["generator_rss_per_socket_kb"] = Math.Round((Environment.WorkingSet - generatorBefore) / 1024.0 / Math.Max(1, held), 2),
                ["server_cpu_pct_idle"] = use.ServerPct,
                ["store_cpu_pct_idle"] = use.StorePct,
                ["generator_cpu_pct_idle"] = use.GeneratorPct,
            },
            Notes = { "RSS includes rooms' actors and memory the GC has not returned; it is an upper bound per socket." },
        };
        AddPerNode(result, pids, use, "_idle");
        return result;
    }

    // With several nodes, server_cpu_pct and server_rss_mb are the sums over every node; each node's
    // own share is added as node<i>_cpu_pct and node<i>_rss_mb (node 1 owns the rooms; the rest are gateways).
    internal static void AddPerNode(RunResult result, IReadOnlyList<int> pids, CpuUse use, string suffix = "")
    {
        if (use.NodePcts.Count <= 1)
        {
            return;
        }
        for (var i = 0; i < use.NodePcts.Count; i++)
        {
            result.Metrics[$"node{i + 1}_cpu_pct{suffix}"] = use.NodePcts[i];
            if (i < pids.Count)
            {
                result.Metrics[$"node{i + 1}_rss_mb"] = ProcStats.RssBytes(pids[i]) is { } b ? Math.Round(b / 1048576.0, 1) : null;
            }
        }
    }
}
