using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using StackExchange.Redis;

namespace Ott.Sync.Auth;

// Tokens and their sessions (protocol §3.1, design §6.3). Only sha256(token) is ever stored,
// so a dump of Redis cannot be replayed as tokens.
internal sealed partial class SessionStore(SessionStorage storage, ILogger<SessionStore> logger)
{
    public static readonly TimeSpan AnonymousLifetime = TimeSpan.FromDays(14);
    public static readonly TimeSpan LoggedInLifetime = TimeSpan.FromDays(240);
    public static readonly TimeSpan TouchInterval = TimeSpan.FromHours(1);

    private const int TokenBytes = 32;

    private IDatabase Db => storage.Database;

    // The "session key" other components use to refer to a session without holding its token.
    public static string KeyOf(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(token), hash);
        return Base64Url.EncodeToString(hash);
    }

    public static string NewToken()
    {
        Span<byte> bytes = stackalloc byte[TokenBytes];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    public static TimeSpan LifetimeOf(Session session)
    {
        ArgumentNullException.ThrowIfNull(session);
        return session.IsLoggedIn ? LoggedInLifetime : AnonymousLifetime;
    }

    public async Task<(string Token, Session S)> MintAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var session = Session.Anonymous(NameGenerator.Generate());
        while (true)
        {
            // 256 random bits never collide in practice; NX makes even that case harmless.
            var token = NewToken();
            if (await Db.StringSetAsync(storage.Key(KeyOf(token)), Serialize(session), AnonymousLifetime, When.NotExists))
            {
                return (token, session);
            }
        }
    }

    // Reads the session and, for an anonymous one, applies Ott's sliding expiry: the lifetime
    // goes back to 14 days when at least an hour of it has been used. Redis's own TTL is the
    // clock, so every node agrees and no timestamp needs to live in the session JSON.
    public async Task<Session?> GetAsync(string token, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }
        var key = storage.Key(KeyOf(token));
        // GET and PTTL go out together: one round trip.
        var valueTask = Db.StringGetAsync(key);
        var ttlTask = Db.KeyTimeToLiveAsync(key);
        var value = await valueTask;
        var ttl = await ttlTask;
        if (value.IsNullOrEmpty)
        {
            return null;
        }
        var session = Deserialize(value);
        if (session is null)
        {
            Log.MalformedSession(logger, KeyOf(token));
            return null;
        }
        if (!session.IsLoggedIn && (ttl is null || ttl < AnonymousLifetime - TouchInterval))
        {
            await TouchAsync(key, value);
        }
        return session;
    }

    // Writes a whole session; the lifetime restarts (protocol §3.1: rename, login, logout).
    public Task SaveAsync(string token, Session session, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(session);
        ct.ThrowIfCancellationRequested();
        return Db.StringSetAsync(storage.Key(KeyOf(token)), Serialize(session), LifetimeOf(session));
    }

    // Renames an anonymous session. Returns false when the token has no session: XX never
    // resurrects an expired one. A logged-in caller renames the account instead.
    public async Task<bool> RenameAsync(string token, string name, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ct.ThrowIfCancellationRequested();
        return await Db.StringSetAsync(storage.Key(KeyOf(token)), Serialize(Session.Anonymous(name)),
            AnonymousLifetime, When.Exists);
    }

    private async Task TouchAsync(RedisKey key, RedisValue seen)
    {
        // Only if the value is still the anonymous session we read: a login that raced us has
        // just set a 240-day lifetime, which a blind EXPIRE would cut back to 14 days.
        var tran = Db.CreateTransaction();
        tran.AddCondition(Condition.StringEqual(key, seen));
        _ = tran.KeyExpireAsync(key, AnonymousLifetime);
        await tran.ExecuteAsync();
    }

    private static string Serialize(Session session) =>
        JsonSerializer.Serialize(session, AuthJsonContext.Default.Session);

    private static Session? Deserialize(RedisValue value)
    {
        try
        {
            var session = JsonSerializer.Deserialize((string)value!, AuthJsonContext.Default.Session);
            return session is { IsWellFormed: true } ? session : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Ignoring malformed session {SessionKey}")]
        public static partial void MalformedSession(ILogger logger, string sessionKey);
    }
}
