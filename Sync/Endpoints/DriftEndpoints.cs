using Microsoft.AspNetCore.Http.HttpResults;
using Ott.Sync.Auth;
using Ott.Sync.Connections;

namespace Ott.Sync.Endpoints;

/// <summary>
/// <c>GET /api/room/{name}/drift</c> (docs/protocol.md §10): the drift summary of a room's clock-synced viewers on
/// the node that answers. Operators only: it needs the admin API key, as <c>POST /api/announce</c> does.
/// </summary>
internal static class DriftEndpoints
{
    public static RouteGroupBuilder MapDriftEndpoints(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/room/{name}/drift").RequireOttAuth();
        group.MapGet("/", Summary);
        return group;
    }

    public static Results<Ok<RoomDriftView>, OttErrorResult> Summary(string name, HttpContext http, DriftBoard drift) =>
        http.GetRequiredApiCaller().IsAdmin
            ? TypedResults.Ok(drift.Summary(Rooms.RoomManager.KeyOf(name)))
            : OttErrors.Create(StatusCodes.Status400BadRequest, "Unauthorized", "Admin apikey is required to read a room's drift.");
}
