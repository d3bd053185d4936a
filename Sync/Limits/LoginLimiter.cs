using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Ott.Sync.Storage;
using StackExchange.Redis;

namespace Ott.Sync.Limits;

// Protocol §9 login limits, shared by every node through Redis: 100 failed logins from one IP in
// a day block that IP for a day; 10 consecutive failures for one identifier from one IP block
// that pair for an hour. Only failures count, and a success clears the pair's streak.
internal sealed class LoginLimiter(RedisConnection connection, RedisKeys keys)
{
    public const int MaxFailuresPerIp = 100;
    public const int MaxConsecutiveFailures = 10;
    public static readonly TimeSpan IpWindow = TimeSpan.FromDays(1);
    public static readonly TimeSpan IpBlock = TimeSpan.FromDays(1);
    // OTT keeps a streak for 90 days; it ends with a success or once its block has run out.
    public static readonly TimeSpan StreakWindow = TimeSpan.FromDays(90);
    public static readonly TimeSpan StreakBlock = TimeSpan.FromHours(1);

    // KEYS: counter. ARGV: windowMs, limit, blockMs. INCR, then PEXPIRE when the key is new (or
    // somehow has no TTL), so a counter never lives forever; reaching the limit re-arms the TTL
    // to the block length, so the block lasts its full length from the failure that caused it.
    public static readonly RoomScript Count = new("LIMIT_COUNT", """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
          redis.call('PEXPIRE', KEYS[1], ARGV[1])
        end
        if n == tonumber(ARGV[2]) then
          redis.call('PEXPIRE', KEYS[1], ARGV[3])
        end
        return n
        """);

    private IDatabase Db => connection.Database;

    // The time left on a block that applies to this login, or null when it may go ahead. With no
    // identifier only the IP's block can apply.
    public async Task<TimeSpan?> BlockedForAsync(string ip, string? identifier, CancellationToken ct)
    {
        var ipBlock = BlockOfAsync(keys.LoginFailures(ip), MaxFailuresPerIp, ct);
        var pairBlock = string.IsNullOrEmpty(identifier)
            ? Task.FromResult<TimeSpan?>(null)
            : BlockOfAsync(keys.LoginFailures(ip, HashOf(identifier)), MaxConsecutiveFailures, ct);
        var blocks = await Task.WhenAll(ipBlock, pairBlock);
        return blocks.Max();
    }

    public async Task RecordFailureAsync(string ip, string identifier, CancellationToken ct)
    {
        var db = Db;
        await Task.WhenAll(
            db.EvaluateAsync(Count, [keys.LoginFailures(ip)], [Ms(IpWindow), MaxFailuresPerIp, Ms(IpBlock)], ct),
            db.EvaluateAsync(Count, [keys.LoginFailures(ip, HashOf(identifier))],
                [Ms(StreakWindow), MaxConsecutiveFailures, Ms(StreakBlock)], ct));
    }

    // A success ends the identifier's streak; the IP's daily count stays.
    public Task RecordSuccessAsync(string ip, string identifier, CancellationToken ct) =>
        Db.KeyDeleteAsync(keys.LoginFailures(ip, HashOf(identifier))).WaitAsync(ct);

    // Every IP's and every identifier's failure counts and blocks go (the test-only reset,
    // docs/protocol.md §4.5), on every primary of a Redis Cluster.
    public async Task ResetAllAsync(CancellationToken ct)
    {
        var db = Db;
        // One key per DEL: the keys of different IPs live in different hash slots.
        foreach (var key in await connection.ScanAsync(keys.LoginFailurePattern, ct))
        {
            await db.KeyDeleteAsync(key).WaitAsync(ct);
        }
    }

    public static string ClientIp(HttpContext http) => Limits.ClientIp.Of(http);

    // Usernames ignore case, so the streak does too: "Alice" and "alice" are one identifier.
    // Only the hash is stored, never the identifier someone typed.
    public static string HashOf(string identifier)
    {
        ArgumentNullException.ThrowIfNull(identifier);
        return Base64Url.EncodeToString(SHA256.HashData(Encoding.UTF8.GetBytes(identifier.ToLowerInvariant())));
    }

    private async Task<TimeSpan?> BlockOfAsync(RedisKey key, int limit, CancellationToken ct)
    {
        var db = Db;
        var count = db.StringGetAsync(key);
        var ttl = db.KeyTimeToLiveAsync(key);
        await Task.WhenAll(count, ttl).WaitAsync(ct);
        if (!(await count).TryParse(out long n) || n < limit)
        {
            return null;
        }
        // A counter past its limit whose TTL is unreadable still blocks, for a second at least.
        return await ttl is { } left && left > TimeSpan.Zero ? left : TimeSpan.FromSeconds(1);
    }

    private static long Ms(TimeSpan value) => (long)value.TotalMilliseconds;
}
