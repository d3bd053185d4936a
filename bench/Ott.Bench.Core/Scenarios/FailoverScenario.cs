using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using HdrHistogram;
using Ott.Bench.Hosting;
using Ott.Bench.Measure;
using Ott.Bench.Report;
using Ott.Bench.Wire;
using StackExchange.Redis;

namespace Ott.Bench.Scenarios;

// failover: N Ott nodes (3 by default) on one redis-server with short leases. R rooms are created on
// node 1, which therefore owns them (docs/architecture.md §10.2). Each room has one writer, joined
// through node 2 (a gateway), that seeks every `interval-ms` to its next sequence number. Once every
// writer has seen a seek of its own come back, node 1 is SIGKILLed (`--signal stop`: SIGSTOPped, and
// SIGCONTed at the end). Per room, recovery is the time from the signal to the first frame showing
// a seek that was *sent* after it: the seek's event, or a sync whose playbackPosition is its value
// (a room applies its requests in batches and sends one delta sync per batch, so a sync carries
// the batch's last seek; one socket's requests are applied in order, so that value acknowledges
// the earlier ones too, docs/architecture.md §9.4). The rooms never play, so the position is the
// value exactly. Also watched: the time until each room's lease is held under a new token in
// Redis, which node took it, error frames and closed sockets. With SIGSTOP, node 1 is thawed while
// the writers still write, `thaw` seconds before the end: it wakes up believing it owns every room
// until it finds its deadlines passed (docs/architecture.md §7.4), and the writers must not notice.
internal static class FailoverScenario
{
    public const double DefaultTtl = 2;
    public const int SigKill = 9;
    public const int SigStop = 19;

    // Every node's timings, from `ttl` (s): Lease:Ttl = ttl, Lease:RenewInterval = ttl / 5,
    // Cluster:HeartbeatInterval = ttl / 4, Cluster:NodeTimeout = ttl × 0.75. At the default 2 s these
    // are the fault tests' 2 s, 400 ms, 500 ms and 1.5 s (docs/architecture.md §10.3); Ott's
    // validation (2 × renew + max(500 ms, ttl / 10) < ttl) needs ttl ≥ 1 s. Workstation GC, as in the
    // fault tests: three servers and the generator share the machine (docs/architecture.md §15.2).
    public static Dictionary<string, string?> ServerEnvironment(IReadOnlyDictionary<string, double> parameters)
    {
        var ttl = TimeSpan.FromSeconds(parameters.TryGetValue("ttl", out var t) ? t : DefaultTtl);
        static string Format(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);
        return new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Lease__Ttl"] = Format(ttl),
            ["Lease__RenewInterval"] = Format(ttl / 5),
            ["Cluster__HeartbeatInterval"] = Format(ttl / 4),
            ["Cluster__NodeTimeout"] = Format(ttl * 0.75),
            ["DOTNET_gcServer"] = "0",
        };
    }

    public static async Task<RunResult> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var rooms = ctx.GetInt("rooms", 20);
        var intervalMs = ctx.Get("interval-ms", 50);
        var warmup = TimeSpan.FromSeconds(ctx.Get("warmup", 3));
        var timeout = TimeSpan.FromSeconds(ctx.Get("timeout", 15));
        var after = TimeSpan.FromSeconds(ctx.Get("after", 1));
        var ttl = ctx.Get("ttl", DefaultTtl);
        var signalNumber = ctx.GetInt("signal", SigKill);
        var signal = signalNumber switch
        {
            SigKill => NodeSignal.Kill,
            SigStop => NodeSignal.Stop,
            _ => throw new ArgumentException($"--signal must be kill ({SigKill}) or stop ({SigStop}), not {signalNumber}"),
        };
        var signalName = signal == NodeSignal.Kill ? "SIGKILL" : "SIGSTOP";
        var thaw = signal == NodeSignal.Stop ? TimeSpan.FromSeconds(ctx.Get("thaw", 2)) : TimeSpan.Zero;
        var target = ctx.Target;
        var nodes = ctx.Nodes() ?? throw new NotSupportedException(
            "failover needs several nodes: run it against Ott with --store redis (3 nodes unless --nodes says otherwise)");
        ctx.Status($"failover {target.Name}: waiting for {nodes.Count} nodes to settle");
        await OttApi.WaitSettledAsync(nodes, TimeSpan.FromSeconds(60), ct);

        using var api = ctx.Api();
        var tokens = await Population.GrantsAsync(api, rooms, ct);
        var names = await Population.CreateRoomsAsync(api, tokens, rooms, temporary: true, ct);
        var maxSends = (int)Math.Ceiling((warmup + TimeSpan.FromSeconds(10) + timeout + after).TotalMilliseconds / intervalMs) + 16;
        var writers = new Writers(rooms, maxSends);
        var sockets = new BenchSocket[rooms];
        ConnectionMultiplexer? redis = null;
        using var sending = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var loops = Array.Empty<Task>();
        var leases = Task.CompletedTask;
        var signalled = false;
        var thawed = false;
        try
        {
            ctx.Status($"failover {target.Name}: joining {rooms} writers through node 2");
            await Parallel.ForEachAsync(Enumerable.Range(0, rooms), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (r, token) =>
            {
                var (socket, _, _) = await Population.JoinAsync(api, names[r], r, 0, tokens[(r + 1) % tokens.Length], writers.OnFrame, token, nodes[1]);
                sockets[r] = socket;
            });

            // Each room's lease token as node 1 holds it, to see when another node has taken it.
            string?[] leasesBefore = new string?[rooms];
            RedisKey[] leaseKeys = [.. names.Select(n => (RedisKey)$"{target.KeyPrefix}room:{{{n.ToLowerInvariant()}}}:lease")];
            if (target.Redis is { } endpoint)
            {
                redis = await ConnectionMultiplexer.ConnectAsync(endpoint);
                leasesBefore = [.. (await redis.GetDatabase().StringGetAsync(leaseKeys)).Select(v => (string?)v)];
            }

            var interval = (long)(intervalMs / 1000 * Stopwatch.Frequency);
            var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
            loops = [.. Enumerable.Range(0, rooms).Select(r => Task.Run(
                () => writers.SendLoopAsync(r, sockets[r], start + interval * r / rooms, interval, sending.Token), CancellationToken.None))];

            // Warm up, then make sure every writer's seeks are acknowledged before the fault.
            var warm = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(warm) < warmup || writers.RoomsAcknowledgedBefore() < rooms)
            {
                if (Stopwatch.GetElapsedTime(warm) > warmup + TimeSpan.FromSeconds(10))
                {
                    throw new InvalidOperationException(
                        $"only {writers.RoomsAcknowledgedBefore()}/{rooms} writers had a seek acknowledged {warmup.TotalSeconds + 10:0} s after they started; nothing was signalled");
                }
                ctx.Status($"failover {target.Name}: warming up, {writers.RoomsAcknowledgedBefore()}/{rooms} writers acknowledged");
                await Task.Delay(100, ct);
            }

            ctx.Status($"failover {target.Name}: {signalName} to node 1");
            var killAt = Stopwatch.GetTimestamp();
            writers.MarkKill(killAt);
            signalled = true;
            await target.SignalNodeAsync(0, signal);

            var leaseAt = new long[rooms];
            var newOwner = new string?[rooms];
            if (redis is not null)
            {
                leases = WatchLeasesAsync(redis.GetDatabase(), leaseKeys, leasesBefore, leaseAt, newOwner, killAt, timeout, watching.Token);
            }

            while (writers.Recovered() < rooms && Stopwatch.GetElapsedTime(killAt) < timeout)
            {
                ctx.Status($"failover {target.Name}: {writers.Recovered()}/{rooms} rooms acknowledge seeks again, " +
                    $"{Stopwatch.GetElapsedTime(killAt).TotalSeconds:0.0} s after the {signalName}; errors {writers.ErrorsAfter}");
                await Task.Delay(20, ct);
            }
            // Keep writing a little longer: the round trips after recovery show the new path.
            await Task.Delay(after, ct);
            if (signal == NodeSignal.Stop)
            {
                ctx.Status($"failover {target.Name}: SIGCONT to node 1, writing for {thaw.TotalSeconds:0.#} s more");
                writers.MarkThaw(Stopwatch.GetTimestamp());
                thawed = true;
                await target.SignalNodeAsync(0, NodeSignal.Continue);
                await Task.Delay(thaw, ct);
            }
            await leases;
            await sending.CancelAsync();
            await Task.WhenAll(loops);

            return Result(ctx, writers, rooms, nodes.Count, ttl, signalName, killAt, leaseAt, newOwner, sockets, redis is not null);
        }
        finally
        {
            await sending.CancelAsync();
            await watching.CancelAsync();
            await Task.WhenAll(loops);
            await leases;
            if (signalled && signal == NodeSignal.Stop && !thawed)
            {
                // Thaw node 1 so it can be terminated like the others (it fences itself: its leases are gone).
                // LocalServer would do it too before its SIGTERM.
                try
                {
                    await target.SignalNodeAsync(0, NodeSignal.Continue);
                }
                catch (InvalidOperationException)
                {
                    // It has exited meanwhile.
                }
            }
            await Parallel.ForEachAsync(sockets.Where(s => s is not null), new ParallelOptions { MaxDegreeOfParallelism = 64 },
                async (s, _) => await s.DisposeAsync());
            if (redis is not null)
            {
                await redis.DisposeAsync();
            }
        }
    }

    private static RunResult Result(BenchContext ctx, Writers writers, int rooms, int nodeCount, double ttl, string signalName, long killAt,
        long[] leaseAt, string?[] newOwner, BenchSocket[] sockets, bool watchedLeases)
    {
        static double Ms(long from, long to) => Math.Round((to - from) * 1000.0 / Stopwatch.Frequency, 1);
        var recovery = writers.RecoveredAt.Where(t => t != 0).Select(t => Ms(killAt, t)).Order().ToList();
        var leased = leaseAt.Where(t => t != 0).Select(t => Ms(killAt, t)).Order().ToList();
        var before = writers.Before.Snapshot();
        var afterRtt = writers.After.Snapshot();
        var result = new RunResult
        {
            Scenario = "failover",
            Target = ctx.Target.Name,
            Repeat = ctx.Repeat,
            Parameters = new(ctx.Used),
            Metrics =
            {
                ["rooms"] = rooms,
                ["recovered"] = recovery.Count,
                ["not_recovered"] = rooms - recovery.Count,
                ["recovery_min_ms"] = Percentile(recovery, 0),
                ["recovery_p50_ms"] = Percentile(recovery, 50),
                ["recovery_p99_ms"] = Percentile(recovery, 99),
                ["recovery_max_ms"] = Percentile(recovery, 100),
                ["lease_ttl_ms"] = ttl * 1000,
                ["new_lease_p50_ms"] = watchedLeases ? Percentile(leased, 50) : null,
                ["new_lease_max_ms"] = watchedLeases ? Percentile(leased, 100) : null,
                ["sends_after_signal"] = writers.SentAfterKill(),
                ["error_frames_before"] = writers.ErrorsBefore,
                ["error_frames"] = writers.ErrorsAfter,
                ["unmatched"] = writers.Unmatched,
                ["closed_sockets"] = sockets.Count(s => s.Closed),
                ["rtt_before_p50_ms"] = before.TotalCount > 0 ? before.GetValueAtPercentile(50) / 1000.0 : null,
                ["rtt_before_p99_ms"] = before.TotalCount > 0 ? before.GetValueAtPercentile(99) / 1000.0 : null,
                ["rtt_after_p50_ms"] = afterRtt.TotalCount > 0 ? afterRtt.GetValueAtPercentile(50) / 1000.0 : null,
                ["rtt_after_p99_ms"] = afterRtt.TotalCount > 0 ? afterRtt.GetValueAtPercentile(99) / 1000.0 : null,
            },
            Notes =
            {
                $"recovery: {signalName} of node 1 (owner of every room) -> the first acknowledgement of a seek its writer, on node 2, sent after it; " +
                "new_lease: -> the room's lease held under another token in Redis; rtt_*: a seek's send -> its event, before the fault and after the room recovered (and, for SIGSTOP, before and after node 1 was continued); " +
                "*_after_thaw (SIGSTOP only): once node 1 is continued, rooms whose writer still gets its seeks acknowledged, and error frames.",
            },
            Details = [],
        };
        if (writers.Thawed)
        {
            // After node 1 was thawed: rooms whose writer still had a seek sent since then acknowledged, and errors.
            result.Metrics["acknowledging_after_thaw"] = writers.AcknowledgingAfterThaw();
            result.Metrics["error_frames_after_thaw"] = writers.ErrorsAfterThaw;
            var thawed = writers.AfterThaw.Snapshot();
            result.Metrics["rtt_after_thaw_p50_ms"] = thawed.TotalCount > 0 ? thawed.GetValueAtPercentile(50) / 1000.0 : null;
            result.Metrics["rtt_after_thaw_p99_ms"] = thawed.TotalCount > 0 ? thawed.GetValueAtPercentile(99) / 1000.0 : null;
            result.Metrics["rtt_after_thaw_max_ms"] = thawed.TotalCount > 0 ? thawed.GetMaxValue() / 1000.0 : null;
        }
        if (watchedLeases)
        {
            for (var n = 2; n <= nodeCount; n++)
            {
                result.Metrics[$"new_owner_node{n}"] = newOwner.Count(o => o == $"bench-{n}");
            }
        }
        foreach (var (name, count) in writers.ErrorNames.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            result.Metrics[$"errors_{name}"] = count;
        }
        foreach (var status in sockets.Where(s => s.Closed).GroupBy(s => s.CloseStatus is { } c ? ((int)c).ToString(CultureInfo.InvariantCulture) : "abort"))
        {
            result.Metrics[$"closed_{status.Key}"] = status.Count();
        }
        for (var r = 0; r < rooms; r++)
        {
            var room = r.ToString("D3", CultureInfo.InvariantCulture);
            result.Details![$"room{room}_recovery_ms"] = writers.RecoveredAt[r] != 0 ? Ms(killAt, writers.RecoveredAt[r]) : null;
            result.Details[$"room{room}_new_lease_ms"] = leaseAt[r] != 0 ? Ms(killAt, leaseAt[r]) : null;
            result.Details[$"room{room}_new_owner_node"] = newOwner[r] is { } owner && int.TryParse(owner.AsSpan(6), out var node) ? node : null;
        }
        return result;
    }

    // Nearest-rank percentile of a sorted list (0 = min, 100 = max); null when empty.
    private static double? Percentile(List<double> sorted, double p)
    {
        if (sorted.Count == 0)
        {
            return null;
        }
        var rank = (int)Math.Ceiling(p / 100 * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    // Polls every room's lease until each is held under a token other than node 1's; records when,
    // and the name of the node (the token starts with `{Node:Name}-{8 hex}|`, docs/architecture.md §6.3).
    private static async Task WatchLeasesAsync(IDatabase db, RedisKey[] keys, string?[] before, long[] leaseAt, string?[] newOwner,
        long killAt, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            while (Stopwatch.GetElapsedTime(killAt) < timeout && leaseAt.Any(t => t == 0))
            {
                var values = await db.StringGetAsync(keys);
                var now = Stopwatch.GetTimestamp();
                for (var r = 0; r < keys.Length; r++)
                {
                    if (leaseAt[r] == 0 && (string?)values[r] is { } token && token != before[r])
                    {
                        leaseAt[r] = now;
                        var id = token.Split('|')[0];
                        newOwner[r] = id.Length > 9 ? id[..^9] : id;
                    }
                }
                await Task.Delay(10, ct);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or RedisException)
        {
            // Stopped early (the run failed or was cancelled): what was seen so far stands.
        }
    }

    // The writers' schedules and what came back to them. Seek values are sequence numbers from 1;
    // SentAt[r][k] is when room r's writer handed seek k to its socket.
    private sealed class Writers
    {
        private readonly long[][] _sentAt;
        private readonly long[] _sent;
        private readonly int[] _ackedBefore;
        private readonly bool[] _ackedAfterThaw;
        private long _killAt = long.MaxValue;
        private long _thawAt = long.MaxValue;
        private long _errorsBefore;
        private long _errorsAfter;
        private long _errorsAfterThaw;
        private long _unmatched;

        public Writers(int rooms, int maxSends)
        {
            _sentAt = [.. Enumerable.Range(0, rooms).Select(_ => new long[maxSends])];
            _sent = new long[rooms];
            Array.Fill(_sent, 1);
            _ackedBefore = new int[rooms];
            _ackedAfterThaw = new bool[rooms];
            RecoveredAt = new long[rooms];
        }

        // Per room: when the first seek sent after the fault was acknowledged (0: not yet).
        public long[] RecoveredAt { get; }

        public LatencyRecorder Before { get; } = new();

        // Sends after the room recovered, and (SIGSTOP) before node 1 was continued.
        public LatencyRecorder After { get; } = new();

        // Sends after node 1 was continued (SIGSTOP only).
        public LatencyRecorder AfterThaw { get; } = new();

        public ConcurrentDictionary<string, int> ErrorNames { get; } = new(StringComparer.Ordinal);

        public long ErrorsBefore => Interlocked.Read(ref _errorsBefore);

        public long ErrorsAfter => Interlocked.Read(ref _errorsAfter);

        public long Unmatched => Interlocked.Read(ref _unmatched);

        public long ErrorsAfterThaw => Interlocked.Read(ref _errorsAfterThaw);

        public bool Thawed => Volatile.Read(ref _thawAt) != long.MaxValue;

        public void MarkKill(long at) => Volatile.Write(ref _killAt, at);

        public void MarkThaw(long at) => Volatile.Write(ref _thawAt, at);

        public int AcknowledgingAfterThaw() => _ackedAfterThaw.Count(a => a);

        public int RoomsAcknowledgedBefore() => _ackedBefore.Count(n => n > 0);

        public int Recovered() => RecoveredAt.Count(t => t != 0);

        public long SentAfterKill()
        {
            var kill = Volatile.Read(ref _killAt);
            return _sentAt.Select((times, r) => times.Take((int)Volatile.Read(ref _sent[r])).Skip(1).LongCount(t => t >= kill)).Sum();
        }

        public async Task SendLoopAsync(int r, BenchSocket socket, long first, long interval, CancellationToken ct)
        {
            var times = _sentAt[r];
            for (var k = 1; k < times.Length; k++)
            {
                var intended = first + (k - 1) * interval;
                try
                {
                    await LoadEngine.SleepUntilAsync(intended, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                if (socket.Closed)
                {
                    return;
                }
                times[k] = Stopwatch.GetTimestamp();
                Volatile.Write(ref _sent[r], k + 1);
                try
                {
                    // Not cancellable: cancelling a ClientWebSocket send aborts the socket.
                    await socket.SendAsync(Requests.Seek(k), CancellationToken.None);
                }
                catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException)
                {
                    return;
                }
            }
        }

        // Runs on the room's receive loop, so one room's frames arrive here one at a time, in order.
        public void OnFrame(BenchSocket socket, Frame frame, long at)
        {
            var r = socket.Room;
            var kill = Volatile.Read(ref _killAt);
            long value;
            var exact = false;
            switch (frame.Kind)
            {
                case FrameKind.Error:
                    if (kill == long.MaxValue)
                    {
                        Interlocked.Increment(ref _errorsBefore);
                    }
                    else
                    {
                        Interlocked.Increment(ref _errorsAfter);
                    }
                    if (Volatile.Read(ref _thawAt) != long.MaxValue)
                    {
                        Interlocked.Increment(ref _errorsAfterThaw);
                    }
                    ErrorNames.AddOrUpdate(frame.ErrorName ?? "?", 1, (_, n) => n + 1);
                    return;
                case FrameKind.Event when frame.RequestType == 4 && frame.Seq > 0:
                    value = frame.Seq;
                    exact = true;
                    break;
                case FrameKind.Sync when frame.Position >= 1 && frame.Position == Math.Floor(frame.Position):
                    value = (long)frame.Position;
                    break;
                default:
                    return;
            }
            if (value >= Volatile.Read(ref _sent[r]))
            {
                Interlocked.Increment(ref _unmatched);
                return;
            }
            var sentAt = _sentAt[r][value];
            if (kill == long.MaxValue)
            {
                _ackedBefore[r]++;
                if (exact)
                {
                    Before.Record(r, LatencyRecorder.Micros(sentAt, at));
                }
                return;
            }
            if (sentAt < kill)
            {
                return;
            }
            if (sentAt >= Volatile.Read(ref _thawAt))
            {
                _ackedAfterThaw[r] = true;
            }
            if (RecoveredAt[r] == 0)
            {
                Volatile.Write(ref RecoveredAt[r], at);
            }
            else if (exact && sentAt > RecoveredAt[r])
            {
                (sentAt >= Volatile.Read(ref _thawAt) ? AfterThaw : After).Record(r, LatencyRecorder.Micros(sentAt, at));
            }
        }
    }
}
