using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Ott.Sync.Cluster;

/// <summary>Node identity, membership, the cluster clock, stall detection and the bus (docs/architecture.md §4, §9).</summary>
internal static class ClusterServiceExtensions
{
    /// <summary>No Redis configured: the embedded store, single-node by construction (docs/architecture.md §6.2).</summary>
    public static bool IsEmbedded(IConfiguration config) => string.IsNullOrWhiteSpace(config.GetConnectionString("Redis"));

    public static WebApplicationBuilder AddOttCluster(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptionsWithValidateOnStart<NodeOptions>().BindConfiguration("Node");
        services.AddSingleton<IValidateOptions<NodeOptions>, NodeOptionsValidator>();
        services.AddOptionsWithValidateOnStart<ClusterOptions>().BindConfiguration("Cluster")
            .PostConfigure<IConfiguration>((o, config) =>
            {
                if (ClusterServiceExtensions.IsEmbedded(config) && config["Cluster:SettleHeartbeats"] is null)
                {
                    o.SettleHeartbeats = 1;
                }
            })
            .Validate(o => o.NodeTimeout >= 2 * o.HeartbeatInterval, "Cluster:NodeTimeout must be at least 2 × Cluster:HeartbeatInterval.");
        services.AddSingleton<IValidateOptions<ClusterOptions>, ClusterOptionsValidator>();
        // Embedded mode is single-node by construction, so failover speed means nothing there and the
        // renewals that commit-wait makes costly are spread out (docs/architecture.md §6.2). Explicit values win.
        services.AddOptionsWithValidateOnStart<LeaseOptions>().BindConfiguration("Lease")
            .PostConfigure<IConfiguration>((o, config) =>
            {
                if (ClusterServiceExtensions.IsEmbedded(config))
                {
                    if (config["Lease:Ttl"] is null) o.Ttl = TimeSpan.FromMinutes(5);
                    if (config["Lease:RenewInterval"] is null) o.RenewInterval = TimeSpan.FromMinutes(1);
                }
            })
            .Validate(o => 2 * o.RenewInterval + o.EffectiveMargin < o.Ttl, "Lease: 2 × RenewInterval + Margin must be below Ttl.");
        services.AddSingleton<IValidateOptions<LeaseOptions>, LeaseOptionsValidator>();
        services.AddSingleton<NodeIdentity>();
        services.AddSingleton<ClusterClock>();
        services.AddSingleton<StallWatch>();
        services.AddHostedService(sp => sp.GetRequiredService<StallWatch>());
        // The bus subscribes to the node and cluster channels before the first heartbeat (docs/architecture.md §9.1).
        services.AddSingleton<NodeBus>();
        services.AddHostedService(sp => sp.GetRequiredService<NodeBus>());
        services.AddSingleton<Membership>();
        services.AddHostedService(sp => sp.GetRequiredService<Membership>());
        return builder;
    }
}
