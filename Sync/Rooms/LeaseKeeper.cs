using Microsoft.Extensions.Options;
using Ott.Sync.Cluster;
using Ott.Sync.Storage;

namespace Ott.Sync.Rooms;

/// <summary>Renews every owned lease each <c>Lease:RenewInterval</c> and keeps the local deadlines (docs/architecture.md §7.3).</summary>
internal sealed partial class LeaseKeeper(
    RoomHost rooms,
    RoomStore store,
    TimeProvider time,
    IOptions<LeaseOptions> options,
    ILogger<LeaseKeeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RenewInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await RenewAllAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal async Task RenewAllAsync(CancellationToken ct)
    {
        // One pipelined renew per owned room; each deadline counts from its own send instant.
        var renewals = rooms.Actors.Where(a => !a.IsStopped).Select(async actor =>
        {
            try
            {
                if (!await actor.Lease.RenewAsync(store, actor.StateTtl, ct))
                {
                    Log.LeaseLost(logger, actor.Key, actor.Token.Epoch);
                    actor.LeaseLost();
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Unknown outcome: the deadline stays as it was, and the actor self-fences at it.
                Log.RenewFailed(logger, e, actor.Key);
            }
        });
        await Task.WhenAll(renewals);
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "Room {Room}: lease lost at epoch {Epoch}")]
        public static partial void LeaseLost(ILogger logger, string room, long epoch);

        [LoggerMessage(LogLevel.Warning, "Room {Room}: lease renew failed")]
        public static partial void RenewFailed(ILogger logger, Exception e, string room);
    }
}
