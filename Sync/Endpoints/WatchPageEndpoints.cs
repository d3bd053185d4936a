using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace Ott.Sync.Endpoints;

/// <summary>
/// The watch page (wwwroot): <c>/</c> is <c>index.html</c>, and every <c>/room/{name}</c> is the one
/// room page, which reads the name from its own URL and speaks the protocol like any other client.
/// </summary>
internal static class WatchPageEndpoints
{
    private const string RoomPage = "room.html";

    // After RoomSocketMiddleware, which takes every upgrade: an upgrade to `/` must be accepted and
    // closed with 4001 (docs/protocol.md §1.1), and UseDefaultFiles would otherwise answer it with index.html.
    public static WebApplication UseOttWatchPage(this WebApplication app)
    {
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            // Revalidate every load: the page is tiny and a stale module next to a fresh one breaks it.
            OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "no-cache",
        });
        return app;
    }

    public static RouteHandlerBuilder MapWatchPageEndpoints(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/room/{name}", GetRoomPage).ExcludeFromDescription();

    public static Results<PhysicalFileHttpResult, NotFound> GetRoomPage(string name, IWebHostEnvironment env, HttpContext http)
    {
        var file = env.WebRootFileProvider.GetFileInfo(RoomPage);
        if (!file.Exists || file.PhysicalPath is null)
        {
            return TypedResults.NotFound();
        }
        http.Response.Headers.CacheControl = "no-cache";
        return TypedResults.PhysicalFile(file.PhysicalPath, "text/html; charset=utf-8", lastModified: file.LastModified,
            entityTag: new EntityTagHeaderValue($"\"{file.LastModified.UtcTicks:x}-{file.Length:x}\""));
    }
}
