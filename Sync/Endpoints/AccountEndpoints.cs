using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Ott.Sync.Auth;
using Ott.Sync.Limits;

namespace Ott.Sync.Endpoints;

// `email` is always written, null when the account has none (the OTT client stores this object).
internal sealed record AccountUser(string? Email, string Username);

internal sealed record AccountUserResponse(bool Success, AccountUser User);

internal sealed record AccountResponse(bool Success, string Username, string? Email, bool DiscordLinked, bool HasPassword);

internal sealed record OwnedRoomsResponse(bool Success, List<RoomListItem> Data);

// Register, login, logout and the account routes under /api/user (protocol §3.3). An account has a
// password, a Discord link or both; the account routes answer for each as OTT's do.
internal static partial class AccountEndpoints
{
    public const int MinPasswordLength = 8;

    public const string WeakPasswordMessage =
        "Password does not meet minimum requirements. Must be at least 8 characters long, and contain 2 of the "
        + "following categories of characters: lowercase letters, uppercase letters, numbers, special characters.";

    [GeneratedRegex(@"^[^\s@]+@[^\s@]+\.[^\s@]+$")]
    private static partial Regex EmailPattern();

    public static RouteGroupBuilder MapAccountEndpoints(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/user").RequireOttAuth();
        group.MapPost("/register", RegisterAsync).Produces<OttError>(StatusCodes.Status403Forbidden);
        group.MapPost("/login", LoginAsync).Produces<OttError>(StatusCodes.Status401Unauthorized)
            .Produces<OttError>(StatusCodes.Status429TooManyRequests);
        group.MapPost("/logout", LogoutAsync);
        group.MapGet("/account", GetAccountAsync).Produces<OttError>(StatusCodes.Status401Unauthorized);
        group.MapPatch("/account", PatchAccountAsync).Produces<OttError>(StatusCodes.Status401Unauthorized);
        group.MapDelete("/account/discord", UnlinkDiscordAsync).Produces<OttError>(StatusCodes.Status401Unauthorized);
        group.MapGet("/owned-rooms", OwnedRoomsAsync).Produces<OttError>(StatusCodes.Status401Unauthorized);
        return group;
    }

    // ----- rules (pure) -----

    // At least 8 characters and at least two of: lower case, upper case, digit, one of !@#$%^&*.
    public static bool IsStrongPassword(string? password)
    {
        if (password is null || password.Length < MinPasswordLength)
        {
            return false;
        }
        bool lower = false, upper = false, digit = false, special = false;
        foreach (var c in password)
        {
            lower |= c is >= 'a' and <= 'z';
            upper |= c is >= 'A' and <= 'Z';
            digit |= c is >= '0' and <= '9';
            special |= c is '!' or '@' or '#' or '$' or '%' or '^' or '&' or '*';
        }
        return (lower ? 1 : 0) + (upper ? 1 : 0) + (digit ? 1 : 0) + (special ? 1 : 0) >= 2;
    }

    public static bool IsEmail(string value) => value.Length <= 254 && EmailPattern().IsMatch(value);

    // A JSON string's value; anything else (absent, null, a number) is null.
    internal static string? StringOf(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    // ----- register, login, logout -----

    public static async Task<Results<Created<AccountUserResponse>, OttErrorResult>> RegisterAsync(
        HttpContext http, AccountStore accounts, SessionStore sessions, ISessionChangeListener changes,
        IOptionsSnapshot<AccountsOptions> options, PointsLimiter limiter, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(accounts);
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(changes);
        ArgumentNullException.ThrowIfNull(options);
        if (http.GetRequiredApiCaller() is not { Token: { } token, SessionKey: { } sessionKey })
        {
            return OttErrors.MissingToken();
        }
        // The 100-point cost is charged first (docs/protocol.md §3.3).
        if (await limiter.ChargeOrRefuseAsync(http, 100, ct) is { } limited)
        {
            return limited;
        }
        if (!options.Value.EnableRegistration)
        {
            return OttErrors.FeatureDisabled("Disabled by administrator.");
        }
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        var password = StringOf(body!["password"]);
        var username = StringOf(body["username"]);
        // An absent, null or empty email means none; anything else must be an address.
        var emailNode = body["email"];
        var email = StringOf(emailNode) is { Length: > 0 } e ? e : null;
        var emailInvalid = email is null
            ? emailNode is not null && StringOf(emailNode) is null && emailNode.GetValueKind() != JsonValueKind.Null
            : !IsEmail(email);

        // The order of protocol §3.3's table.
        if (!IsStrongPassword(password))
        {
            return OttErrors.ValidationError(WeakPasswordMessage);
        }
        if (username is { Length: > UserEndpoints.MaxUsernameLength })
        {
            return OttErrors.ValidationError($"Username length must be less than or equal to {UserEndpoints.MaxUsernameLength}.");
        }
        if (username is { Length: > 0 } && await accounts.UsernameTakenAsync(username, ct))
        {
            return UsernameInUse();
        }
        if (email is not null && !emailInvalid && await accounts.EmailOwnerAsync(email, ct) is not null)
        {
            return EmailInUse();
        }
        if (string.IsNullOrEmpty(username))
        {
            return OttErrors.ValidationError("Username is required.");
        }
        if (emailInvalid)
        {
            return OttErrors.ValidationError("Email must be a valid email address.");
        }

        // The store decides uniqueness atomically; the reads above only order the answers.
        var registration = await accounts.RegisterAsync(username, email, password!, ct);
        if (registration.Account is not { } account)
        {
            return registration.TakenField == "username" ? UsernameInUse() : EmailInUse();
        }
        await sessions.SaveAsync(token, Session.LoggedIn(account.Id), ct);
        await changes.SessionChangedAsync(sessionKey, ct);
        return TypedResults.Created((string?)null, new AccountUserResponse(true, new AccountUser(account.Email, account.Username)));
    }

    public static async Task<Results<Ok<AccountUserResponse>, OttErrorResult>> LoginAsync(
        HttpContext http, AccountStore accounts, SessionStore sessions, ISessionChangeListener changes,
        LoginLimiter limiter, IOptionsSnapshot<RateLimitOptions> limits, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(accounts);
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(changes);
        ArgumentNullException.ThrowIfNull(limiter);
        ArgumentNullException.ThrowIfNull(limits);
        if (http.GetRequiredApiCaller() is not { Token: { } token, SessionKey: { } sessionKey })
        {
            return OttErrors.MissingToken();
        }
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        // The OTT client sends `user`; `email` or `username` are accepted in its place, and the
        // first one present is used (an empty one counts as missing).
        var identifier = StringOf(body!["user"] ?? body["email"] ?? body["username"]);
        var password = StringOf(body["password"]);
        var limited = limits.Value.Enabled;
        var ip = LoginLimiter.ClientIp(http);
        if (limited && await limiter.BlockedForAsync(ip, identifier, ct) is { } retryAfter)
        {
            return OttErrors.LoginTooManyAttempts(retryAfter);
        }
        if (string.IsNullOrEmpty(identifier) || string.IsNullOrEmpty(password))
        {
            return OttErrors.MessageOnly(StatusCodes.Status401Unauthorized, "Either the user or password was not provided.");
        }
        var account = await accounts.VerifyCredentialsAsync(identifier, password, ct);
        if (account is null)
        {
            if (limited)
            {
                await limiter.RecordFailureAsync(ip, identifier, ct);
            }
            return OttErrors.MessageOnly(StatusCodes.Status401Unauthorized, "Email or password is incorrect.");
        }
        if (limited)
        {
            await limiter.RecordSuccessAsync(ip, identifier, ct);
        }
        await sessions.SaveAsync(token, Session.LoggedIn(account.Id), ct);
        await changes.SessionChangedAsync(sessionKey, ct);
        return TypedResults.Ok(new AccountUserResponse(true, new AccountUser(account.Email, account.Username)));
    }

    // The same token stays valid and becomes a fresh anonymous session with a new name.
    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> LogoutAsync(
        HttpContext http, SessionStore sessions, ISessionChangeListener changes, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(changes);
        if (http.GetRequiredApiCaller() is not { Token: { } token, SessionKey: { } sessionKey, Session: { IsLoggedIn: true } })
        {
            return OttErrors.MessageOnly(StatusCodes.Status400BadRequest, "Not logged in.");
        }
        await sessions.SaveAsync(token, Session.Anonymous(NameGenerator.Generate()), ct);
        await changes.SessionChangedAsync(sessionKey, ct);
        return TypedResults.Ok(SuccessResponse.Ok);
    }

    // ----- the account -----

    public static async Task<Results<Ok<AccountResponse>, OttErrorResult>> GetAccountAsync(
        HttpContext http, AccountStore accounts, PointsLimiter limiter, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        ArgumentNullException.ThrowIfNull(limiter);
        if (await CurrentAccountAsync(http, accounts, ct) is not { } account)
        {
            return OttErrors.Unauthorized();
        }
        if (await limiter.ChargeOrRefuseAsync(http, 1, ct) is { } limited)
        {
            return limited;
        }
        return TypedResults.Ok(new AccountResponse(true, account.Username, account.Email, account.DiscordId is not null, account.HasPassword));
    }

    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> PatchAccountAsync(
        HttpContext http, AccountStore accounts, PointsLimiter limiter, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(accounts);
        if (await CurrentAccountAsync(http, accounts, ct) is not { } account)
        {
            return OttErrors.Unauthorized();
        }
        if (await limiter.ChargeOrRefuseAsync(http, 10, ct) is { } limited)
        {
            return limited;
        }
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        var emailNode = body!["email"];
        var email = StringOf(emailNode);
        var newPasswordNode = body["newPassword"];
        var newPassword = StringOf(newPasswordNode);
        var currentPassword = StringOf(body["currentPassword"]);

        // Every check runs before anything is written: nothing changes on an error.
        if (emailNode is null && newPasswordNode is null)
        {
            return OttErrors.ValidationError("At least one field must be provided");
        }
        if (emailNode is not null && (email is null || !IsEmail(email)))
        {
            return OttErrors.ValidationError("Email must be a valid email address.");
        }
        if (newPasswordNode is not null && newPassword is null)
        {
            return OttErrors.ValidationError("New password must be a string.");
        }
        if (email is not null && await accounts.EmailOwnerAsync(email, ct) is { } owner && owner != account.Id)
        {
            return EmailInUse();
        }
        if (newPassword is not null)
        {
            // An account without a password (a Discord-only one) sets its first without a current one.
            if (account.HasPassword && string.IsNullOrEmpty(currentPassword))
            {
                return OttErrors.CurrentPasswordRequired();
            }
            if (account.HasPassword && !AccountStore.VerifyPassword(account, currentPassword!))
            {
                return OttErrors.InvalidPassword();
            }
            if (!IsStrongPassword(newPassword))
            {
                return OttErrors.BadPassword(WeakPasswordMessage);
            }
        }
        return await accounts.UpdateAsync(account.Id, email, newPassword, ct) switch
        {
            AccountChange.Done => TypedResults.Ok(SuccessResponse.Ok),
            AccountChange.Taken => EmailInUse(),
            _ => OttErrors.Unauthorized(),
        };
    }

    // Unlinking needs a password to log in with afterwards (docs/protocol.md §3.3).
    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> UnlinkDiscordAsync(
        HttpContext http, AccountStore accounts, PointsLimiter limiter, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        ArgumentNullException.ThrowIfNull(limiter);
        if (await CurrentAccountAsync(http, accounts, ct) is not { } account)
        {
            return OttErrors.Unauthorized();
        }
        if (await limiter.ChargeOrRefuseAsync(http, 10, ct) is { } limited)
        {
            return limited;
        }
        if (account.DiscordId is null)
        {
            return OttErrors.DiscordNotLinked();
        }
        if (!account.HasPassword)
        {
            return OttErrors.PasswordRequired();
        }
        return await accounts.SetDiscordIdAsync(account.Id, null, ct) == AccountChange.Done
            ? TypedResults.Ok(SuccessResponse.Ok)
            : OttErrors.Unauthorized();
    }

    public static async Task<Results<Ok<OwnedRoomsResponse>, OttErrorResult>> OwnedRoomsAsync(
        HttpContext http, AccountStore accounts, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        if (await CurrentAccountAsync(http, accounts, ct) is not { } account)
        {
            return OttErrors.Unauthorized();
        }
        return TypedResults.Ok(new OwnedRoomsResponse(true, await accounts.OwnedRoomsAsync(account.Id, ct)));
    }

    // The logged-in caller's account; null for anonymous and apikey callers.
    private static async Task<AccountRecord?> CurrentAccountAsync(HttpContext http, AccountStore accounts, CancellationToken ct) =>
        http.GetRequiredApiCaller().Session is { IsLoggedIn: true, UserId: { } id } ? await accounts.FindAsync(id, ct) : null;

    private static OttErrorResult UsernameInUse() => OttErrors.AlreadyInUse("username", "Username is already in use.");

    private static OttErrorResult EmailInUse() => OttErrors.AlreadyInUse("email", "Email is already associated with an account.");
}
