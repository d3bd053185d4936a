using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Ott.Sync.Auth;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;
using Ott.Sync.Storage;

namespace Ott.Sync.Endpoints;

internal sealed record BansResponse(bool Success, IReadOnlyList<BanView> Bans);

internal sealed record BanResponse(bool Success, BanView Ban);

internal sealed record AuditResponse(bool Success, IReadOnlyList<AuditEntry> Entries, string? Next);

/// <summary>
/// Ott's moderation API (docs/protocol.md §10): a room's bans and its audit log. Bans change through the room's
/// actor like any request (types 20 and 21); reads take the room's grants from its owner and check the caller's role.
/// </summary>
internal static partial class ModerationEndpoints
{
    public const int DefaultAuditPage = 50;
    public const int MaxAuditPage = 100;

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex NamePattern();

    public static RouteGroupBuilder MapModerationEndpoints(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/room/{name}").RequireOttAuth();
        group.MapGet("/bans", ListBansAsync).Produces<OttError>(StatusCodes.Status403Forbidden).Produces<OttError>(StatusCodes.Status404NotFound);
        group.MapPost("/bans", BanAsync).Produces<OttError>(StatusCodes.Status403Forbidden).Produces<OttError>(StatusCodes.Status404NotFound);
        group.MapDelete("/bans/{id}", UnbanAsync).Produces<OttError>(StatusCodes.Status403Forbidden).Produces<OttError>(StatusCodes.Status404NotFound);
        group.MapGet("/audit", AuditAsync).Produces<OttError>(StatusCodes.Status403Forbidden).Produces<OttError>(StatusCodes.Status404NotFound);
        return group;
    }

    public static async Task<Results<Ok<BansResponse>, OttErrorResult>> ListBansAsync(
        string name, HttpContext http, RoomManager rooms, TimeProvider time, CancellationToken ct)
    {
        var (state, error) = await GatedStateAsync(name, http, rooms, Permissions.Ban, ct);
        if (error is not null)
        {
            return error;
        }
        var now = time.GetUtcNow();
        return TypedResults.Ok(new BansResponse(true, [.. state!.Bans.Where(b => b.IsActive(now)).Select(b => b.ToView())]));
    }

    public static async Task<Results<Ok<BanResponse>, OttErrorResult>> BanAsync(
        string name, HttpContext http, RoomManager rooms, IAccountDirectory accounts, CancellationToken ct)
    {
        if (!NamePattern().IsMatch(name))
        {
            return OttFailure.RoomNotFound().ToResult();
        }
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        RoomRequest request;
        try
        {
            request = ClientMessageParser.ParseRequest(RequestType.Ban, body!);
        }
        catch (OttException e)
        {
            return OttFailure.BadApiArgument("body", e.Failure.Message).ToResult();
        }
        // A missing grant is 403 here; the owner checks it again, with the role rule, when it applies the ban.
        var (_, denied) = await GatedStateAsync(name, http, rooms, Permissions.Ban, ct);
        if (denied is not null)
        {
            return denied;
        }
        var ban = (BanRequest)await BanEntry.PrepareAsync(request, accounts, ct);
        var actor = await ActorAsync(http.GetRequiredApiCaller(), accounts, ct);
        if (await rooms.SendAsync(name, new RequestCommand(actor, ban), ct) is { } failure)
        {
            return failure.ToResult();
        }
        // The ban as the owner made it (its times are the owner's clock).
        try
        {
            var made = (await rooms.GetStateAsync(name, activate: true, ct))?.Bans.Find(b => b.Id == ban.BanId);
            return made is null ? OttFailure.BanNotFound().ToResult() : TypedResults.Ok(new BanResponse(true, made.ToView()));
        }
        catch (OttException e)
        {
            return e.Failure.ToResult();
        }
    }

    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> UnbanAsync(
        string name, string id, HttpContext http, RoomManager rooms, IAccountDirectory accounts, CancellationToken ct)
    {
        var (_, denied) = await GatedStateAsync(name, http, rooms, Permissions.Ban, ct);
        if (denied is not null)
        {
            return denied;
        }
        var request = new UnbanRequest(id) { Raw = new JsonObject { ["type"] = (int)RequestType.Unban, ["banId"] = id } };
        var actor = await ActorAsync(http.GetRequiredApiCaller(), accounts, ct);
        return await rooms.SendAsync(name, new RequestCommand(actor, request), ct) is { } failure
            ? failure.ToResult()
            : TypedResults.Ok(SuccessResponse.Ok);
    }

    public static async Task<Results<Ok<AuditResponse>, OttErrorResult>> AuditAsync(
        string name, HttpContext http, RoomManager rooms, RoomStore store, CancellationToken ct)
    {
        var query = http.Request.Query;
        var limit = DefaultAuditPage;
        if (query.TryGetValue("limit", out var limitText)
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxAuditPage))
        {
            return OttFailure.BadApiArgument("limit", $"Must be an integer from 1 to {MaxAuditPage}.").ToResult();
        }
        long? before = null;
        if (query.TryGetValue("before", out var beforeText))
        {
            if (!long.TryParse(beforeText, NumberStyles.None, CultureInfo.InvariantCulture, out var cursor) || cursor < 1)
            {
                return OttFailure.BadApiArgument("before", "Must be a cursor from a previous page's \"next\".").ToResult();
            }
            before = cursor;
        }
        var (_, error) = await GatedStateAsync(name, http, rooms, Permissions.ViewAuditLog, ct);
        if (error is not null)
        {
            return error;
        }
        var (rows, more) = await store.ReadAuditAsync(name, before, limit, ct);
        var entries = new List<AuditEntry>(rows.Count);
        foreach (var (id, json) in rows)
        {
            if (JsonSerializer.Deserialize(json, RoomsJsonContext.Default.AuditEntry) is { } entry)
            {
                entries.Add(entry with { Id = id.ToString(CultureInfo.InvariantCulture) });
            }
        }
        var next = more && rows.Count > 0 ? rows[^1].Id.ToString(CultureInfo.InvariantCulture) : null;
        return TypedResults.Ok(new AuditResponse(true, entries, next));
    }

    /// <summary>The room's state when the caller's role there holds <paramref name="permission"/>; 403 otherwise.</summary>
    private static async Task<(RoomState? State, OttErrorResult? Error)> GatedStateAsync(
        string name, HttpContext http, RoomManager rooms, string permission, CancellationToken ct)
    {
        if (!NamePattern().IsMatch(name))
        {
            return (null, OttFailure.RoomNotFound().ToResult());
        }
        RoomState? state;
        try
        {
            state = await rooms.GetStateAsync(name, activate: true, ct);
        }
        catch (OttException e)
        {
            return (null, e.Failure.ToResult());
        }
        if (state is null)
        {
            return (null, OttFailure.RoomNotFound().ToResult());
        }
        var role = RoleOf(state, http.GetRequiredApiCaller());
        return Permissions.IsGranted(state.Grants, role, permission)
            ? (state, null)
            : (null, OttFailure.PermissionDenied(permission, StatusCodes.Status403Forbidden).ToResult());
    }

    // As a request judges its actor (docs/protocol.md §7.4): the token's connection in the room if it has one,
    // the admin key as an Administrator, otherwise the session's account.
    private static Role RoleOf(RoomState state, ApiCaller caller)
    {
        if (caller.SessionKey is { } key && state.Users.Find(u => u.SessionKey == key) is { } user)
        {
            return RoomRoles.RoleOf(state, user.IsLoggedIn, user.AccountId);
        }
        return caller.IsAdmin ? Role.Administrator : RoomRoles.RoleOf(state, caller.Session?.IsLoggedIn ?? false, caller.Session?.UserId);
    }

    // The actor with its account's username, so an audit entry names a logged-in caller who has no connection.
    private static async Task<Actor> ActorAsync(ApiCaller caller, IAccountDirectory accounts, CancellationToken ct)
    {
        var actor = new Actor(null, caller.SessionKey, caller.Session?.Username ?? "", caller.Session?.IsLoggedIn ?? false,
            caller.Session?.UserId, caller.IsAdmin);
        return caller.Session is { IsLoggedIn: true, UserId: { } id } && await accounts.FindUsernameAsync(id, ct) is { } username
            ? actor with { Name = username }
            : actor;
    }
}
