using System.Diagnostics;
using System.Net.WebSockets;
using HdrHistogram;
using Ott.Bench.Measure;
using Ott.Bench.Report;
using Ott.Bench.Wire;

namespace Ott.Bench.Scenarios;

// forward: two nodes on one redis-server (--nodes 2, the default for this scenario). R rooms are
// created on node 1, which owns them; each room has one client joined through node 1 (the owner)
// and one through node 2 (a gateway). Each client seeks every `interval-ms`, the two half an
// interval apart, on a fixed open-loop schedule. A round trip runs from a seek's intended send time
// to the moment its sender sees the seek's own effect: the event carrying its value, or a sync whose
// playbackPosition is its value, whichever comes first. The owner-side client's seek goes straight
// to the room's actor; the gateway-side client's is forwarded over Redis pub/sub to the owner and
// acknowledged back (docs/architecture.md §5.2), and the event comes back through the room channel.
// The difference of the two is what forwarding costs.
internal static class ForwardScenario
{
    public static async Task<RunResult> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var rooms = ctx.GetInt("rooms", 50);
        var intervalMs = ctx.Get("interval-ms", 100);
        var warmup = TimeSpan.FromSeconds(ctx.Get("warmup", 2));
        var duration = TimeSpan.FromSeconds(ctx.Get("duration", 10));
        var drain = TimeSpan.FromSeconds(ctx.Get("drain", 3));
        var concurrency = ctx.GetInt("join-concurrency", 32);
        var nodes = ctx.Nodes() ?? throw new NotSupportedException(
            "forward needs two nodes: run it against Ott with --store redis (2 nodes unless --nodes says otherwise)");
        ctx.Status($"forward {ctx.Target.Name}: waiting for {nodes.Count} nodes to settle");
        await OttApi.WaitSettledAsync(nodes, TimeSpan.FromSeconds(60), ct);
        using var api = ctx.Api();
        var rate = 1000 / intervalMs;
        var engine = new RoundTrips(rooms, LoadEngine.MaxSends(rate, warmup, duration));
        ctx.Status($"forward {ctx.Target.Name}: joining {rooms * 2} clients in {rooms} rooms");
        // Member 0 joins through node 1 (the owner), member 1 through node 2 (Population.Node).
        await using var population = await Population.CreateAsync(api, rooms, 2, concurrency, engine.OnFrame, null, ct, nodes);

        var pids = ctx.Target.ServerPids;
        var cpu = new CpuMeter(pids, ctx.Target.StorePid);
        var started = Stopwatch.GetTimestamp();
        using var ticker = new CancellationTokenSource();
        var display = Task.Run(async () =>
        {
            while (!ticker.IsCancellationRequested)
            {
                ctx.Status($"forward {ctx.Target.Name}: {Stopwatch.GetElapsedTime(started).TotalSeconds:0}s  owner {Describe(engine.Owner.Snapshot())}  " +
                    $"gateway {Describe(engine.Gateway.Snapshot())}  errors {engine.ErrorFrames}");
                try
                {
                    await Task.Delay(500, ticker.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }, CancellationToken.None);
        var expected = await engine.RunAsync(population.Members, intervalMs, warmup, duration, ct);
        var waited = Stopwatch.GetTimestamp();
        while ((engine.Delivered(0) < expected[0] || engine.Delivered(1) < expected[1]) && Stopwatch.GetElapsedTime(waited) < drain)
        {
            await Task.Delay(50, ct);
        }
        var use = cpu.Stop();
        await ticker.CancelAsync();
        await display;
        var rss = ProcStats.RssBytes(pids);
        var owner = engine.Owner.Snapshot();
        var gateway = engine.Gateway.Snapshot();
        var ownerActual = engine.OwnerActual.Snapshot();
        var gatewayActual = engine.GatewayActual.Snapshot();
        var lag = engine.SendLag.Snapshot();
        var result = new RunResult
        {
            Scenario = "forward",
            Target = ctx.Target.Name,
            Repeat = ctx.Repeat,
            Parameters = new(ctx.Used),
            Latency = LatencySummary.From("gateway-side client: intended send -> its own seek seen", gateway),
            SecondaryLatency = LatencySummary.From("owner-side client: intended send -> its own seek seen", owner),
            Metrics =
            {
                ["sockets"] = rooms * 2,
                ["sends_per_s"] = Math.Round((expected[0] + expected[1]) / duration.TotalSeconds, 1),
                ["owner_expected"] = expected[0],
                ["owner_seen"] = engine.Delivered(0),
                ["gateway_expected"] = expected[1],
                ["gateway_seen"] = engine.Delivered(1),
                ["lost"] = Math.Max(0, expected[0] - engine.Delivered(0)) + Math.Max(0, expected[1] - engine.Delivered(1)),
                ["error_frames"] = engine.ErrorFrames,
                ["unmatched"] = engine.Unmatched,
                ["closed_sockets"] = population.All.Count(s => s.Closed),
                ["owner_p50_ms"] = Ms(owner, 50),
                ["owner_p99_ms"] = Ms(owner, 99),
                ["owner_p99.9_ms"] = Ms(owner, 99.9),
                ["owner_max_ms"] = owner.TotalCount > 0 ? owner.GetMaxValue() / 1000.0 : null,
                ["gateway_p50_ms"] = Ms(gateway, 50),
                ["gateway_p99_ms"] = Ms(gateway, 99),
                ["gateway_p99.9_ms"] = Ms(gateway, 99.9),
                ["gateway_max_ms"] = gateway.TotalCount > 0 ? gateway.GetMaxValue() / 1000.0 : null,
                ["forward_cost_p50_ms"] = Difference(Ms(gateway, 50), Ms(owner, 50)),
                ["forward_cost_p99_ms"] = Difference(Ms(gateway, 99), Ms(owner, 99)),
                ["owner_from_actual_send_p50_ms"] = Ms(ownerActual, 50),
                ["owner_from_actual_send_p99_ms"] = Ms(ownerActual, 99),
                ["gateway_from_actual_send_p50_ms"] = Ms(gatewayActual, 50),
                ["gateway_from_actual_send_p99_ms"] = Ms(gatewayActual, 99),
                ["forward_cost_from_actual_send_p50_ms"] = Difference(Ms(gatewayActual, 50), Ms(ownerActual, 50)),
                ["send_lag_p50_ms"] = Ms(lag, 50),
                ["send_lag_p99_ms"] = Ms(lag, 99),
                ["server_cpu_pct"] = use.ServerPct,
                ["store_cpu_pct"] = use.StorePct,
                ["generator_cpu_pct"] = use.GeneratorPct,
                ["server_rss_mb"] = rss is { } b ? Math.Round(b / 1048576.0, 1) : null,
            },
            Notes =
            {
                "forward: owner_* are clients on node 1, which owns every room; gateway_* are clients on node 2, whose seeks are forwarded to node 1; " +
                "a round trip ends when the sender sees its own seek (event or sync); forward_cost = gateway - owner.",
            },
        };
        LoadScenarios.AddPerNode(result, pids, use);
        return result;
    }

    private static double? Ms(LongHistogram h, double percentile) =>
        h.TotalCount > 0 ? h.GetValueAtPercentile(percentile) / 1000.0 : null;

    private static double? Difference(double? a, double? b) => a is { } x && b is { } y ? Math.Round(x - y, 3) : null;

    private static string Describe(LongHistogram h) =>
        h.TotalCount == 0 ? "–" : $"p50 {h.GetValueAtPercentile(50) / 1000.0:0.00} ms p99 {h.GetValueAtPercentile(99) / 1000.0:0.00} ms";

    // Two senders per room: sender 2r is room r's owner-side client (side 0), 2r + 1 its gateway-side
    // client (side 1). Seek k of a sender carries the value 2(k + 1) + side, so every value names its
    // sender and neither 0 (the initial position) nor 1 is ever sent.
    private sealed class RoundTrips
    {
        private readonly long[][] _intended;
        private readonly long[][] _actual;
        private readonly int[][] _seen;
        private readonly long[] _sent;
        private readonly long[] _delivered = new long[2];
        private long _measureFrom = long.MaxValue;
        private long _measureUntil = long.MaxValue;
        private long _errors;
        private long _unmatched;

        public RoundTrips(int rooms, int maxSends)
        {
            _intended = [.. Enumerable.Range(0, rooms * 2).Select(_ => new long[maxSends])];
            _actual = [.. Enumerable.Range(0, rooms * 2).Select(_ => new long[maxSends])];
            _seen = [.. Enumerable.Range(0, rooms * 2).Select(_ => new int[maxSends])];
            _sent = new long[rooms * 2];
        }

        public LatencyRecorder Owner { get; } = new();

        public LatencyRecorder Gateway { get; } = new();

        public LatencyRecorder OwnerActual { get; } = new();

        public LatencyRecorder GatewayActual { get; } = new();

        public LatencyRecorder SendLag { get; } = new();

        public long ErrorFrames => Interlocked.Read(ref _errors);

        public long Unmatched => Interlocked.Read(ref _unmatched);

        public long Delivered(int side) => Interlocked.Read(ref _delivered[side]);

        public void OnFrame(BenchSocket socket, Frame frame, long at)
        {
            long value;
            switch (frame.Kind)
            {
                case FrameKind.Error:
                    Interlocked.Increment(ref _errors);
                    return;
                case FrameKind.Event when frame.RequestType == 4 && frame.Seq >= 0:
                    value = frame.Seq;
                    break;
                case FrameKind.Sync when frame.Position >= 0 && frame.Position == Math.Floor(frame.Position):
                    value = (long)frame.Position;
                    break;
                default:
                    return;
            }
            var side = socket.Index;
            if (value % 2 != side)
            {
                // The other client's seek: not this sender's round trip.
                return;
            }
            var k = value / 2 - 1;
            var sender = socket.Room * 2 + side;
            if (k < 0 || k >= Volatile.Read(ref _sent[sender]))
            {
                if (frame.Kind == FrameKind.Event)
                {
                    Interlocked.Increment(ref _unmatched);
                }
                return;
            }
            // The event and the batch's sync both show a seek; the first one to arrive counts.
            if (Interlocked.Exchange(ref _seen[sender][k], 1) != 0)
            {
                return;
            }
            var intended = _intended[sender][k];
            if (intended < _measureFrom || intended >= _measureUntil)
            {
                return;
            }
            Interlocked.Increment(ref _delivered[side]);
            (side == 0 ? Owner : Gateway).Record(sender, LatencyRecorder.Micros(intended, at));
            (side == 0 ? OwnerActual : GatewayActual).Record(sender, LatencyRecorder.Micros(_actual[sender][k], at));
        }

        // Runs every sender's schedule; returns how many seeks each side sent in the measured window.
        public async Task<long[]> RunAsync(BenchSocket[][] members, double intervalMs, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
        {
            var rooms = members.Length;
            var interval = (long)(intervalMs / 1000 * Stopwatch.Frequency);
            var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
            _measureFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
            _measureUntil = _measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            var expected = new long[rooms * 2];
            await Parallel.ForEachAsync(Enumerable.Range(0, rooms * 2), new ParallelOptions { MaxDegreeOfParallelism = rooms * 2, CancellationToken = ct },
                async (sender, token) =>
                {
                    var (room, side) = (sender / 2, sender % 2);
                    var socket = members[room][side];
                    // Owner-side clients spread over the first half of each interval, gateway-side ones
                    // over the second: a room's two clients seek half an interval apart.
                    var offset = interval * (side * rooms + room) / (2 * rooms);
                    var times = _intended[sender];
                    for (long k = 0; k < times.Length; k++)
                    {
                        var intended = start + offset + k * interval;
                        if (intended >= _measureUntil || socket.Closed)
                        {
                            break;
                        }
                        await LoadEngine.SleepUntilAsync(intended, token);
                        times[k] = intended;
                        var now = Stopwatch.GetTimestamp();
                        _actual[sender][k] = now;
                        SendLag.Record(sender, LatencyRecorder.Micros(intended, now));
                        Volatile.Write(ref _sent[sender], k + 1);
                        if (intended >= _measureFrom)
                        {
                            expected[sender]++;
                        }
                        try
                        {
                            await socket.SendAsync(Requests.Seek(2 * (k + 1) + side), token);
                        }
                        catch (Exception e) when (e is WebSocketException or IOException)
                        {
                            break;
                        }
                    }
                });
            return [expected.Where((_, i) => i % 2 == 0).Sum(), expected.Where((_, i) => i % 2 == 1).Sum()];
        }
    }
}
