using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;
using Ott.Sync.Auth;
using Ott.Sync.Connections;
using Ott.Sync.Endpoints;
using Ott.Sync.Storage;
using StackExchange.Redis;

namespace Ott.Sync.Limits;

internal sealed class RateLimitOptions
{
    /// <summary>Turns off the points budget, the new-session cap and the login limits together (protocol.md §9).</summary>
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

/// <summary>The limit scripts (design.md §8): the points budget, and a plain windowed counter.</summary>
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
/// The per-IP points budget shared by every node (protocol.md §9, design.md §12): charged where each
/// endpoint says, with the X-RateLimit-* headers, or the 429 and its 120 s block.
/// </summary>
internal sealed class PointsLimiter(RedisConnection redis, RedisKeys keys, IOptionsMonitor<RateLimitOptions> options, TimeProvider time)
{
    public bool Enabled => options.CurrentValue.Enabled;

    /// <summary>Charges <paramref name="cost"/> points to the caller's IP; a result means "answer this 429".</summary>
    public async Task<OttErrorResult?> ChargeAsync(HttpContext http, int cost, CancellationToken ct)
    {
        var o = options.CurrentValue;
        if (!o.Enabled)
        {
            return null;
        }
        var ip = ClientIp.Of(http);
        var result = (RedisResult[])(await redis.EvaluateAsync(LimitScripts.Charge,
            [keys.RateLimit(ip, "points"), keys.RateLimit(ip, "block")],
            [cost, o.Points, (long)o.Window.TotalMilliseconds, (long)o.Block.TotalMilliseconds], ct))!;
        var headers = http.Response.Headers;
        headers["X-RateLimit-Limit"] = o.Points.ToString(CultureInfo.InvariantCulture);
        if ((long)result[0] == 1)
        {
            headers["X-RateLimit-Remaining"] = ((long)result[1]).ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset"] = (time.GetUtcNow() + TimeSpan.FromMilliseconds((long)result[2])).ToString("R", CultureInfo.InvariantCulture);
            return null;
        }
        var retryAfter = TimeSpan.FromMilliseconds((long)result[1]);
        headers["X-RateLimit-Remaining"] = "0";
        headers["X-RateLimit-Reset"] = (time.GetUtcNow() + retryAfter).ToString("R", CultureInfo.InvariantCulture);
        return OttErrors.TooManyRequests(retryAfter);
    }

    /// <summary>Counts a new session for the caller's IP; a result means the hourly cap is passed.</summary>
    public async Task<OttErrorResult?> CountNewSessionAsync(HttpContext http, CancellationToken ct)
    {
        var o = options.CurrentValue;
        if (!o.Enabled)
        {
            return null;
        }
        var ip = ClientIp.Of(http);
        var result = (RedisResult[])(await redis.EvaluateAsync(LimitScripts.Count, [keys.RateLimit(ip, "grants")],
            [(long)TimeSpan.FromHours(1).TotalMilliseconds], ct))!;
        return (long)result[0] > o.NewSessionsPerHour
            ? OttErrors.TooManyRequests(TimeSpan.FromMilliseconds(Math.Max(1000, (long)result[1])))
            : null;
    }
}

/// <summary>
/// The client IP, the hash tag of its limit keys: the connection's remote address (already rewritten by
/// the forwarded-headers middleware for trusted proxies), with IPv4-mapped IPv6 folded to IPv4.
/// </summary>
internal static class ClientIp
{
    public static string Of(HttpContext http) =>
        http.Connection.RemoteIpAddress is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString() : "unknown";
}

internal static class LimitExtensions
{
    public static WebApplicationBuilder AddOttLimits(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<RateLimitOptions>().BindConfiguration("RateLimit");
        services.AddSingleton<IValidateOptions<RateLimitOptions>, RateLimitOptionsValidator>();
        services.AddSingleton<PointsLimiter>();
        // Open sockets per IP: a concurrency limiter partitioned by IP on upgrade requests only. A
        // WebSocket request holds its permit for its whole life, so the limit counts open sockets.
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                var max = http.RequestServices.GetRequiredService<IOptions<ConnectionsOptions>>().Value.MaxPerIp;
                return http.WebSockets.IsWebSocketRequest && max > 0
                    ? RateLimitPartition.GetConcurrencyLimiter(ClientIp.Of(http), _ => new ConcurrencyLimiterOptions { PermitLimit = max, QueueLimit = 0 })
                    : RateLimitPartition.GetNoLimiter("");
            });
        });
        services.AddOptions<HttpOptions>().Validate(
            o => o.TrustedProxies.All(p => IPAddress.TryParse(p, out _)), "Http:TrustedProxies must list IP addresses.");
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<HttpOptions>>((forwarded, http) =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in http.Value.TrustedProxies)
            {
                forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
            }
        });
        return builder;
    }

    /// <summary>Forwarded headers only when proxies are trusted, then the per-IP connection limit.</summary>
    public static WebApplication UseOttLimits(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<HttpOptions>>().Value.TrustedProxies.Length > 0)
        {
            app.UseForwardedHeaders();
        }
        app.UseRateLimiter();
        return app;
    }
}
