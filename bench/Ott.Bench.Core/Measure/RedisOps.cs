using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;

namespace Ott.Bench.Measure;

// Redis operations per second during a run (docs/architecture.md §6.5): the calls of every command in INFO commandstats,
// summed over every master (one for redis-server, each of a cluster's), read before and after. INFO itself is not
// counted; the clients' own PINGs, CLUSTER and subscription commands are, as they are load on the store too.
internal sealed class RedisOps : IAsyncDisposable
{
    private readonly ConnectionMultiplexer? _redis;
    private readonly long _calls0;
    private readonly long _start = Stopwatch.GetTimestamp();

    private RedisOps(ConnectionMultiplexer? redis, long calls0)
    {
        _redis = redis;
        _calls0 = calls0;
    }

    public static async Task<RedisOps> StartAsync(string? endpoints)
    {
        if (endpoints is null)
        {
            return new RedisOps(null, 0);
        }
        var options = ConfigurationOptions.Parse(endpoints);
        options.AllowAdmin = true;
        var redis = await ConnectionMultiplexer.ConnectAsync(options);
        return new RedisOps(redis, await CallsAsync(redis));
    }

    // Operations per second since StartAsync, or null without a reachable store.
    public async Task<double?> StopAsync()
    {
        if (_redis is null)
        {
            return null;
        }
        var seconds = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        return Math.Round((await CallsAsync(_redis) - _calls0) / seconds, 0);
    }

    private static async Task<long> CallsAsync(ConnectionMultiplexer redis)
    {
        long calls = 0;
        foreach (var server in redis.GetServers().Where(s => !s.IsReplica))
        {
            var text = (string)(await server.ExecuteAsync("INFO", "commandstats"))!;
            foreach (var line in text.Split('\n'))
            {
                // cmdstat_evalsha:calls=123,usec=...
                if (!line.StartsWith("cmdstat_", StringComparison.Ordinal) || line.StartsWith("cmdstat_info:", StringComparison.Ordinal))
                {
                    continue;
                }
                var at = line.IndexOf("calls=", StringComparison.Ordinal) + "calls=".Length;
                var end = line.IndexOf(',', at);
                calls += long.Parse(line.AsSpan(at, end - at), CultureInfo.InvariantCulture);
            }
        }
        return calls;
    }

    public ValueTask DisposeAsync() => _redis?.DisposeAsync() ?? ValueTask.CompletedTask;
}
