using System.Collections.Immutable;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Ott.Sync.Auth;
using Ott.Sync.Limits;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;
using Ott.Sync.Storage;

namespace Ott.Sync.Endpoints;

internal sealed record GenerateResponse(bool Success, string Room);

/// <summary>The room REST API (docs/protocol.md §4.3). Handlers validate, then call <see cref="RoomManager"/>.</summary>
internal static partial class RoomEndpoints
{
    private static readonly string[] Services =
        ["youtube", "vimeo", "direct", "hls", "dash", "tubi", "reddit", "googledrive", "peertube", "pluto", "invidious", "odysee"];

    private static readonly string[] Reserved = ["list", "create", "generate"];

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex NamePattern();

    public static RouteGroupBuilder MapRoomEndpoints(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/room").RequireOttAuth();
        group.MapGet("/list", ListAsync);
        group.MapPost("/generate", GenerateAsync).Produces<OttError>(StatusCodes.Status403Forbidden);
        group.MapPost("/create", CreateAsync).Produces<OttError>(StatusCodes.Status403Forbidden);
        group.MapGet("/{name}", GetAsync).Produces<OttError>(StatusCodes.Status404NotFound);
        group.MapPatch("/{name}", PatchAsync).Produces<OttError>(StatusCodes.Status401Unauthorized).Produces<OttError>(StatusCodes.Status404NotFound);
        group.MapDelete("/{name}", DeleteAsync).Produces<OttError>(StatusCodes.Status401Unauthorized)
            .Produces<OttError>(StatusCodes.Status403Forbidden).Produces<OttError>(StatusCodes.Status404NotFound);
        group.MapPost("/{name}/undo", UndoAsync);
        group.MapPost("/{name}/vote", (string name, HttpContext http, RoomManager rooms, CancellationToken ct) => VoteAsync(name, true, http, rooms, ct));
        group.MapDelete("/{name}/vote", (string name, HttpContext http, RoomManager rooms, CancellationToken ct) => VoteAsync(name, false, http, rooms, ct));
        group.MapPost("/{name}/queue", AddAsync).Produces<OttError>(StatusCodes.Status404NotFound);
        group.MapPatch("/{name}/queue", EditAsync).Produces<OttError>(StatusCodes.Status404NotFound);
        group.MapDelete("/{name}/queue", RemoveAsync).Produces<OttError>(StatusCodes.Status404NotFound);
        return group;
    }

    // ----- helpers -----

    private static Actor ActorOf(ApiCaller caller) => new(
        ClientId: null, SessionKey: caller.SessionKey, Name: caller.Session?.Username ?? "",
        IsLoggedIn: caller.Session?.IsLoggedIn ?? false, AccountId: caller.Session?.UserId, IsAdmin: caller.IsAdmin);

    private static OttErrorResult Zod(IReadOnlyList<ZodIssue> issues) =>
        OttErrors.ZodValidation(Protocol.Zod.Message(issues), new JsonArray([.. issues.Select(i => (JsonNode?)i.ToJson())]));

    private static Results<Ok<SuccessResponse>, OttErrorResult> Done(OttFailure? failure) =>
        failure is null ? TypedResults.Ok(SuccessResponse.Ok) : failure.ToResult();

    private static bool ValidName(string name) => NamePattern().IsMatch(name);

    /// <summary>A named room's request body: a name outside the alphabet is 404 with no lookup (docs/protocol.md §4.1).</summary>
    private static async Task<(JsonObject? Body, OttErrorResult? Error)> RoomBodyAsync(string name, HttpContext http, CancellationToken ct) =>
        ValidName(name) ? await ApiBody.ReadObjectAsync(http.Request, ct) : (null, OttFailure.RoomNotFound().ToResult());

    /// <summary>A named room's body that must be exactly a video's {service, id} (vote, remove).</summary>
    private static async Task<(VideoId Video, OttErrorResult? Error)> RoomVideoAsync(string name, HttpContext http, CancellationToken ct)
    {
        var (body, error) = await RoomBodyAsync(name, http, ct);
        if (error is not null)
        {
            return (default, error);
        }
        var issues = ServiceAndId(body!, subtitle: false);
        return issues.IsEmpty
            ? (new VideoId(body!["service"]!.GetValue<string>(), body["id"]!.GetValue<string>()), null)
            : (default, Zod(issues));
    }

    /// <summary>The token has a connection in the loaded room (vote and undo need one, docs/protocol.md §4.3).</summary>
    private static async Task<bool> ConnectedAsync(RoomManager rooms, string name, ApiCaller caller, CancellationToken ct)
    {
        if (caller.SessionKey is not { } key)
        {
            return false;
        }
        try
        {
            return await rooms.GetStateAsync(name, activate: false, ct) is { } state && state.Users.Any(u => u.SessionKey == key);
        }
        catch (OttException)
        {
            return false;
        }
    }

    private static ImmutableList<ZodIssue> ServiceAndId(JsonObject body, bool subtitle)
    {
        var issues = ImmutableList.CreateBuilder<ZodIssue>();
        var service = body["service"];
        if (service is null) issues.Add(Protocol.Zod.Required("string", "service"));
        else if (!Protocol.Zod.IsString(service)) issues.Add(Protocol.Zod.InvalidType("string", service, "service"));
        else if (!Services.Contains(service.GetValue<string>())) issues.Add(Protocol.Zod.InvalidEnum(Services, service, "service"));
        var id = body["id"];
        if (id is null) issues.Add(Protocol.Zod.Required("string", "id"));
        else if (!Protocol.Zod.IsString(id)) issues.Add(Protocol.Zod.InvalidType("string", id, "id"));
        if (subtitle && body["subtitleUrl"] is { } sub)
        {
            if (!Protocol.Zod.IsString(sub)) issues.Add(Protocol.Zod.InvalidType("string", sub, "subtitleUrl"));
            else if (sub.GetValue<string>() is { Length: > 0 } url && !Uri.TryCreate(url, UriKind.Absolute, out _))
            {
                issues.Add(new ZodIssue("invalid_string", "Invalid url", ["subtitleUrl"]) { Extra = new JsonObject { ["validation"] = "url" } });
            }
        }
        return issues.ToImmutable();
    }

    // ----- list, generate, create -----

    public static async Task<Ok<List<RoomListItem>>> ListAsync(HttpContext http, RoomManager rooms, CancellationToken ct)
    {
        var admin = http.GetRequiredApiCaller().IsAdmin;
        var items = (await rooms.ListAsync(ct))
            .Where(r => admin || r.Visibility == Visibility.Public)
            .OrderByDescending(r => r.Users).ThenBy(r => r.Name, StringComparer.Ordinal)
            .ToList();
        return TypedResults.Ok(items);
    }

    public static async Task<Results<Created<GenerateResponse>, OttErrorResult>> GenerateAsync(
        HttpContext http, RoomManager rooms, IOptions<RoomsOptions> options, IAccountDirectory accounts, PointsLimiter limiter, CancellationToken ct)
    {
        if (!options.Value.EnableCreateTemporary)
        {
            return OttFailure.FeatureDisabled("Temporary rooms are disabled.").ToResult();
        }
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        var issues = new List<ZodIssue>();
        ImmutableList<string>? categories = null;
        if (body!.TryGetPropertyValue("autoSkipSegmentCategories", out var node))
        {
            categories = SettingsSchema.ParseCategories(node, issues, "autoSkipSegmentCategories");
        }
        if (issues.Count > 0)
        {
            return Zod(issues);
        }
        if (await limiter.ChargeOrRefuseAsync(http, 50, ct) is { } limited)
        {
            return limited;
        }
        var name = Guid.NewGuid().ToString();
        var owner = await OwnerOfAsync(http.GetRequiredApiCaller(), accounts, ct);
        var failure = await rooms.CreateAsync(new CreateRoomSpec(name, true, AutoSkipSegmentCategories: categories), owner, ct);
        return failure is null
            ? TypedResults.Created($"/api/room/{name}", new GenerateResponse(true, name))
            : failure.ToResult();
    }

    private static async Task<RoomOwner?> OwnerOfAsync(ApiCaller caller, IAccountDirectory accounts, CancellationToken ct) =>
        caller.Session is { IsLoggedIn: true, UserId: { } id } && await accounts.FindUsernameAsync(id, ct) is { } username
            ? new RoomOwner(id, username)
            : null;

    public static async Task<Results<Created<SuccessResponse>, OttErrorResult>> CreateAsync(
        HttpContext http, RoomManager rooms, IOptions<RoomsOptions> options, IAccountDirectory accounts, AccountStore owned,
        PointsLimiter limiter, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(owned);
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        var (spec, issues) = ParseCreate(body!);
        if (spec is null)
        {
            return Zod(issues);
        }
        if (spec.IsTemporary ? !options.Value.EnableCreateTemporary : !options.Value.EnableCreatePermanent)
        {
            return OttFailure.FeatureDisabled(spec.IsTemporary ? "Temporary rooms are disabled." : "Permanent rooms are disabled.").ToResult();
        }
        if (await limiter.ChargeOrRefuseAsync(http, spec.IsTemporary ? 50 : 200, ct) is { } limited)
        {
            return limited;
        }
        var owner = await OwnerOfAsync(http.GetRequiredApiCaller(), accounts, ct);
        if (owner is not null && !spec.IsTemporary)
        {
            // Listed before it exists (docs/architecture.md §6.3): owned-rooms drops the name if the create fails.
            await owned.AddOwnedRoomAsync(owner.Id, spec.Name, ct);
        }
        var failure = await rooms.CreateAsync(spec, owner, ct);
        return failure is null ? TypedResults.Created($"/api/room/{spec.Name}", SuccessResponse.Ok) : failure.ToResult();
    }

    internal static (CreateRoomSpec? Spec, List<ZodIssue> Issues) ParseCreate(JsonObject body)
    {
        var issues = new List<ZodIssue>();
        string? name = null;
        if (body["name"] is not { } nameNode)
        {
            issues.Add(Protocol.Zod.Required("string", "name"));
        }
        else if (!Protocol.Zod.IsString(nameNode))
        {
            issues.Add(Protocol.Zod.InvalidType("string", nameNode, "name"));
        }
        else
        {
            name = nameNode.GetValue<string>();
            if (name.Length < 3) issues.Add(Protocol.Zod.TooSmall(3, "too short, must be atleast 3 characters", "name"));
            if (name.Length > 32) issues.Add(Protocol.Zod.TooBig(32, "too long, must be at most 32 characters", "name"));
            if (!NamePattern().IsMatch(name))
            {
                issues.Add(new ZodIssue("invalid_string", "Invalid", ["name"]) { Extra = new JsonObject { ["validation"] = "regex" } });
            }
            if (Reserved.Contains(name.ToLowerInvariant())) issues.Add(Protocol.Zod.Custom("not allowed (reserved)", "name"));
        }
        var title = "";
        if (body["title"] is { } titleNode)
        {
            if (!Protocol.Zod.IsString(titleNode)) issues.Add(Protocol.Zod.InvalidType("string", titleNode, "title"));
            else
            {
                title = titleNode.GetValue<string>();
                if (title.Length > 255) issues.Add(Protocol.Zod.TooBig(255, "String must contain at most 255 character(s)", "title"));
                if (title.Contains('\n') || title.Contains('\r')) issues.Add(Protocol.Zod.Custom("title must not contain newlines", "title"));
            }
        }
        var description = "";
        if (body["description"] is { } descriptionNode)
        {
            if (!Protocol.Zod.IsString(descriptionNode)) issues.Add(Protocol.Zod.InvalidType("string", descriptionNode, "description"));
            else description = descriptionNode.GetValue<string>();
        }
        var isTemporary = true;
        if (body["isTemporary"] is { } temporaryNode)
        {
            if (!Protocol.Zod.IsBool(temporaryNode)) issues.Add(Protocol.Zod.InvalidType("boolean", temporaryNode, "isTemporary"));
            else isTemporary = temporaryNode.GetValue<bool>();
        }
        var visibility = body["visibility"] is { } v ? SettingsSchema.ParseVisibility(v, issues, "visibility") : Visibility.Unlisted;
        var queueMode = body["queueMode"] is { } q ? SettingsSchema.ParseQueueMode(q, issues, "queueMode") : QueueMode.Manual;
        var categories = body["autoSkipSegmentCategories"] is { } c ? SettingsSchema.ParseCategories(c, issues, "autoSkipSegmentCategories") : null;
        if (issues.Count > 0)
        {
            return (null, issues);
        }
        return (new CreateRoomSpec(name!, isTemporary, title, description, visibility ?? Visibility.Unlisted,
            queueMode ?? QueueMode.Manual, categories), issues);
    }

    // ----- one room -----

    public static async Task<Results<Ok<RoomResponse>, OttErrorResult>> GetAsync(string name, RoomManager rooms, CancellationToken ct)
    {
        if (!ValidName(name))
        {
            return OttFailure.RoomNotFound().ToResult();
        }
        try
        {
            if (await rooms.GetStateAsync(name, activate: true, ct) is not { } s)
            {
                return OttFailure.RoomNotFound().ToResult();
            }
            return TypedResults.Ok(s.ToRoomResponse());
        }
        catch (OttException e)
        {
            return e.Failure.ToResult();
        }
    }

    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> PatchAsync(
        string name, HttpContext http, RoomManager rooms, IAccountDirectory accounts, AccountStore owned, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(owned);
        var (body, error) = await RoomBodyAsync(name, http, ct);
        if (error is not null)
        {
            return error;
        }
        var caller = http.GetRequiredApiCaller();
        var (settings, settingsIssues) = SettingsSchema.Parse(body!, maxTitle: 254);
        if (settings is not null)
        {
            var request = new ApplySettingsRequest(settings) { Raw = new JsonObject { ["type"] = 13, ["settings"] = body!.DeepClone() } };
            return Done(await rooms.SendAsync(name, new RequestCommand(ActorOf(caller), request), ct));
        }
        // The second shape: {claim: boolean}, other keys stripped.
        if (Protocol.Zod.IsBool(body!["claim"]))
        {
            if (!body["claim"]!.GetValue<bool>())
            {
                return TypedResults.Ok(SuccessResponse.Ok);
            }
            var actor = ActorOf(caller);
            if (caller.Session is { IsLoggedIn: true, UserId: { } id } && await accounts.FindUsernameAsync(id, ct) is { } username)
            {
                actor = actor with { Name = username };
                // Listed before the claim (docs/architecture.md §6.3); owned-rooms drops it if the claim fails
                // or the room is temporary.
                await owned.AddOwnedRoomAsync(id, name, ct);
            }
            return Done(await rooms.SendAsync(name, new ClaimCommand(actor), ct));
        }
        var claimIssue = body["claim"] is null ? Protocol.Zod.Required("boolean", "claim") : Protocol.Zod.InvalidType("boolean", body["claim"], "claim");
        return Alternatives(settingsIssues, [claimIssue]);
    }

    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> DeleteAsync(
        string name, HttpContext http, RoomManager rooms, RoomStore store, AccountStore owned, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(owned);
        if (!ValidName(name))
        {
            return OttFailure.RoomNotFound().ToResult();
        }
        var caller = http.GetRequiredApiCaller();
        if (http.Request.Query["permanent"] != "true")
        {
            if (!caller.IsAdmin)
            {
                return OttErrors.Create(StatusCodes.Status400BadRequest, "Unauthorized", "Admin apikey is required to unload a room.");
            }
            return await rooms.UnloadAsync(name, UnloadReason.Admin, ct)
                ? TypedResults.Ok(SuccessResponse.Ok)
                : OttFailure.RoomNotFound().ToResult();
        }
        if (caller.Session is not { IsLoggedIn: true, UserId: { } accountId })
        {
            return OttErrors.Create(StatusCodes.Status401Unauthorized, "Unauthorized", "Must be logged in to permanently delete a room.");
        }
        try
        {
            if (await rooms.GetStateAsync(name, activate: true, ct) is not { } state)
            {
                return OttFailure.RoomNotFound().ToResult();
            }
            if (state.IsTemporary)
            {
                return OttErrors.Create(StatusCodes.Status400BadRequest, "BadApiArgumentException", "Temporary rooms cannot be permanently deleted.");
            }
            if (state.Owner?.Id != accountId)
            {
                return OttErrors.Create(StatusCodes.Status403Forbidden, "PermissionDeniedException", "Only the owner can permanently delete this room.");
            }
            // The actor deletes the record as it unloads and logs (rather than reports) a failed
            // delete, so the record itself is the answer.
            if (!await rooms.UnloadAsync(name, UnloadReason.Deleted, ct) || await store.StateExistsAsync(name, ct))
            {
                return OttErrors.Create(StatusCodes.Status500InternalServerError, "Unknown", "Failed to delete room from storage.");
            }
            await owned.RemoveOwnedRoomAsync(accountId, name, ct);
            return TypedResults.Ok(SuccessResponse.Ok);
        }
        catch (OttException e)
        {
            return e.Failure.ToResult();
        }
    }

    // ----- undo and votes -----

}
