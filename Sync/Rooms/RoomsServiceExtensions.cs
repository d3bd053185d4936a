using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Ott.Sync.Media;

namespace Ott.Sync.Rooms;

/// <summary>Rooms owned here, routing to owners, leases and the directory (docs/architecture.md §4).</summary>
internal static class RoomsServiceExtensions
{
    public static WebApplicationBuilder AddOttRooms(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptionsWithValidateOnStart<RoomsOptions>().BindConfiguration("Rooms");
        services.AddSingleton<IValidateOptions<RoomsOptions>, RoomsOptionsValidator>();
        services.AddOptions<SponsorBlockOptions>().BindConfiguration("SponsorBlock");
        services.AddSingleton<OwnerCache>();
        services.AddSingleton<RoomDirectory>();
        services.AddSingleton<RoomHost>();
        services.AddSingleton<RoomRouter>();
        services.AddHostedService<OwnerRequests>();
        services.AddSingleton<RoomManager>();
        // A host without sockets gets a fan-out that goes nowhere; AddOttConnections adds the real one,
        // which wins whichever order the two are composed in (the last registration is the one resolved).
        services.TryAddSingleton<IRoomFanout, NoFanout>();
        // Before the ticker (and the restorer, composed later): hosted services start in this order and stop in reverse.
        services.AddSingleton<LeaseKeeper>();
        services.AddHostedService(sp => sp.GetRequiredService<LeaseKeeper>());
        services.AddHostedService<RoomTicker>();
        return builder;
    }
}
