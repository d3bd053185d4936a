using OpenTelemetry.Metrics;

namespace Ott.Sync.Telemetry;

/// <summary>Metrics, health and OpenAPI (docs/architecture.md §16.1).</summary>
internal static class TelemetryServiceExtensions
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
        // The checks themselves are registered by the folders they look at (Hosting's readiness).
        services.AddHealthChecks();
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
