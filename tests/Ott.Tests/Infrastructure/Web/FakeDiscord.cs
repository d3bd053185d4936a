using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Ott.Tests.Infrastructure.Web;

/// <summary>A Discord user as the fake's <c>users/@me</c> describes it, and how the fake should misbehave for them.</summary>
public sealed record DiscordUser(string Id, string Username, string? GlobalName = null, string Discriminator = "0")
{
    public bool TokenFails { get; init; }

    public bool ProfileFails { get; init; }

    public static DiscordUser New(string? globalName = null)
    {
        var id = RandomNumberGenerator.GetInt32(1, int.MaxValue).ToString(System.Globalization.CultureInfo.InvariantCulture)
            + RandomNumberGenerator.GetInt32(100_000_000, 999_999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new DiscordUser(id, "d" + Guid.NewGuid().ToString("N")[..12], globalName);
    }
}

/// <summary>
/// Discord's three OAuth2 endpoints on loopback (a <see cref="FakeUpstream"/>): authorize redirects back with a code
/// (or a denial) for the user the test "logs in as", the token endpoint trades a code for an access token once,
/// and <c>users/@me</c> answers for the token. Each checks what Discord would: client id and secret, the code's
/// redirect URI, the Bearer token.
/// </summary>
public sealed class FakeDiscord : IAsyncDisposable
{
    public const string ClientId = "1234567890-ott-tests";

    // Unique per fake so a test can look for it in logs.
    public string ClientSecret { get; } = "secret-" + Guid.NewGuid().ToString("N");

    private readonly FakeUpstream _upstream;
    private readonly ConcurrentDictionary<string, DiscordUser> _users = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string UserId, string RedirectUri)> _codes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);

    private FakeDiscord(FakeUpstream upstream)
    {
        _upstream = upstream;
        upstream.Map("/oauth2/authorize", AuthorizeAsync);
        upstream.Map("/api/oauth2/token", TokenAsync);
        upstream.Map("/api/users/@me", MeAsync);
    }

    public string AuthorizationEndpoint => _upstream.Url("/oauth2/authorize");

    public string TokenEndpoint => _upstream.Url("/api/oauth2/token");

    public string UserInformationEndpoint => _upstream.Url("/api/users/@me");

    public Uri BaseAddress => _upstream.BaseAddress;

    /// <summary>Every access token handed out, so tests can look for them where they must not be.</summary>
    public IReadOnlyCollection<string> AccessTokens => [.. _tokens.Keys];

    public int TokenRequests => _upstream.Hits("/api/oauth2/token");

    public static async Task<FakeDiscord> StartAsync() => new(await FakeUpstream.StartAsync());

    public void Add(DiscordUser user) => _users[user.Id] = user;

    // The settings that point Ott at this fake.
    public IEnumerable<KeyValuePair<string, string?>> Settings() =>
    [
        new("Discord:ClientId", ClientId),
        new("Discord:ClientSecret", ClientSecret),
        new("Discord:AuthorizationEndpoint", AuthorizationEndpoint),
        new("Discord:TokenEndpoint", TokenEndpoint),
        new("Discord:UserInformationEndpoint", UserInformationEndpoint),
    ];

    // ?as=<discord id> picks who consents (the test's stand-in for logging in at Discord); ?deny=1 declines;
    // ?error=<code> is a provider error.
    private async Task AuthorizeAsync(HttpContext ctx)
    {
        var q = ctx.Request.Query;
        var redirect = q["redirect_uri"].ToString();
        if (q["client_id"] != ClientId || q["response_type"] != "code" || q["scope"] != "identify"
            || string.IsNullOrEmpty(redirect) || string.IsNullOrEmpty(q["state"]))
        {
            ctx.Response.StatusCode = 400;
            await ctx.Response.WriteAsync("bad authorize request", ctx.RequestAborted);
            return;
        }
        var back = new Dictionary<string, string?> { ["state"] = q["state"] };
        if (q["deny"] == "1")
        {
            back["error"] = "access_denied";
            back["error_description"] = "The resource owner or authorization server denied the request";
        }
        else if (!string.IsNullOrEmpty(q["error"]))
        {
            back["error"] = q["error"];
        }
        else if (_users.ContainsKey(q["as"].ToString()))
        {
            var code = Guid.NewGuid().ToString("N");
            _codes[code] = (q["as"].ToString(), redirect);
            back["code"] = code;
        }
        else
        {
            ctx.Response.StatusCode = 400;
            await ctx.Response.WriteAsync("unknown user", ctx.RequestAborted);
            return;
        }
        ctx.Response.Redirect(QueryHelpers.AddQueryString(redirect, back));
    }

    private async Task TokenAsync(HttpContext ctx)
    {
        if (ctx.Request.Method != "POST" || !ctx.Request.HasFormContentType)
        {
            ctx.Response.StatusCode = 405;
            return;
        }
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        if (form["client_id"] != ClientId || form["client_secret"] != ClientSecret)
        {
            await ErrorAsync(ctx, HttpStatusCode.Unauthorized, "invalid_client");
            return;
        }
        // A code is good for one exchange, with the redirect URI it was issued for.
        if (form["grant_type"] != "authorization_code" || !_codes.TryRemove(form["code"].ToString(), out var issued)
            || issued.RedirectUri != form["redirect_uri"])
        {
            await ErrorAsync(ctx, HttpStatusCode.BadRequest, "invalid_grant");
            return;
        }
        if (_users[issued.UserId].TokenFails)
        {
            await ErrorAsync(ctx, HttpStatusCode.BadRequest, "invalid_grant");
            return;
        }
        var token = "at-" + Guid.NewGuid().ToString("N");
        _tokens[token] = issued.UserId;
        await Results.Json(new JsonObject
        {
            ["access_token"] = token,
            ["token_type"] = "Bearer",
            ["expires_in"] = 604800,
            ["refresh_token"] = "rt-" + Guid.NewGuid().ToString("N"),
            ["scope"] = "identify",
        }).ExecuteAsync(ctx);
    }

    private async Task MeAsync(HttpContext ctx)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal) || !_tokens.TryGetValue(header["Bearer ".Length..], out var userId))
        {
            await ErrorAsync(ctx, HttpStatusCode.Unauthorized, "401: Unauthorized");
            return;
        }
        var user = _users[userId];
        if (user.ProfileFails)
        {
            ctx.Response.StatusCode = 500;
            return;
        }
        await Results.Json(new JsonObject
        {
            ["id"] = user.Id,
            ["username"] = user.Username,
            ["global_name"] = user.GlobalName,
            ["discriminator"] = user.Discriminator,
            ["avatar"] = null,
            ["mfa_enabled"] = false,
            ["locale"] = "en-US",
        }).ExecuteAsync(ctx);
    }

    private static Task ErrorAsync(HttpContext ctx, HttpStatusCode status, string error) =>
        Results.Json(new JsonObject { ["error"] = error }, statusCode: (int)status).ExecuteAsync(ctx);

    public ValueTask DisposeAsync() => _upstream.DisposeAsync();
}
