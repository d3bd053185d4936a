namespace Ott.Sync.Hosting;

internal static class HostingServiceExtensions
{
    // The node's lifecycle as operators see it: /health/ready (mapped with the other operations
    // endpoints by MapOttOperations) answers from ReadinessCheck.
    public static WebApplicationBuilder AddOttHosting(this WebApplicationBuilder builder)
    {
        builder.Services.AddHealthChecks().AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
        return builder;
    }
}
