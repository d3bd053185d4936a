using Microsoft.Extensions.Options;
using Ott.Sync.Cluster;
using Ott.Sync.Connections;
using Ott.Sync.Rooms;

namespace Ott.Sync.Hosting;

/// <summary>
/// The drain of docs/architecture.md §10.4, run from StoppingAsync: the host calls it after ApplicationStopping but
/// before it stops any hosted service or the server, so renewals, the store and open sockets still work
/// while rooms are handed back.
/// </summary>
internal sealed partial class ShutdownCoordinator(
    Membership membership,
    RoomHost rooms,
    GatewayRooms gateways,
    ConnectionRegistry connections,
    NodeBus bus,
    IOptions<LifecycleOptions> options,
    ILogger<ShutdownCoordinator> logger) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        var budget = options.Value.DrainTimeout;
        // Step 1: out of the live set and placement at once; no room is re-joined from here.
        gateways.StopRejoining();
        using (var leaving = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            leaving.CancelAfter(TimeSpan.FromSeconds(1));
            await membership.LeaveAsync(leaving.Token);
        }
        bus.PublishCluster(new BusHeader(BusType.NodeDown), null);
        using var releaseTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        releaseTimeout.CancelAfter(budget / 2);
        try
        {
            await rooms.ReleaseAllAsync(releaseTimeout.Token);
        }
        catch (OperationCanceledException)
        {
            Log.ReleaseTimedOut(logger);
        }
        await connections.DrainAsync(TimeSpan.FromSeconds(2));
        Log.Drained(logger);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "Releasing rooms did not finish within the drain budget")]
        public static partial void ReleaseTimedOut(ILogger logger);

        [LoggerMessage(LogLevel.Information, "Drained: rooms released and sockets closed")]
        public static partial void Drained(ILogger logger);
    }
}
