using Ott.Sync.Auth;

namespace Ott.Sync.Endpoints;

// Runs protocol §3.2 before an `/api` handler: the caller goes into HttpContext.GetApiCaller(), and a
// refusal is answered as OTT's error JSON.
internal sealed class ApiAuthFilter(ApiAuthenticator authenticator) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        var (caller, failure) = await authenticator.AuthenticateAsync(http, http.RequestAborted);
        if (failure is not null)
        {
            return failure.ToResult();
        }
        http.SetApiCaller(caller!);
        return await next(context);
    }
}

internal static class ApiAuthFilterExtensions
{
    // Put on an `/api` endpoint group: runs §3.2 and exposes the result as HttpContext.GetApiCaller().
    public static TBuilder RequireOttAuth<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter<TBuilder, ApiAuthFilter>();
}
