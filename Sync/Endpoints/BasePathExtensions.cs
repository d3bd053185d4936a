using Microsoft.Extensions.Options;
using Ott.Sync.Limits;

namespace Ott.Sync.Endpoints;

internal static class BasePathExtensions
{
    /// <summary>
    /// Serves the REST API under <c>Http:BasePath</c> (docs/protocol.md §0) as well as at the root, the way a
    /// reverse proxy that keeps or strips the prefix expects. The socket middleware applies the same rule.
    /// </summary>
    public static WebApplication UseOttBasePath(this WebApplication app)
    {
        var basePath = app.Services.GetRequiredService<IOptions<HttpOptions>>().Value.BasePath;
        if (basePath.Length > 0)
        {
            app.UsePathBase(basePath);
        }
        return app;
    }
}
