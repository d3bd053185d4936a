using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Ott.Sync.Auth;

namespace Ott.Sync.Endpoints;

internal sealed record AnonymousUserResponse(bool LoggedIn, string Username);

internal sealed record LoggedInUserResponse(string Username, bool LoggedIn, bool DiscordLinked);

internal sealed record SuccessResponse(bool Success)
{
    public static SuccessResponse Ok { get; } = new(true);
}

// GET and POST /api/user (protocol §3.3). Register, login, logout and the account routes are AccountEndpoints.
internal static class UserEndpoints
{
    public const int MaxUsernameLength = AccountStore.MaxUsernameLength;

    public static RouteGroupBuilder MapUserEndpoints(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/user").RequireOttAuth();
        group.MapGet("/", GetUserAsync).Produces<OttError>(StatusCodes.Status401Unauthorized);
        group.MapPost("/", SetUsernameAsync);
        return group;
    }

    public static async Task<Results<Ok<AnonymousUserResponse>, Ok<LoggedInUserResponse>, OttErrorResult>> GetUserAsync(
        HttpContext http, IAccountDirectory accounts, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        // An apikey caller has no session, so there is no user to describe.
        if (http.GetRequiredApiCaller().Session is not { } session)
        {
            return OttErrors.MissingToken();
        }
        if (session.IsLoggedIn)
        {
            // The filter already replaced a session whose account is gone, so this finds one
            // unless the account was deleted in between.
            var account = await accounts.FindAsync(session.UserId!.Value, ct);
            return account is null
                ? OttErrors.Unauthorized()
                : TypedResults.Ok(new LoggedInUserResponse(account.Username, true, account.DiscordId is not null));
        }
        return TypedResults.Ok(new AnonymousUserResponse(false, session.Username!));
    }

    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> SetUsernameAsync(
        HttpContext http, SessionStore sessions, AccountStore accounts, ISessionChangeListener changes, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(changes);
        var caller = http.GetRequiredApiCaller();
        if (caller is not { Token: { } token, SessionKey: { } sessionKey, Session: { } session })
        {
            return OttErrors.MissingToken();
        }
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        var node = body!["username"];
        // OTT tests `!req.body.username`: absent, null, "", false and 0 all read as missing.
        if (IsFalsy(node))
        {
            return OttErrors.MessageOnly(StatusCodes.Status400BadRequest, "Missing argument (username)");
        }
        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
        {
            // Ott: OTT would store whatever was sent as the name; Ott insists on a string.
            return OttErrors.BadApiArgument("username", "must be a string");
        }
        var username = value.GetValue<string>();
        if (username.Length > MaxUsernameLength)
        {
            return OttErrors.LengthOutOfRange($"Username length must be less than or equal to {MaxUsernameLength}");
        }
        if (session is { IsLoggedIn: true, UserId: { } accountId })
        {
            // The account is renamed; usernames are unique ignoring case (protocol §3.3).
            switch (await accounts.RenameAsync(accountId, username, ct))
            {
                case AccountChange.Taken:
                    return OttErrors.UsernameTaken("Username is already taken.");
                case AccountChange.NotFound:
                    return OttErrors.Unauthorized();
            }
            await changes.SessionChangedAsync(sessionKey, ct);
            return TypedResults.Ok(SuccessResponse.Ok);
        }
        if (!await sessions.RenameAsync(token, username, ct))
        {
            // The session expired between authentication and now.
            return OttErrors.InvalidToken();
        }
        await changes.SessionChangedAsync(sessionKey, ct);
        return TypedResults.Ok(SuccessResponse.Ok);
    }

    private static bool IsFalsy(JsonNode? node) => node switch
    {
        null => true,
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => v.GetValue<string>().Length == 0,
            JsonValueKind.False => true,
            JsonValueKind.Number => v.GetValue<double>() == 0,
            _ => false,
        },
        _ => false,
    };
}
