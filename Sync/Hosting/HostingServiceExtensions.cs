using Microsoft.Extensions.Options;

namespace Ott.Sync.Hosting;

/// <summary>
/// The node's lifecycle, composed last because it uses every other part: eager restore after settling and
/// the drain at shutdown (docs/architecture.md §10.1, §10.4).
/// </summary>
internal static class HostingServiceExtensions
{
    public static WebApplicationBuilder AddOttHosting(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<LifecycleOptions>().BindConfiguration("Lifecycle");
        services.AddOptions<HostOptions>().Configure<IOptions<LifecycleOptions>>((host, lifecycle) =>
            host.ShutdownTimeout = lifecycle.Value.DrainTimeout + TimeSpan.FromSeconds(5));
        services.AddSingleton<RoomRestorer>();
        services.AddHostedService(sp => sp.GetRequiredService<RoomRestorer>());
        services.AddHostedService<ShutdownCoordinator>();
        // /health/ready (mapped with the other operations endpoints) answers from ReadinessCheck.
        services.AddHealthChecks().AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
        return builder;
    }
}
