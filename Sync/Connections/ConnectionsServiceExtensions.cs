using Microsoft.Extensions.Options;
using Ott.Sync.Auth;
using Ott.Sync.Limits;
using Ott.Sync.Rooms;

namespace Ott.Sync.Connections;

/// <summary>Sockets, sessions and the gateway side of every room with local clients (docs/architecture.md §4).</summary>
internal static class ConnectionsServiceExtensions
{
    public static WebApplicationBuilder AddOttConnections(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<ConnectionsOptions>().BindConfiguration("Connections");
        services.AddSingleton<IValidateOptions<ConnectionsOptions>, ConnectionsOptionsValidator>();
        // The per-IP socket limit is Limits' concurrency limiter; its setting stays Connections:MaxPerIp.
        services.AddOptions<SocketLimitOptions>().Configure<IOptions<ConnectionsOptions>>(
            (limit, connections) => limit.MaxPerIp = connections.Value.MaxPerIp);
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<ISessionChangeListener>(sp => sp.GetRequiredService<ConnectionRegistry>());
        services.AddSingleton<GatewayRooms>();
        services.AddSingleton<DriftBoard>();
        services.AddSingleton<HeadlessClients>();
        services.AddSingleton<IRoomFanout, RoomFanout>();
        services.AddHostedService<Rejoiner>();
        services.AddHostedService<ClusterListener>();
        services.AddHostedService<OpenFileLimit>();
        return builder;
    }
}
