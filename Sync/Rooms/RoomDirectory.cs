using System.Text.Json;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;
using Ott.Sync.Storage;

namespace Ott.Sync.Rooms;

/// <summary>
/// The room directory in the store (docs/architecture.md §6.3): each owner writes its rooms' list entries, and any
/// node reads every entry that has not expired.
/// </summary>
internal sealed partial class RoomDirectory(RoomStore store, ClusterClock clock, ILogger<RoomDirectory> logger)
{
    public static RoomListItem ListItem(RoomState state, int users) => state.ToListItem(users);

    public async Task PublishAsync(RoomActor actor, CancellationToken ct)
    {
        var item = ListItem(actor.State, actor.ConnectionCount);
        var json = JsonSerializer.Serialize(item, StateJsonContext.Default.RoomListItem);
        try
        {
            await store.MarkActiveAsync(actor.Key, clock.Now + TimeSpan.FromSeconds(30), json, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.DirectoryFailed(logger, e, actor.Key);
        }
    }

    /// <summary>Every listed room as its owner last wrote it; unreadable entries are skipped.</summary>
    public async Task<List<RoomListItem>> ReadAsync(CancellationToken ct)
    {
        var metas = await store.ListMetaAsync(clock.Now, ct);
        var items = new List<RoomListItem>(metas.Count);
        foreach (var meta in metas)
        {
            try
            {
                if (JsonSerializer.Deserialize(meta, StateJsonContext.Default.RoomListItem) is { } item)
                {
                    items.Add(item);
                }
            }
            catch (JsonException)
            {
            }
        }
        return items;
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "Room {Room}: directory update failed")]
        public static partial void DirectoryFailed(ILogger logger, Exception e, string room);
    }
}
