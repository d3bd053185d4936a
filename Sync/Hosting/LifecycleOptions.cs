namespace Ott.Sync.Hosting;

public sealed class LifecycleOptions
{
    /// <summary>The graceful shutdown budget: release rooms, close sockets with 1001 (docs/architecture.md §10.4).</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(15);
}
