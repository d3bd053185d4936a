using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using Ott.Sync.Cluster;
using Ott.Sync.Hosting;
using Ott.Sync.Rooms;
using Ott.Sync.Storage;

namespace Ott.Sync.Telemetry;

/// <summary>Metrics, health and OpenAPI (design.md §16.1).</summary>
internal static class TelemetryExtensions
{
    public static WebApplicationBuilder AddOttTelemetry(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddMetrics();
        services.AddSingleton<OttMetrics>();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(OttMetrics.MeterName)
            .AddAspNetCoreInstrumentation()
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter());
        services.AddHealthChecks().AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
        services.AddOpenApi();
        return builder;
    }

    public static WebApplication MapOttOperations(this WebApplication app)
    {
        // OTT serves its metrics under /api/status; the exporter answers Prometheus text there.
        app.MapPrometheusScrapingEndpoint("/api/status/metrics");
        app.MapHealthChecks("/health/live", new() { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new() { Predicate = c => c.Tags.Contains("ready") });
        app.MapOpenApi();
        return app;
    }
}

/// <summary>
/// Ready once the store answers, the node has settled and its eager restore is done; not ready when
/// the last heartbeat failed or from the first moment of a drain (design.md §10.1, §10.4).
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
