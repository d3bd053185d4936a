namespace Ott.Sync.Endpoints;

/// <summary>
/// The `Testing` section: OTT's test-only API under <c>/api/dev</c> (docs/protocol.md §4.5), which OTT's own
/// end-to-end suite drives. Off by default; start-up fails when it is on in the Production environment.
/// </summary>
internal sealed class TestingOptions
{
    public const string Section = "Testing";

    public const string ProductionMessage =
        "Testing:Endpoints is on in the Production environment. The test-only API (/api/dev/*) resets rate limits, "
        + "logs any caller in as any account and replaces the admin apikey, so it is refused there: turn it off, or run "
        + "the server under another environment name (ASPNETCORE_ENVIRONMENT=Development or Testing).";

    // Serves /api/dev/*; off, every /api/dev path answers 404 in OTT's error shape.
    public bool Endpoints { get; set; }
}
