using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Ott.Sync.Auth;
using Ott.Sync.Cluster;
using Ott.Sync.Connections;
using Ott.Sync.Limits;
using Ott.Sync.Rooms;

namespace Ott.Sync;

/// <summary>The composition of the sync engine: one <c>AddOtt…</c> per concern (design.md §2).</summary>
internal static class OttServiceExtensions
{
    private static bool IsEmbedded(IConfiguration config) => string.IsNullOrWhiteSpace(config.GetConnectionString("Redis"));

    public static WebApplicationBuilder AddOttCluster(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptionsWithValidateOnStart<NodeOptions>().BindConfiguration("Node");
        services.AddSingleton<IValidateOptions<NodeOptions>, NodeOptionsValidator>();
        services.AddOptionsWithValidateOnStart<ClusterOptions>().BindConfiguration("Cluster")
            .PostConfigure<IConfiguration>((o, config) =>
            {
                if (IsEmbedded(config) && config["Cluster:SettleHeartbeats"] is null)
                {
                    o.SettleHeartbeats = 1;
                }
            })
            .Validate(o => o.NodeTimeout >= 2 * o.HeartbeatInterval, "Cluster:NodeTimeout must be at least 2 × Cluster:HeartbeatInterval.");
        services.AddSingleton<IValidateOptions<ClusterOptions>, ClusterOptionsValidator>();
        // Embedded mode is single-node by construction, so failover speed means nothing there and the
        // renewals that commit-wait makes costly are spread out (design.md §6.2). Explicit values win.
        services.AddOptionsWithValidateOnStart<LeaseOptions>().BindConfiguration("Lease")
            .PostConfigure<IConfiguration>((o, config) =>
            {
                if (IsEmbedded(config))
                {
                    if (config["Lease:Ttl"] is null) o.Ttl = TimeSpan.FromMinutes(5);
                    if (config["Lease:RenewInterval"] is null) o.RenewInterval = TimeSpan.FromMinutes(1);
                }
            })
            .Validate(o => 2 * o.RenewInterval + o.EffectiveMargin < o.Ttl, "Lease: 2 × RenewInterval + Margin must be below Ttl.");
        services.AddSingleton<IValidateOptions<LeaseOptions>, LeaseOptionsValidator>();
        services.AddOptionsWithValidateOnStart<LifecycleOptions>().BindConfiguration("Lifecycle");
        services.AddOptions<HostOptions>().Configure<IOptions<LifecycleOptions>>((host, lifecycle) =>
            host.ShutdownTimeout = lifecycle.Value.DrainTimeout + TimeSpan.FromSeconds(5));
        services.AddSingleton<NodeIdentity>();
        services.AddSingleton<ClusterClock>();
        // The bus subscribes to the node and cluster channels before the first heartbeat (design.md §9.1).
        services.AddSingleton<NodeBus>();
        services.AddHostedService(sp => sp.GetRequiredService<NodeBus>());
        services.AddSingleton<Membership>();
        services.AddHostedService(sp => sp.GetRequiredService<Membership>());
        services.AddSingleton<LeaseKeeper>();
        services.AddHostedService(sp => sp.GetRequiredService<LeaseKeeper>());
        return builder;
    }

    public static WebApplicationBuilder AddOttRooms(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<RoomsOptions>().BindConfiguration("Rooms");
        services.AddSingleton<IValidateOptions<RoomsOptions>, RoomsOptionsValidator>();
        services.AddOptions<SponsorBlockOptions>().BindConfiguration("SponsorBlock");
        services.AddSingleton<RoomManager>();
        services.AddSingleton<INodeRequestHandler>(sp => sp.GetRequiredService<RoomManager>());
        services.AddHostedService<RoomTicker>();
        services.AddSingleton<RoomRestorer>();
        services.AddHostedService(sp => sp.GetRequiredService<RoomRestorer>());
        return builder;
    }

    public static WebApplicationBuilder AddOttConnections(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<ConnectionsOptions>().BindConfiguration("Connections");
        services.AddSingleton<IValidateOptions<ConnectionsOptions>, ConnectionsOptionsValidator>();
        // The per-IP socket limit is Limits' concurrency limiter; its setting stays Connections:MaxPerIp.
        services.AddOptions<SocketLimitOptions>().Configure<IOptions<ConnectionsOptions>>(
            (limit, connections) => limit.MaxPerIp = connections.Value.MaxPerIp);
        services.AddSingleton<ClientManager>();
        services.AddHostedService(sp => sp.GetRequiredService<ClientManager>());
        services.AddSingleton<ISessionChangeListener>(sp => sp.GetRequiredService<ClientManager>());
        services.AddSingleton<IGatewayHandler>(sp => sp.GetRequiredService<ClientManager>());
        services.AddSingleton<IRoomFanout, RoomFanout>();
        services.AddHostedService<ShutdownCoordinator>();
        return builder;
    }
}
