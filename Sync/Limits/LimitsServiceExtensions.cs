using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Limits;

internal static class LimitsServiceExtensions
{
    public static WebApplicationBuilder AddOttLimits(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<RateLimitOptions>().BindConfiguration("RateLimit");
        services.AddSingleton<IValidateOptions<RateLimitOptions>, RateLimitOptionsValidator>();
        services.AddSingleton<PointsLimiter>();
        services.AddSingleton<LoginLimiter>();
        // Open sockets per IP: a concurrency limiter partitioned by IP on upgrade requests only. A
        // WebSocket request holds its permit for its whole life, so the limit counts open sockets.
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
            {
                var max = http.RequestServices.GetRequiredService<IOptions<SocketLimitOptions>>().Value.MaxPerIp;
                return http.WebSockets.IsWebSocketRequest && max > 0
                    ? RateLimitPartition.GetConcurrencyLimiter(ClientIp.Of(http), _ => new ConcurrencyLimiterOptions { PermitLimit = max, QueueLimit = 0 })
                    : RateLimitPartition.GetNoLimiter("");
            });
        });
        services.AddOptionsWithValidateOnStart<HttpOptions>().BindConfiguration(HttpOptions.Section);
        services.AddSingleton<IValidateOptions<HttpOptions>, HttpOptionsValidator>();
        services.AddOptions<HttpOptions>().Validate(
            o => o.TrustedProxies.All(p => IPAddress.TryParse(p, out _)), "Http:TrustedProxies must list IP addresses.");
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<HttpOptions>>((forwarded, http) =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in http.Value.TrustedProxies)
            {
                forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
            }
        });
        return builder;
    }

    /// <summary>Forwarded headers only when proxies are trusted, then the per-IP connection limit.</summary>
    public static WebApplication UseOttLimits(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<HttpOptions>>().Value.TrustedProxies.Length > 0)
        {
            app.UseForwardedHeaders();
        }
        app.UseRateLimiter();
        return app;
    }
}
