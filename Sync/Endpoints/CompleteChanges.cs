using Ott.Sync.Connections;

namespace Ott.Sync.Endpoints;

internal static class CompleteChangesExtensions
{
    /// <summary>
    /// A request that changes something (any method but GET, HEAD and OPTIONS) runs to completion once it
    /// has arrived, even if its client goes away meanwhile, as in OTT (docs/protocol.md §4.1): a browser that
    /// reloads or navigates right after pressing "save" still has its change made. Its handlers see the
    /// connections' drain token (docs/architecture.md §10.4) instead of <c>RequestAborted</c>; reads keep
    /// <c>RequestAborted</c>, so a lookup nobody waits for stops. The middlewares outside see the real token.
    /// </summary>
    public static WebApplication UseOttCompleteChanges(this WebApplication app)
    {
        var drain = app.Services.GetRequiredService<ConnectionRegistry>().DrainToken;
        app.Use((http, next) => RunAsync(http, next, drain));
        return app;
    }

    internal static async Task RunAsync(HttpContext http, RequestDelegate next, CancellationToken drain)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(next);
        var method = http.Request.Method;
        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method))
        {
            await next(http);
            return;
        }
        var aborted = http.RequestAborted;
        http.RequestAborted = drain;
        try
        {
            await next(http);
        }
        finally
        {
            http.RequestAborted = aborted;
        }
    }
}
