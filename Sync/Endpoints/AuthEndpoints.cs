using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Ott.Sync.Auth;
using Ott.Sync.Limits;

namespace Ott.Sync.Endpoints;

internal sealed record GrantResponse(string Token);

// /api/auth/*: no authentication (protocol §3.2). Discord login's routes are DiscordLogin's.
internal static class AuthEndpoints
{
    public static RouteGroupBuilder MapAuthEndpoints(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/auth");
        group.MapGet("/grant", GrantAsync);
        return group;
    }

    // Protocol §3.1: a Bearer token with a live session is handed back (and counts as a use);
    // anything else gets a new anonymous session. Only the header counts here, not the cookie.
    public static async Task<Results<Ok<GrantResponse>, OttErrorResult>> GrantAsync(
        HttpContext http, SessionStore sessions, IOptionsSnapshot<HttpOptions> options, PointsLimiter limiter, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(options);
        var token = ApiAuthenticator.BearerFrom(http.Request);
        if (token is null || await sessions.GetAsync(token, ct) is null)
        {
            // Ott: at most NewSessionsPerHour new sessions per IP; a live token is never limited.
            if (await limiter.CountNewSessionAsync(ClientIp.Of(http), ct) is { } refusal)
            {
                return refusal.ToResult();
            }
            (token, _) = await sessions.MintAsync(ct);
        }
        http.Response.Headers.CacheControl = "no-store";
        // No Expires/Max-Age: a browser-session cookie, as OTT sets it.
        http.Response.Cookies.Append(ApiAuthenticator.TokenCookie, token, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Lax,
            Secure = !options.Value.InsecureCookies,
            Path = "/",
        });
        return TypedResults.Ok(new GrantResponse(token));
    }

    // Where Discord login may send the browser afterwards (DiscordLogin): a path on this site only, no open
    // redirect. A single leading `/`, not `//` or `/\` (both are protocol-relative to browsers), and only
    // printable ASCII: browsers drop tabs and newlines, so "/\t/evil" would become "//evil".
    internal static bool IsSameSitePath(string? path)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/')
        {
            return false;
        }
        if (path.Length > 1 && path[1] is '/' or '\\')
        {
            return false;
        }
        foreach (var c in path)
        {
            if (c is <= ' ' or >= '\u007f')
            {
                return false;
            }
        }
        return true;
    }
}
