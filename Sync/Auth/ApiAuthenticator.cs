using System.Security.Cryptography;
using System.Text;
using Ott.Sync.Protocol;

namespace Ott.Sync.Auth;

// Protocol §3.2, for every `/api` route except /api/status*, /api/auth/* and /api/data/*.
internal sealed class ApiAuthenticator(
    SessionStore sessions,
    IAccountDirectory accounts,
    ISessionChangeListener changes,
    AdminApiKey adminKey)
{
    public const string ApiKeyHeader = "apikey";
    public const string TokenCookie = "token";

    // Bearer header first, then the `token` cookie; the header wins (protocol §3.1).
    public static string? TokenFrom(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return BearerFrom(request) ?? NonEmpty(request.Cookies[TokenCookie]);
    }

    public static string? BearerFrom(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            ? NonEmpty(header[scheme.Length..].Trim())
            : null;
    }

    // The caller, or the protocol failure that refuses the request; Endpoints' ApiAuthFilter answers it.
    public async Task<(ApiCaller? Caller, OttFailure? Failure)> AuthenticateAsync(HttpContext http, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        if (http.Request.Headers.TryGetValue(ApiKeyHeader, out var presented))
        {
            var configured = adminKey.Current;
            if (string.IsNullOrEmpty(configured))
            {
                return (null, AuthFailures.ApiKeyNotSet());
            }
            return KeysEqual(presented.ToString(), configured)
                ? (ApiCaller.Admin, null)
                : (null, AuthFailures.ApiKeyInvalid());
        }

        var token = TokenFrom(http.Request);
        if (token is null)
        {
            return (null, AuthFailures.MissingToken());
        }
        var session = await ResolveSessionAsync(token, ct);
        if (session is null)
        {
            return (null, AuthFailures.InvalidToken());
        }
        return (ApiCaller.ForSession(token, session), null);
    }

    // The session a token stands for, as every entry point must see it: a use for sliding
    // expiry, and a logged-in session whose account is gone becomes a fresh anonymous one
    // (Ott: the caller goes on as that, protocol §3.2 step 4). The WebSocket `auth` uses this too.
    public async Task<Session?> ResolveSessionAsync(string token, CancellationToken ct)
    {
        var session = await sessions.GetAsync(token, ct);
        if (session is { IsLoggedIn: true } && await accounts.FindUsernameAsync(session.UserId!.Value, ct) is null)
        {
            session = Session.Anonymous(NameGenerator.Generate());
            await sessions.SaveAsync(token, session, ct);
            await changes.SessionChangedAsync(SessionStore.KeyOf(token), ct);
        }
        return session;
    }

    private static bool KeysEqual(string presented, string configured) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(configured));

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
