using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Ott.Sync.Protocol;
using Ott.Sync.Storage;
using StackExchange.Redis;

namespace Ott.Sync.Limits;

internal sealed class RateLimitOptions
{
    /// <summary>Turns off the points budget, the new-session cap and the login limits together (docs/protocol.md §9).</summary>
    public bool Enabled { get; set; } = true;

    [Range(1, 1_000_000_000)]
    public int Points { get; set; } = 1000;

    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromHours(1);

    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan Block { get; set; } = TimeSpan.FromMinutes(2);

    [Range(1, 1_000_000)]
    public int NewSessionsPerHour { get; set; } = 100;
}

[OptionsValidator]
internal sealed partial class RateLimitOptionsValidator : IValidateOptions<RateLimitOptions>;

/// <summary>
/// Open sockets one client IP may hold (0: no limit). It has no section of its own: the composition sets it
/// from Connections:MaxPerIp, where operators find every socket setting.
/// </summary>
internal sealed class SocketLimitOptions
{
    public int MaxPerIp { get; set; }
}

/// <summary>The limit scripts (docs/architecture.md §8): the points budget, and a plain windowed counter.</summary>
internal static class LimitScripts
{
    // KEYS: points, block. ARGV: cost, limit, windowMs, blockMs.
    // → {1, remaining, resetMs} or {0, retryAfterMs} when blocked or past the limit.
    public static readonly RoomScript Charge = new("CHARGE", """
        local blocked = redis.call('PTTL', KEYS[2])
        if blocked > 0 then
          return {0, blocked}
        end
        local spent = math.floor(redis.call('INCRBY', KEYS[1], ARGV[1]))
        local reset = redis.call('PTTL', KEYS[1])
        if reset < 0 then
          redis.call('PEXPIRE', KEYS[1], ARGV[3])
          reset = math.floor(tonumber(ARGV[3]))
        end
        if spent > tonumber(ARGV[2]) then
          redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
          return {0, math.floor(tonumber(ARGV[4]))}
        end
        return {1, math.floor(tonumber(ARGV[2]) - spent), reset}
        """);

    // KEYS: counter. ARGV: windowMs. INCR, then PEXPIRE when new, so a counter never loses its TTL.
    // → {count, pttl}.
    public static readonly RoomScript Count = new("COUNT", """
        local count = math.floor(redis.call('INCR', KEYS[1]))
        if count == 1 then
          redis.call('PEXPIRE', KEYS[1], ARGV[1])
        end
        return {count, redis.call('PTTL', KEYS[1])}
        """);
}

/// <summary>
/// The per-IP points budget shared by every node (docs/protocol.md §9, docs/architecture.md §12): charged where each
/// endpoint says. Its answers are the budget's state for the X-RateLimit-* headers and, past the limit,
/// a refusal with its 120 s block; Endpoints turn them into headers and the 429.
/// </summary>
internal sealed class PointsLimiter(RedisConnection redis, RedisKeys keys, IOptionsMonitor<RateLimitOptions> options, TimeProvider time)
{
    public bool Enabled => options.CurrentValue.Enabled;

    /// <summary>Charges <paramref name="cost"/> points to <paramref name="ip"/>; null when the limits are off.</summary>
    public async Task<PointsCharge?> ChargeAsync(string ip, int cost, CancellationToken ct)
    {
        var o = options.CurrentValue;
        if (!o.Enabled)
        {
            return null;
        }
        var result = (RedisResult[])(await redis.EvaluateAsync(LimitScripts.Charge,
            [keys.RateLimit(ip, "points"), keys.RateLimit(ip, "block")],
            [cost, o.Points, (long)o.Window.TotalMilliseconds, (long)o.Block.TotalMilliseconds], ct))!;
        if ((long)result[0] == 1)
        {
            return new PointsCharge(o.Points, (long)result[1], time.GetUtcNow() + TimeSpan.FromMilliseconds((long)result[2]), null);
        }
        var retryAfter = TimeSpan.FromMilliseconds((long)result[1]);
        return new PointsCharge(o.Points, 0, time.GetUtcNow() + retryAfter, new LimitRefusal(OttFailure.TooManyRequests(), retryAfter));
    }

    /// <summary>
    /// Forgets everything the per-IP limits hold for <paramref name="ip"/>: its spent points, its block and its
    /// new-session count (the test-only reset, docs/protocol.md §4.5).
    /// </summary>
    public Task ResetAsync(string ip, CancellationToken ct) =>
        redis.Database.KeyDeleteAsync([keys.RateLimit(ip, "points"), keys.RateLimit(ip, "block"), keys.RateLimit(ip, "grants")]).WaitAsync(ct);

    /// <summary>Counts a new session for <paramref name="ip"/>; a refusal when the hourly cap is passed.</summary>
    public async Task<LimitRefusal?> CountNewSessionAsync(string ip, CancellationToken ct)
    {
        var o = options.CurrentValue;
        if (!o.Enabled)
        {
            return null;
        }
        var result = (RedisResult[])(await redis.EvaluateAsync(LimitScripts.Count, [keys.RateLimit(ip, "grants")],
            [(long)TimeSpan.FromHours(1).TotalMilliseconds], ct))!;
        return (long)result[0] > o.NewSessionsPerHour
            ? new LimitRefusal(OttFailure.TooManyRequests(), TimeSpan.FromMilliseconds(Math.Max(1000, (long)result[1])))
            : null;
    }
}

/// <summary>A request a limit turns away: the failure to answer, and when the caller may try again.</summary>
internal sealed record LimitRefusal(OttFailure Failure, TimeSpan RetryAfter);

/// <summary>The points budget after a charge (the X-RateLimit-* values), and the refusal when it is spent.</summary>
internal sealed record PointsCharge(int Limit, long Remaining, DateTimeOffset Reset, LimitRefusal? Refusal);

/// <summary>
/// The client IP, the hash tag of its limit keys: the connection's remote address (already rewritten by
/// the forwarded-headers middleware for trusted proxies), with IPv4-mapped IPv6 folded to IPv4.
/// </summary>
internal static class ClientIp
{
    public static string Of(HttpContext http) =>
        http.Connection.RemoteIpAddress is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString() : "unknown";
}
