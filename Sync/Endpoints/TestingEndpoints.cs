using System.Collections.Immutable;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Ott.Sync.Auth;
using Ott.Sync.Connections;
using Ott.Sync.Limits;
using Ott.Sync.Media;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Sync.Endpoints;

internal sealed record SocialUser(long Id, string Username);

internal sealed record SocialUserResponse(bool Success, SocialUser User);

/// <summary>
/// OTT's test-only API (docs/protocol.md §4.5), served only with <c>Testing:Endpoints</c> on. Each endpoint does
/// its work through Ott's own components: the limiters, the admin key, room commands on the room's owner,
/// headless room users, the session and account stores. With the switch off, and for any other path under
/// <c>/api/dev</c>, the answer is a 404 in OTT's error shape.
/// </summary>
internal static partial class TestingEndpoints
{
    /// <summary>OTT's fake users: an anonymous one is named this.</summary>
    public const string FakeUserName = "fake_user";

    /// <summary>The most items one seed may put in <c>prevQueue</c>.</summary>
    public const int MaxSeededItems = 100;

    public const int ForceDisconnectCode = 1000;

    private const string DiscordIdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex NamePattern();

    public static IEndpointRouteBuilder MapTestingEndpoints(this IEndpointRouteBuilder routes)
    {
        ArgumentNullException.ThrowIfNull(routes);
        var enabled = routes.ServiceProvider.GetRequiredService<IOptions<TestingOptions>>().Value.Endpoints;
        if (enabled)
        {
            var group = routes.MapGroup("/api/dev").RequireOttAuth().ExcludeFromDescription();
            group.MapPost("/reset-rate-limit", ResetRateLimitAsync);
            group.MapPost("/reset-rate-limit/user", ResetLoginLimitsAsync);
            group.MapPost("/set-admin-api-key", SetAdminApiKeyAsync);
            group.MapPost("/room/{name}/force-disconnect", ForceDisconnectAsync);
            group.MapPost("/room/{name}/add-fake-user", AddFakeUserAsync);
            group.MapPost("/room/{name}/seed-prev-queue", SeedPrevQueueAsync);
            group.MapPost("/user/force-login", ForceLoginAsync);
            group.MapPost("/user/create-social", CreateSocialAsync);
            group.MapPost("/user/set-discord-link", SetDiscordLinkAsync);
        }
        // Every other /api/dev path (all of them with the switch off), whatever the method and whoever asks.
        routes.Map("/api/dev/{**rest}", NotFound).ExcludeFromDescription();
        return routes;
    }

    public static OttErrorResult NotFound() => OttErrors.Create(StatusCodes.Status404NotFound, "NotFound", "Not found");

    // ----- rate limits and the admin key -----

    /// <summary>The caller's IP starts afresh: no points spent, no block, no new sessions counted.</summary>
    public static async Task<Ok<SuccessResponse>> ResetRateLimitAsync(HttpContext http, PointsLimiter limiter, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(limiter);
        await limiter.ResetAsync(ClientIp.Of(http), ct);
        return TypedResults.Ok(SuccessResponse.Ok);
    }

    /// <summary>Every login failure count and lock-out, of every IP and identifier, is forgotten.</summary>
    public static async Task<Ok<SuccessResponse>> ResetLoginLimitsAsync(LoginLimiter limiter, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(limiter);
        await limiter.ResetAllAsync(ct);
        return TypedResults.Ok(SuccessResponse.Ok);
    }

    /// <summary><c>{newkey}</c> becomes this node's admin apikey; an absent or null one leaves no key set.</summary>
    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> SetAdminApiKeyAsync(
        HttpContext http, AdminApiKey adminKey, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(adminKey);
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        var node = body!["newkey"];
        if (node is not null && node.GetValueKind() != JsonValueKind.Null && AccountEndpoints.StringOf(node) is null)
        {
            return OttErrors.BadApiArgument("newkey", "must be a string");
        }
        adminKey.Set(AccountEndpoints.StringOf(node) ?? "");
        return TypedResults.Ok(SuccessResponse.Ok);
    }

    // ----- rooms -----

    /// <summary>The caller's first connection in the room is closed with 1000, on whatever node it is.</summary>
    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> ForceDisconnectAsync(
        string name, HttpContext http, RoomManager rooms, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rooms);
        if (http.GetRequiredApiCaller().SessionKey is not { } sessionKey)
        {
            return OttErrors.MissingToken();
        }
        if (!NamePattern().IsMatch(name))
        {
            return OttFailure.ClientNotFoundInRoom(name).ToResult();
        }
        var failure = await rooms.SendAsync(name, new DisconnectSessionCommand(sessionKey, ForceDisconnectCode, "force-disconnect"), ct,
            activate: false, whenNotLoaded: OttFailure.ClientNotFoundInRoom(name));
        return failure is null ? TypedResults.Ok(SuccessResponse.Ok) : failure.ToResult();
    }

    /// <summary>
    /// A new session (a new account too, with <c>register</c>) joins the room as a headless user. OTT answers a
    /// failed join with 200 and <c>success:false</c>; a missing room is named <c>RoomNotFound</c>.
    /// </summary>
    public static async Task<Results<Ok<SuccessResponse>, Ok<OttError>, OttErrorResult>> AddFakeUserAsync(
        string name, HttpContext http, SessionStore sessions, AccountStore accounts, HeadlessClients headless,
        IOptionsSnapshot<AccountsOptions> options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(accounts);
        ArgumentNullException.ThrowIfNull(headless);
        ArgumentNullException.ThrowIfNull(options);
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        Session session;
        if (IsTruthy(body!["register"]))
        {
            if (!options.Value.EnableRegistration)
            {
                return OttErrors.FeatureDisabled("Disabled by administrator.");
            }
            if (await RegisterFakeAccountAsync(accounts, ct) is not { } account)
            {
                return OttFailure.Unknown().ToResult();
            }
            session = Session.LoggedIn(account.Id);
        }
        else
        {
            session = Session.Anonymous(FakeUserName);
        }
        if (!NamePattern().IsMatch(name))
        {
            return JoinFailed(OttFailure.RoomNotFound());
        }
        var (token, _) = await sessions.MintAsync(ct);
        await sessions.SaveAsync(token, session, ct);
        var failure = await headless.JoinAsync(name, token, session, ct);
        return failure is null ? TypedResults.Ok(SuccessResponse.Ok) : JoinFailed(failure);
    }

    private static Ok<OttError> JoinFailed(OttFailure failure) =>
        TypedResults.Ok(new OttError(false, new OttErrorInfo(
            failure.Name == "RoomNotFoundException" ? "RoomNotFound" : failure.Name, failure.Message)));

    // A password nobody knows; the name is retried on the (unlikely) clash.
    private static async Task<AccountRecord?> RegisterFakeAccountAsync(AccountStore accounts, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 4; attempt++)
        {
            var username = "fake_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
            var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
            if ((await accounts.RegisterAsync(username, null, password, ct)).Account is { } account)
            {
                return account;
            }
        }
        return null;
    }

    /// <summary>
    /// The room's <c>prevQueue</c> becomes <c>count</c> (default 1) made-up direct items, through the room's
    /// actor (loaded if needed); a missing room answers OTT's <c>{"success":false}</c>.
    /// </summary>
    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> SeedPrevQueueAsync(
        string name, HttpContext http, RoomManager rooms, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rooms);
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        if (CountOf(body!["count"]) is not { } count)
        {
            return OttErrors.BadApiArgument("count", $"must be an integer from 0 to {MaxSeededItems}");
        }
        if (!NamePattern().IsMatch(name))
        {
            return TypedResults.Ok(new SuccessResponse(false));
        }
        var items = Enumerable.Range(1, count).Select(SeededItem).ToImmutableList();
        var failure = await rooms.SendAsync(name, new SeedPrevQueueCommand(items), ct);
        return failure switch
        {
            null => TypedResults.Ok(SuccessResponse.Ok),
            { Name: "RoomNotFoundException" } => TypedResults.Ok(new SuccessResponse(false)),
            _ => failure.ToResult(),
        };
    }

    // A queue item of OTT's seeded shape: direct, 100 s, an mp4 at an address that never resolves.
    public static QueueItem SeededItem(int n)
    {
        var url = $"https://seeded.invalid/video-{n.ToString(CultureInfo.InvariantCulture)}.mp4";
        return new QueueItem
        {
            Service = "direct",
            Id = url,
            Title = $"Seeded video {n.ToString(CultureInfo.InvariantCulture)}",
            Description = DirectResolver.DescriptionOf(url),
            Length = 100,
            Mime = "video/mp4",
        };
    }

    // Absent or null → 1; otherwise an integer (a number, or a form's digits) within range.
    private static int? CountOf(JsonNode? node)
    {
        if (node is null || node.GetValueKind() == JsonValueKind.Null)
        {
            return 1;
        }
        double value;
        switch (node.GetValueKind())
        {
            case JsonValueKind.Number:
                value = node.GetValue<double>();
                break;
            case JsonValueKind.String when double.TryParse(node.GetValue<string>(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed):
                value = parsed;
                break;
            default:
                return null;
        }
        return value >= 0 && value <= MaxSeededItems && value == Math.Floor(value) ? (int)value : null;
    }

    // ----- accounts -----

    /// <summary>The caller's session is logged in as the account with that username (no password needed).</summary>
    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> ForceLoginAsync(
        HttpContext http, AccountStore accounts, SessionStore sessions, ISessionChangeListener changes, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(changes);
        if (http.GetRequiredApiCaller() is not { Token: { } token, SessionKey: { } sessionKey })
        {
            return OttErrors.MissingToken();
        }
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        var (account, failure) = await NamedAccountAsync(body!, accounts, ct);
        if (failure is not null)
        {
            return failure;
        }
        await sessions.SaveAsync(token, Session.LoggedIn(account!.Id), ct);
        await changes.SessionChangedAsync(sessionKey, ct);
        return TypedResults.Ok(SuccessResponse.Ok);
    }

    /// <summary>A Discord-only account (no password, no email), as Discord login creates; the caller stays who it was.</summary>
    public static async Task<Results<Ok<SocialUserResponse>, OttErrorResult>> CreateSocialAsync(
        HttpContext http, AccountStore accounts, IOptionsSnapshot<AccountsOptions> options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        ArgumentNullException.ThrowIfNull(options);
        if (!options.Value.EnableRegistration)
        {
            return OttErrors.FeatureDisabled("Disabled by administrator.");
        }
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        var username = AccountEndpoints.StringOf(body!["username"]);
        if (string.IsNullOrEmpty(username))
        {
            return OttErrors.ValidationError("Username is required.");
        }
        if (username.Length > UserEndpoints.MaxUsernameLength)
        {
            return OttErrors.ValidationError($"Username length must be less than or equal to {UserEndpoints.MaxUsernameLength}.");
        }
        if (DiscordIdOf(body["discordId"]) is not { } discordId)
        {
            return OttErrors.BadApiArgument("discordId", "must be a string");
        }
        var registration = await accounts.RegisterSocialAsync(username, discordId, ct);
        return registration switch
        {
            { Account: { } account } => TypedResults.Ok(new SocialUserResponse(true, new SocialUser(account.Id, account.Username))),
            { TakenField: "username" } => OttErrors.AlreadyInUse("username", "Username is already in use."),
            _ => OttErrors.DiscordInUse(),
        };
    }

    /// <summary>The named account is linked to <c>discordId</c> (a random one when absent), replacing any link.</summary>
    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> SetDiscordLinkAsync(
        HttpContext http, AccountStore accounts, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        var (account, failure) = await NamedAccountAsync(body!, accounts, ct);
        if (failure is not null)
        {
            return failure;
        }
        if (DiscordIdOf(body!["discordId"]) is not { } discordId)
        {
            return OttErrors.BadApiArgument("discordId", "must be a string");
        }
        return await accounts.SetDiscordIdAsync(account!.Id, discordId, ct) switch
        {
            AccountChange.Done => TypedResults.Ok(SuccessResponse.Ok),
            AccountChange.Taken => OttErrors.DiscordInUse(),
            _ => UserNotFound(),
        };
    }

    // The account the body's `username` names (ignoring case), or OTT's 404 UserNotFound.
    private static async Task<(AccountRecord? Account, OttErrorResult? Failure)> NamedAccountAsync(
        JsonObject body, AccountStore accounts, CancellationToken ct)
    {
        if (AccountEndpoints.StringOf(body["username"]) is not { Length: > 0 } username)
        {
            return (null, OttErrors.BadApiArgument("username", "missing"));
        }
        return await accounts.FindByUsernameAsync(username, ct) is { } account ? (account, null) : (null, UserNotFound());
    }

    private static OttErrorResult UserNotFound() => OttErrors.Create(StatusCodes.Status404NotFound, "UserNotFound", "User not found");


    // A Discord user id: a non-empty string or a whole number; absent or null → a random one, as OTT makes.
    private static string? DiscordIdOf(JsonNode? node)
    {
        if (node is null || node.GetValueKind() == JsonValueKind.Null)
        {
            return RandomNumberGenerator.GetString(DiscordIdAlphabet, 12);
        }
        return node.GetValueKind() switch
        {
            JsonValueKind.String when node.GetValue<string>() is { Length: > 0 and <= 64 } text => text,
            JsonValueKind.Number when node.AsValue().TryGetValue<long>(out var number) && number >= 0 =>
                number.ToString(CultureInfo.InvariantCulture),
            _ => null,
        };
    }

    // JavaScript's truthiness, as OTT tests `register`.
    private static bool IsTruthy(JsonNode? node) => node is not null && node.GetValueKind() switch
    {
        JsonValueKind.True => true,
        JsonValueKind.String => node.GetValue<string>().Length > 0,
        JsonValueKind.Number => node.GetValue<double>() is var d && d != 0 && !double.IsNaN(d),
        JsonValueKind.Object or JsonValueKind.Array => true,
        _ => false,
    };
}
