using Microsoft.Extensions.Options;
using Ott.Sync.Cluster;

namespace Ott.Sync.Rooms;

/// <summary>
/// Posts a tick to every owned room each <c>Rooms:TickInterval</c> (queue advance, end of media,
/// auto-skip, idle unload) and keeps the room directory fresh (docs/architecture.md §4, §6.3).
/// </summary>
internal sealed partial class RoomTicker(
    RoomHost rooms,
    RoomDirectory directory,
    TimeProvider time,
    IOptions<RoomsOptions> options,
    ILogger<RoomTicker> logger) : BackgroundService
{
    private static readonly TimeSpan DirectoryRefresh = TimeSpan.FromSeconds(10);
    private readonly Dictionary<string, (RoomListItem Item, long At)> _published = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.TickInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await TickAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.TickFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task TickAsync(CancellationToken ct)
    {
        var actors = rooms.Actors.Where(a => !a.IsStopped).ToList();
        foreach (var actor in actors)
        {
            actor.Tick();
        }
        var now = time.GetTimestamp();
        foreach (var actor in actors)
        {
            // Write the directory entry when its list fields change (at most once a tick) or every 10 s.
            var item = RoomDirectory.ListItem(actor.State, actor.ConnectionCount);
            if (_published.TryGetValue(actor.Key, out var last) && last.Item == item
                && time.GetElapsedTime(last.At, now) < DirectoryRefresh)
            {
                continue;
            }
            if (actor.IsStopped)
            {
                continue; // unloaded meanwhile: its directory entry is gone and must stay gone
            }
            await directory.PublishAsync(actor, ct);
            _published[actor.Key] = (item, now);
        }
        foreach (var key in _published.Keys.Where(k => rooms.Loaded(k) is null).ToList())
        {
            _published.Remove(key);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Error, "Room tick failed")]
        public static partial void TickFailed(ILogger logger, Exception e);
    }
}
