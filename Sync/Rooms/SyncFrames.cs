using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

/// <summary>The full sync: all 20 syncable keys of the live state.</summary>
public sealed record FullSyncFrame(RoomState State) : ServerFrame;

/// <summary>A delta sync: the syncable fields that differ between two states, plus the live position when a jump happened.</summary>
public sealed record DeltaSyncFrame(RoomState Before, RoomState After) : ServerFrame;

/// <summary>
/// Writes the frames a room emits. The two sync frames read the room's state, so they are written here;
/// every other frame is Protocol's <see cref="FrameWriter"/>'s.
/// </summary>
public static class SyncFrameWriter
{
    private static IList<JsonPropertyInfo> SyncProperties => StateJsonContext.Default.SyncableRoom.Properties;

    public static byte[] Write(ServerFrame frame, DateTimeOffset now)
    {
        switch (frame)
        {
            case FullSyncFrame f:
                return WriteSync(w =>
                {
                    WriteSyncable(w, f.State.At(now).ToSyncable());
                    return true;
                }, always: true)!;
            case DeltaSyncFrame d:
                return WriteSync(w => WriteDelta(w, d.Before, d.After, now), always: true)!;
            default:
                return FrameWriter.Write(frame);
        }
    }

    /// <summary>
    /// The delta sync between two states, or null when it would say nothing: one pass over the views,
    /// so a batch's release does not diff them twice.
    /// </summary>
    public static byte[]? WriteDeltaOrNull(RoomState before, RoomState after, DateTimeOffset now) =>
        ReferenceEquals(before, after) ? null : WriteSync(w => WriteDelta(w, before, after, now), always: false);

    /// <summary>True when a delta between the two states has anything to say.</summary>
    public static bool HasDelta(RoomState before, RoomState after) =>
        WriteDeltaOrNull(before, after, DateTimeOffset.UnixEpoch) is not null;

    // {"action":"sync", …members}; null when the members wrote nothing and an empty sync is not wanted.
    private static byte[]? WriteSync(Func<Utf8JsonWriter, bool> members, bool always)
    {
        var scratch = FrameScratch.Rent();
        var w = scratch.Writer;
        w.WriteStartObject();
        w.WriteString("action", "sync");
        var wrote = members(w);
        w.WriteEndObject();
        if (wrote || always)
        {
            return scratch.ToArrayAndReturn();
        }
        scratch.Return();
        return null;
    }

    private static void WriteSyncable(Utf8JsonWriter w, SyncableRoom room)
    {
        foreach (var p in SyncProperties)
        {
            w.WritePropertyName(p.Name);
            JsonSerializer.Serialize(w, p.Get!(room), StateJsonContext.Default.GetTypeInfo(p.PropertyType)!);
        }
    }

    /// <summary>
    /// Compares each syncable property with Equals (records by value; unchanged collections keep their
    /// reference), and adds the live position whenever a jump could have happened (docs/protocol.md §6.3).
    /// </summary>
    private static bool WriteDelta(Utf8JsonWriter w, RoomState before, RoomState after, DateTimeOffset now)
    {
        var wrote = false;
        var a = before.ToSyncable();
        var b = after.ToSyncable();
        var jumped = before.ToPlaybackBasis() != after.ToPlaybackBasis();
        foreach (var p in SyncProperties)
        {
            if (p.Name == "playbackPosition")
            {
                if (jumped)
                {
                    w.WriteNumber("playbackPosition", after.At(now).ToSyncable().PlaybackPosition);
                    wrote = true;
                }
                continue;
            }
            var va = p.Get!(a);
            var vb = p.Get!(b);
            if (!Equals(va, vb))
            {
                w.WritePropertyName(p.Name);
                JsonSerializer.Serialize(w, vb, StateJsonContext.Default.GetTypeInfo(p.PropertyType)!);
                wrote = true;
            }
        }
        return wrote;
    }
}
