namespace Ott.Sync.Endpoints;

internal sealed record StatusResponse(string Status);

/// <summary><c>GET /api/status</c> (docs/protocol.md §4.4): no authentication.</summary>
internal static class StatusEndpoints
{
    private static readonly StatusResponse Ok = new("ok");

    public static RouteGroupBuilder MapStatusEndpoints(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/status");
        group.MapGet("/", () => TypedResults.Ok(Ok));
        return group;
    }
}
