using Microsoft.Extensions.Diagnostics.HealthChecks;
using Ott.Sync.Cluster;
using Ott.Sync.Rooms;
using Ott.Sync.Storage;

namespace Ott.Sync.Hosting;

/// <summary>
/// Ready once the store answers, the node has settled and its eager restore is done; not ready when
/// the last heartbeat failed or from the first moment of a drain (docs/architecture.md §10.1, §10.4).
/// </summary>
internal sealed class ReadinessCheck(RedisConnection store, Membership membership, RoomRestorer restorer, RoomManager rooms) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var reason = rooms.IsDraining ? "draining"
            : !store.IsConnected ? "store unreachable"
            : !membership.IsSettled ? "not settled"
            : !membership.LastHeartbeatSucceeded ? "last heartbeat failed"
            : !restorer.Completion.IsCompletedSuccessfully ? "restoring rooms"
            : null;
        return Task.FromResult(reason is null ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(reason));
    }
}
