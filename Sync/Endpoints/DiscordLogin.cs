using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OAuth;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Ott.Sync.Auth;
using Ott.Sync.Limits;
using Ott.Sync.Storage;

namespace Ott.Sync.Endpoints;

/// <summary>
/// Log in or link with Discord (docs/protocol.md §3.3) through ASP.NET Core's OAuth handler. <c>GET /api/auth/discord</c>
/// remembers where to return and sends the browser to Discord; the handler answers
/// <c>/api/auth/discord/callback</c> (state, correlation cookie, code exchange, the user endpoint), and
/// <see cref="DiscordEvents"/> then logs the <c>token</c> cookie's session in. Ott's own sessions stay token-based:
/// the only cookies here are the handler's correlation cookie and a round-trip scheme's, both path-bound to
/// <c>/api/auth/discord</c>.
/// </summary>
internal static class DiscordLogin
{
    public const string Scheme = "Discord";

    // The OAuth handler's sign-in scheme. The ticket is always handled in DiscordEvents.TicketReceived, so
    // this cookie is never written in practice; a remote scheme needs one, and having two schemes keeps the
    // framework from making Discord the default scheme of every request.
    public const string RoundTripScheme = "Discord.RoundTrip";

    public const string LoginPath = "/api/auth/discord";

    public const string CallbackPath = "/api/auth/discord/callback";

    public const string GlobalNameClaim = "urn:discord:global_name";

    public const string DiscriminatorClaim = "urn:discord:discriminator";

    // One request to Discord's token or user endpoint; the browser waits for both.
    public static readonly TimeSpan BackchannelTimeout = TimeSpan.FromSeconds(10);

    // The Discord settings, the OAuth handler and the shared key ring; nothing at all without a client id.
    internal static void AddOttDiscord(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<DiscordOptions>().BindConfiguration(DiscordOptions.Section)
            .Validate(DiscordOptions.Valid, DiscordOptions.Message).ValidateOnStart();
        if (string.IsNullOrEmpty(builder.Configuration[$"{DiscordOptions.Section}:{nameof(DiscordOptions.ClientId)}"]))
        {
            return;
        }
        services.AddOttKeyRing();
        services.AddSingleton<DiscordEvents>();
        services.AddAuthentication()
            .AddCookie(RoundTripScheme)
            .AddOAuth<OAuthOptions, DiscordHandler>(Scheme, _ => { });
        services.AddOptions<CookieAuthenticationOptions>(RoundTripScheme).Configure<IOptions<HttpOptions>>((o, http) =>
        {
            o.Cookie.Name = ".Ott.Discord";
            o.Cookie.Path = http.Value.BasePath + LoginPath;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.Cookie.SecurePolicy = SecurePolicy(http.Value);
            o.ExpireTimeSpan = TimeSpan.FromMinutes(5);
            o.SlidingExpiration = false;
        });
        services.AddOptions<OAuthOptions>(Scheme).Configure<IOptions<DiscordOptions>, IOptions<HttpOptions>>((o, discord, http) =>
        {
            var d = discord.Value;
            o.ClientId = d.ClientId;
            o.ClientSecret = d.ClientSecret;
            o.AuthorizationEndpoint = d.AuthorizationEndpoint;
            o.TokenEndpoint = d.TokenEndpoint;
            o.UserInformationEndpoint = d.UserInformationEndpoint;
            o.CallbackPath = CallbackPath;
            o.Scope.Add("identify");
            o.SignInScheme = RoundTripScheme;
            o.EventsType = typeof(DiscordEvents);
            o.BackchannelTimeout = BackchannelTimeout;
            o.SaveTokens = false;
            // A top-level GET comes back from Discord, so Lax is enough; Secure follows Http:InsecureCookies, as the
            // token cookie's does.
            o.CorrelationCookie.SameSite = SameSiteMode.Lax;
            o.CorrelationCookie.SecurePolicy = SecurePolicy(http.Value);
            o.ClaimActions.MapJsonKey(ClaimTypes.NameIdentifier, "id");
            o.ClaimActions.MapJsonKey(ClaimTypes.Name, "username");
            o.ClaimActions.MapJsonKey(GlobalNameClaim, "global_name");
            o.ClaimActions.MapJsonKey(DiscriminatorClaim, "discriminator");
        });
    }

    /// <summary>The OAuth handler answers the callback; after the base path and the limits' forwarded headers.</summary>
    public static WebApplication UseOttDiscord(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (IsOn(app.Services))
        {
            app.UseAuthentication();
        }
        return app;
    }

    public static IEndpointRouteBuilder MapDiscordEndpoints(this IEndpointRouteBuilder routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        if (IsOn(routes.ServiceProvider))
        {
            routes.MapGet(LoginPath, Challenge).Produces(StatusCodes.Status302Found);
            // The callback never reaches routing's endpoint: the OAuth handler (UseOttDiscord) answers it.
        }
        else
        {
            // No client id: neither route exists, and both answer OTT's 404, whatever the method.
            routes.Map(LoginPath, TestingEndpoints.NotFound).ExcludeFromDescription();
            routes.Map(CallbackPath, TestingEndpoints.NotFound).ExcludeFromDescription();
        }
        return routes;
    }

    /// <summary>
    /// Remembers where to send the browser afterwards (the <c>redirect</c> path when it is on this site, otherwise
    /// <c>&lt;base&gt;/</c>) in the OAuth state, and redirects to Discord's authorize endpoint.
    /// </summary>
    public static ChallengeHttpResult Challenge(HttpContext http, string? redirect, IOptionsSnapshot<HttpOptions> options)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        http.Response.Headers.CacheControl = "no-store";
        var target = AuthEndpoints.IsSameSitePath(redirect) ? redirect! : options.Value.BasePath + "/";
        return TypedResults.Challenge(new AuthenticationProperties { RedirectUri = target }, [Scheme]);
    }

    // The Discord user the claims describe, or null without an id or a username.
    public static DiscordProfile? ProfileOf(ClaimsPrincipal? principal)
    {
        var id = principal?.FindFirst(ClaimTypes.NameIdentifier)?.Value;
        var username = principal?.FindFirst(ClaimTypes.Name)?.Value;
        return string.IsNullOrEmpty(id) || string.IsNullOrEmpty(username)
            ? null
            : new DiscordProfile(id, username, principal!.FindFirst(GlobalNameClaim)?.Value, principal.FindFirst(DiscriminatorClaim)?.Value);
    }

    // Registered only with a client id (AddOttDiscord).
    private static bool IsOn(IServiceProvider services) => services.GetService<DiscordEvents>() is not null;

    private static CookieSecurePolicy SecurePolicy(HttpOptions http) =>
        http.InsecureCookies ? CookieSecurePolicy.SameAsRequest : CookieSecurePolicy.Always;
}

/// <summary>The OAuth handler, with the callback URL fixed by <c>Discord:RedirectUri</c> when it is set.</summary>
internal sealed class DiscordHandler(
    IOptionsMonitor<OAuthOptions> options, ILoggerFactory logger, UrlEncoder encoder, IOptions<DiscordOptions> discord)
    : OAuthHandler<OAuthOptions>(options, logger, encoder)
{
    // The authorize redirect and the code exchange must name the same callback URL.
    protected override string BuildChallengeUrl(AuthenticationProperties properties, string redirectUri) =>
        base.BuildChallengeUrl(properties, Registered ?? redirectUri);

    protected override Task<OAuthTokenResponse> ExchangeCodeAsync(OAuthCodeExchangeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return base.ExchangeCodeAsync(Registered is { } registered
            ? new OAuthCodeExchangeContext(context.Properties, context.Code, registered)
            : context);
    }

    private string? Registered => discord.Value.RedirectUri is { Length: > 0 } uri ? uri : null;
}

/// <summary>
/// What Discord login does once the OAuth round trip is done (docs/protocol.md §3.3): reads the Discord user,
/// then links, finds or makes the account and logs the <c>token</c> cookie's session in. A failed round trip
/// (consent denied, a provider error, a bad state, an unreachable endpoint) sends the browser to <c>&lt;base&gt;/</c>.
/// </summary>
internal sealed partial class DiscordEvents(
    ApiAuthenticator authenticator,
    SessionStore sessions,
    DiscordAccounts accounts,
    ISessionChangeListener changes,
    IOptionsMonitor<HttpOptions> http,
    ILogger<DiscordEvents> logger) : OAuthEvents
{
    // Discord's user endpoint, with the access token: the user's id and names become the ticket's claims.
    public override async Task CreatingTicket(OAuthCreatingTicketContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.HttpContext.RequestAborted;
        using var request = new HttpRequestMessage(HttpMethod.Get, context.Options.UserInformationEndpoint);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", context.AccessToken);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var response = await context.Backchannel.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new AuthenticationFailureException($"Discord's user endpoint answered {(int)response.StatusCode}.");
        }
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        using var user = await JsonDocument.ParseAsync(body, cancellationToken: ct);
        if (user.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new AuthenticationFailureException("Discord's user endpoint answered something other than an object.");
        }
        context.RunClaimActions(user.RootElement);
        if (DiscordLogin.ProfileOf(context.Principal) is null)
        {
            throw new AuthenticationFailureException("Discord's user has no id or username.");
        }
    }

    public override async Task TicketReceived(TicketReceivedContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // Ott answers here: nothing is signed in to the round-trip scheme.
        context.HandleResponse();
        var result = await CompleteAsync(context.HttpContext, context.Principal, context.ReturnUri, context.HttpContext.RequestAborted);
        await result.ExecuteAsync(context.HttpContext);
    }

    // Consent declined: OTT's failure redirect, quietly.
    public override Task AccessDenied(AccessDeniedContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Log.Declined(logger);
        context.HandleResponse();
        return FailureRedirect(context.HttpContext).ExecuteAsync(context.HttpContext);
    }

    public override Task RemoteFailure(RemoteFailureContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // The handler's and this class's messages name no secret: never the client secret, code or access token.
        Log.Failed(logger, context.Failure?.Message ?? "unknown");
        context.HandleResponse();
        return FailureRedirect(context.HttpContext).ExecuteAsync(context.HttpContext);
    }

    internal async Task<IResult> CompleteAsync(HttpContext context, ClaimsPrincipal? principal, string? returnUri, CancellationToken ct)
    {
        context.Response.Headers.CacheControl = "no-store";
        if (DiscordLogin.ProfileOf(principal) is not { } profile)
        {
            return FailureRedirect(context);
        }
        // As OTT's: the session is the `token` cookie's (a browser's navigation carries no Authorization header).
        // It is checked before any account is made or linked.
        if (context.Request.Cookies[ApiAuthenticator.TokenCookie] is not { Length: > 0 } token)
        {
            return OttErrors.MessageOnly(StatusCodes.Status400BadRequest, "no token found on request");
        }
        if (await authenticator.ResolveSessionAsync(token, ct) is not { } session)
        {
            return OttErrors.InvalidToken();
        }
        var signIn = await accounts.SignInAsync(session, profile, ct);
        switch (signIn.Outcome)
        {
            case DiscordOutcome.LinkedElsewhere:
                return OttErrors.DiscordInUse();
            case DiscordOutcome.RegistrationDisabled:
                return OttErrors.FeatureDisabled("Disabled by administrator.");
        }
        await sessions.SaveAsync(token, Session.LoggedIn(signIn.Account!.Id), ct);
        await changes.SessionChangedAsync(SessionStore.KeyOf(token), ct);
        return TypedResults.Redirect(AuthEndpoints.IsSameSitePath(returnUri) ? returnUri! : http.CurrentValue.BasePath + "/");
    }

    private RedirectHttpResult FailureRedirect(HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Redirect(http.CurrentValue.BasePath + "/");
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Discord login declined by the user")]
        public static partial void Declined(ILogger logger);

        [LoggerMessage(2, LogLevel.Warning, "Discord login failed: {Reason}")]
        public static partial void Failed(ILogger logger, string reason);
    }
}
