using Ott.Sync.Rooms;

namespace Ott.Sync.Hosting;

/// <summary>Eager restore after settling (docs/architecture.md §10.1 step 5), in the background.</summary>
internal sealed class RoomRestorer(RoomHost rooms) : BackgroundService
{
    public Task Completion => ExecuteTask ?? Task.CompletedTask;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => rooms.RestoreAsync(stoppingToken);
}
