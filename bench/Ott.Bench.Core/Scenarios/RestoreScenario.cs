using System.Diagnostics;
using Ott.Bench.Report;
using Ott.Bench.Wire;
using StackExchange.Redis;

namespace Ott.Bench.Scenarios;

// restore: N rooms' storable state exists and is marked active; the server starts; how long until
// every room is served. With a reachable Redis the state is seeded directly (the StorableRoom shape
// of RoomState.cs under `{prefix}room:{<name>}:state`, plus the `{prefix}{rooms}:active` zset) and
// eager restore is watched through the lease keys, without touching the rooms. Otherwise (embedded
// store) the rooms are created over REST, the server is stopped with SIGTERM and started again, and
// "served" is a 200 from GET /api/room/<name>, which would also activate a room on demand.
internal static class RestoreScenario
{
    public static async Task<RunResult> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var rooms = ctx.GetInt("rooms", 500);
        var target = ctx.Target;
        if (!target.CanRestart)
        {
            throw new InvalidOperationException("restore needs a server the bench starts itself");
        }
        if (target.NodeUrls.Count > 1)
        {
            throw new NotSupportedException("restore measures one node; run it without --nodes");
        }
        var run = Guid.NewGuid().ToString("N")[..6];
        var names = Enumerable.Range(0, rooms).Select(i => Population.RoomName(run, i)).ToArray();
        string[] tokens;
        using (var api = ctx.Api())
        {
            tokens = await Population.GrantsAsync(api, 4, ct);
            if (target.Redis is null)
            {
                ctx.Status($"restore {target.Name}: creating {rooms} permanent rooms");
                await Parallel.ForEachAsync(Enumerable.Range(0, rooms), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct },
                    async (i, token) => await api.CreateRoomAsync(tokens[i % tokens.Length], names[i], temporary: false, token));
            }
        }
        ctx.Status($"restore {target.Name}: stopping the server");
        await target.StopAsync(ct);
        ConnectionMultiplexer? redis = null;
        try
        {
            if (target.Redis is { } endpoint)
            {
                redis = await ConnectionMultiplexer.ConnectAsync(endpoint);
                ctx.Status($"restore {target.Name}: seeding {rooms} rooms into Redis");
                await SeedAsync(redis.GetDatabase(), target.KeyPrefix, names);
            }
            ctx.Status($"restore {target.Name}: starting the server");
            var t0 = Stopwatch.GetTimestamp();
            var leased = redis is null ? Task.FromResult<double?>(null) : WaitLeasedAsync(redis.GetDatabase(), target.KeyPrefix, names, t0, ct);
            await target.StartAsync(ct);
            var ready = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            var allLeased = await leased;
            using var api = ctx.Api();
            var pending = new HashSet<string>(names);
            var deadline = TimeSpan.FromSeconds(ctx.Get("timeout", 120));
            while (pending.Count > 0 && Stopwatch.GetElapsedTime(t0) < deadline)
            {
                var served = new System.Collections.Concurrent.ConcurrentBag<string>();
                await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct }, async (name, token) =>
                {
                    if (await api.RoomServedAsync(tokens[0], name, token))
                    {
                        served.Add(name);
                    }
                });
                pending.ExceptWith(served);
                ctx.Status($"restore {target.Name}: {rooms - pending.Count}/{rooms} served");
            }
            var all = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            return new RunResult
            {
                Scenario = "restore",
                Target = target.Name,
                Repeat = ctx.Repeat,
                Parameters = new(ctx.Used),
                Metrics =
                {
                    ["rooms"] = rooms,
                    ["ready_s"] = Math.Round(ready, 3),
                    ["all_leased_s"] = allLeased is { } l ? Math.Round(l, 3) : null,
                    ["all_served_s"] = pending.Count == 0 ? Math.Round(all, 3) : null,
                    ["not_served"] = pending.Count,
                },
                Notes =
                {
                    redis is null
                        ? "Embedded store: rooms created over REST, SIGTERM, restart; served = GET 200 (may activate on demand)."
                        : "Seeded in Redis; all_leased = every room's lease key exists (eager restore, no client touched the rooms).",
                },
            };
        }
        finally
        {
            if (redis is not null)
            {
                await redis.DisposeAsync();
            }
        }
    }

    public static async Task SeedAsync(IDatabase db, string prefix, IReadOnlyList<string> names)
    {
        var until = DateTimeOffset.UtcNow.AddSeconds(30).ToUnixTimeMilliseconds();
        var writes = new List<Task>(names.Count * 2);
        foreach (var name in names)
        {
            var key = name.ToLowerInvariant();
            writes.Add(db.StringSetAsync($"{prefix}room:{{{key}}}:state", StoredState(name)));
            writes.Add(db.SortedSetAddAsync($"{prefix}{{rooms}}:active", key, until));
        }
        await Task.WhenAll(writes);
    }

    // A permanent room at rest, as the server itself writes one (StorableRoom in RoomState.cs);
    // members left out take their defaults there.
    public static string StoredState(string name) =>
        "{\"v\":1,\"name\":\"" + name + "\",\"title\":\"bench " + name + "\",\"description\":\"seeded by Ott.Bench\"," +
        "\"isTemporary\":false,\"visibility\":\"unlisted\",\"queueMode\":\"manual\",\"currentSource\":null,\"queue\":[]," +
        "\"isPlaying\":false,\"playbackPosition\":0,\"playbackSpeed\":1,\"playbackStart\":null,\"version\":1,\"recentRequestIds\":[]}";

    private static async Task<double?> WaitLeasedAsync(IDatabase db, string prefix, string[] names, long t0, CancellationToken ct)
    {
        var keys = names.Select(n => (RedisKey)$"{prefix}room:{{{n.ToLowerInvariant()}}}:lease").ToArray();
        var missing = new List<RedisKey>(keys);
        while (Stopwatch.GetElapsedTime(t0) < TimeSpan.FromSeconds(120))
        {
            var checks = missing.Select(k => db.KeyExistsAsync(k)).ToArray();
            await Task.WhenAll(checks);
            missing = missing.Where((_, i) => !checks[i].Result).ToList();
            if (missing.Count == 0)
            {
                return Stopwatch.GetElapsedTime(t0).TotalSeconds;
            }
            await Task.Delay(10, ct);
        }
        return null;
    }
}
