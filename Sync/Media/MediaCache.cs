using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;
using Ott.Sync.Protocol;
using Ott.Sync.Storage;
using StackExchange.Redis;

namespace Ott.Sync.Media;

// Metadata lookups, shared by every node through Redis (`{p}cache:*`, docs/architecture.md §6.3), with
// in-process single-flight: concurrent lookups of one key share one flight, so a burst of
// identical requests makes one cache read and at most one upstream call.
//
// A flight does not belong to any one caller. It runs under its own deadline (Media:LookupTimeout)
// and the host's stopping token; a caller that gives up stops waiting, and the others still get
// the answer. Redis trouble never fails a lookup: the cache is skipped and the upstream asked.
// Failures are not cached; the single-flight still collapses a burst of them into one call.
internal sealed partial class MediaCache(
    RedisConnection redis, IOptions<MediaOptions> options, IHostApplicationLifetime lifetime, ILogger<MediaCache> logger)
{
    private readonly ConcurrentDictionary<string, Task> _flights = new(StringComparer.Ordinal);

    public async Task<T> GetOrFetchAsync<T>(RedisKey key, string source, JsonTypeInfo<T> info,
        Func<CancellationToken, Task<T>> fetch, Func<T, TimeSpan> ttl, CancellationToken ct)
        where T : class
    {
        var name = key.ToString();
        Task<T> flight;
        while (true)
        {
            if (_flights.TryGetValue(name, out var running))
            {
                flight = (Task<T>)running;
                break;
            }
            var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_flights.TryAdd(name, completion.Task))
            {
                flight = completion.Task;
                _ = FlyAsync(name, key, source, info, fetch, ttl, completion);
                break;
            }
        }
        return await flight.WaitAsync(ct);
    }

    private async Task FlyAsync<T>(string name, RedisKey key, string source, JsonTypeInfo<T> info,
        Func<CancellationToken, Task<T>> fetch, Func<T, TimeSpan> ttl, TaskCompletionSource<T> completion)
        where T : class
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStopping);
        deadline.CancelAfter(options.Value.LookupTimeout);
        try
        {
            var value = await ReadAsync(key, info);
            if (value is null)
            {
                value = await fetch(deadline.Token);
                await WriteAsync(key, value, info, ttl(value));
            }
            completion.TrySetResult(value);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !lifetime.ApplicationStopping.IsCancellationRequested)
        {
            completion.TrySetException(new OttException(MediaFailures.UpstreamTimeout(source)));
        }
        catch (Exception e)
        {
            completion.TrySetException(e);
        }
        finally
        {
            _flights.TryRemove(new KeyValuePair<string, Task>(name, completion.Task));
            // Every caller may have stopped waiting; observe the outcome so it is never reported
            // as an unobserved task exception.
            _ = completion.Task.Exception;
        }
    }

    public async Task<T?> ReadAsync<T>(RedisKey key, JsonTypeInfo<T> info) where T : class
    {
        try
        {
            var cached = await redis.Database.StringGetAsync(key);
            return cached.HasValue ? JsonSerializer.Deserialize((byte[])cached!, info) : null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.CacheReadFailed(logger, e, key.ToString());
            return null;
        }
    }

    public async Task WriteAsync<T>(RedisKey key, T value, JsonTypeInfo<T> info, TimeSpan ttl)
    {
        try
        {
            await redis.Database.StringSetAsync(key, JsonSerializer.SerializeToUtf8Bytes(value, info), ttl);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.CacheWriteFailed(logger, e, key.ToString());
        }
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "Media cache read of {Key} failed; asking the upstream")]
        public static partial void CacheReadFailed(ILogger logger, Exception e, string key);

        [LoggerMessage(LogLevel.Warning, "Media cache write of {Key} failed")]
        public static partial void CacheWriteFailed(ILogger logger, Exception e, string key);
    }
}
