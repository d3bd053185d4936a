using Microsoft.AspNetCore.Http.HttpResults;
using Ott.Sync.Auth;
using Ott.Sync.Cluster;
using Ott.Sync.Connections;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Sync.Endpoints;

internal sealed record OwnershipRoom(string Room, string Token, long Epoch, double DeadlineSeconds, bool DeadlineValid, int Connections, long Version);

/// <summary>A room with clients on this node: the owner whose events it last applied, and its epoch.</summary>
internal sealed record GatewayView(string Room, string? Owner, long Epoch, int Clients);

internal sealed record OwnershipView(string NodeId, IReadOnlyList<string> LiveNodes, double ClockOffsetMs, bool Draining, IReadOnlyList<OwnershipRoom> Rooms,
    IReadOnlyList<GatewayView> Gateways);

/// <summary><c>POST /api/announce</c> (docs/protocol.md §4.4) and the debug ownership view (docs/architecture.md §15.4).</summary>
internal static class AdminEndpoints
{
    public static RouteGroupBuilder MapAnnounceEndpoints(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/announce").RequireOttAuth();
        group.MapPost("/", AnnounceAsync);
        return group;
    }

    public static async Task<Results<Ok<SuccessResponse>, OttErrorResult>> AnnounceAsync(
        HttpContext http, ConnectionRegistry connections, CancellationToken ct)
    {
        if (!http.GetRequiredApiCaller().IsAdmin)
        {
            return OttErrors.Create(StatusCodes.Status400BadRequest, "Unauthorized", "Admin apikey is required to make an announcement.");
        }
        var (body, error) = await ApiBody.ReadObjectAsync(http.Request, ct);
        if (error is not null)
        {
            return error;
        }
        var text = body!["text"];
        if (!Zod.IsString(text))
        {
            var issue = text is null ? Zod.Required("string", "text") : Zod.InvalidType("string", text, "text");
            return OttErrors.ZodValidation(Zod.Message([issue]), [issue.ToJson()]);
        }
        connections.Announce(text!.GetValue<string>());
        return TypedResults.Ok(SuccessResponse.Ok);
    }

    /// <summary>Only with <c>Debug:Endpoints</c> (Development and Testing turn it on).</summary>
    public static IEndpointRouteBuilder MapDebugEndpoints(this IEndpointRouteBuilder routes, IConfiguration config, IHostEnvironment env)
    {
        var enabled = config.GetValue<bool?>("Debug:Endpoints") ?? (env.IsDevelopment() || env.IsEnvironment("Testing"));
        if (enabled)
        {
            routes.MapGet("/debug/ownership", Ownership).ExcludeFromDescription();
        }
        return routes;
    }

    public static Ok<OwnershipView> Ownership(RoomManager rooms, GatewayRooms gateways, NodeIdentity node, Membership membership, ClusterClock clock, TimeProvider time) =>
        TypedResults.Ok(new OwnershipView(node.Id, membership.LiveNodes, clock.Offset.TotalMilliseconds, rooms.IsDraining,
            [.. rooms.Actors.Where(a => !a.IsStopped).OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => new OwnershipRoom(
                a.Key, a.Token.Value, a.Token.Epoch, a.DeadlineRemaining(time).TotalSeconds, a.DeadlineValid, a.ConnectionCount, a.State.Version))],
            [.. gateways.Rooms.OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => new GatewayView(g.Key, g.Owner, g.Epoch, g.Clients().Count))]));
}
