using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace Ott.Sync.Protocol;

/// <summary>A server → client message (protocol.md §1.5), before serialisation.</summary>
public abstract record ServerFrame;

/// <summary>The full sync: all 20 syncable keys of the live state.</summary>
public sealed record FullSyncFrame(RoomState State) : ServerFrame;

/// <summary>A delta sync: the syncable fields that differ between two states, plus the live position when a jump happened.</summary>
public sealed record DeltaSyncFrame(RoomState Before, RoomState After) : ServerFrame;

public sealed record PositionSyncFrame(double Position) : ServerFrame;
public sealed record EventFrame(JsonObject Request, RoomUserInfo User, JsonObject Additional, string Id) : ServerFrame;
public sealed record ChatFrame(RoomUserInfo From, string Text) : ServerFrame;
public sealed record EventCustomFrame(string Text) : ServerFrame;
public sealed record UserUpdateFrame(RoomUserInfo User) : ServerFrame;
public sealed record UserRemoveFrame(string ClientId) : ServerFrame;
public sealed record UserInitFrame(IReadOnlyList<RoomUserInfo> Users) : ServerFrame;
public sealed record YouFrame(string ClientId) : ServerFrame;
public sealed record ErrorFrame(OttFailure Failure) : ServerFrame;
public sealed record AnnouncementFrame(string Text) : ServerFrame;

/// <summary>A frame already written to UTF-8 (once, by the room that released it); written again as is.</summary>
public sealed record WrittenFrame(byte[] Utf8) : ServerFrame;

/// <summary>Serialises frames once, to UTF-8, with the source-generated metadata (design.md §3, §13).</summary>
public static class FrameWriter
{
    // Frames are UTF-8 JSON for sockets, not HTML: quotes and apostrophes need no escaping.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static IList<JsonPropertyInfo> SyncProperties => OttJsonContext.Default.SyncableRoom.Properties;

    public static byte[] Write(ServerFrame frame, DateTimeOffset now)
    {
        if (frame is WrittenFrame written)
        {
            return written.Utf8;
        }
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            Write(w, frame, now);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void Write(Utf8JsonWriter w, ServerFrame frame, DateTimeOffset now)
    {
        var ctx = OttJsonContext.Default;
        w.WriteStartObject();
        switch (frame)
        {
            case FullSyncFrame f:
                w.WriteString("action", "sync");
                WriteSyncable(w, f.State.At(now).ToSyncable(), null);
                break;
            case DeltaSyncFrame d:
                w.WriteString("action", "sync");
                WriteDelta(w, d.Before, d.After, now);
                break;
            case PositionSyncFrame p:
                w.WriteString("action", "sync");
                w.WriteNumber("playbackPosition", p.Position);
                break;
            case EventFrame e:
                w.WriteString("action", "event");
                w.WritePropertyName("request");
                e.Request.WriteTo(w);
                w.WritePropertyName("user");
                JsonSerializer.Serialize(w, e.User, ctx.RoomUserInfo);
                w.WritePropertyName("additional");
                e.Additional.WriteTo(w);
                w.WriteString("id", e.Id);
                break;
            case ChatFrame c:
                w.WriteString("action", "chat");
                w.WritePropertyName("from");
                JsonSerializer.Serialize(w, c.From, ctx.RoomUserInfo);
                w.WriteString("text", c.Text);
                break;
            case EventCustomFrame ec:
                w.WriteString("action", "eventcustom");
                w.WriteString("text", ec.Text);
                break;
            case UserUpdateFrame u:
                w.WriteString("action", "user");
                w.WriteStartObject("update");
                w.WriteString("kind", "update");
                w.WritePropertyName("value");
                JsonSerializer.Serialize(w, u.User, ctx.RoomUserInfo);
                w.WriteEndObject();
                break;
            case UserRemoveFrame r:
                w.WriteString("action", "user");
                w.WriteStartObject("update");
                w.WriteString("kind", "remove");
                w.WriteString("value", r.ClientId);
                w.WriteEndObject();
                break;
            case UserInitFrame i:
                w.WriteString("action", "user");
                w.WriteStartObject("update");
                w.WriteString("kind", "init");
                w.WritePropertyName("value");
                w.WriteStartArray();
                foreach (var user in i.Users)
                {
                    JsonSerializer.Serialize(w, user, ctx.RoomUserInfo);
                }
                w.WriteEndArray();
                w.WriteEndObject();
                break;
            case YouFrame y:
                w.WriteString("action", "you");
                w.WriteStartObject("info");
                w.WriteString("id", y.ClientId);
                w.WriteEndObject();
                break;
            case ErrorFrame err:
                w.WriteString("action", "error");
                w.WriteString("error", err.Failure.Message);
                w.WriteString("name", err.Failure.Name ?? "Error");
                break;
            case AnnouncementFrame a:
                w.WriteString("action", "announcement");
                w.WriteString("text", a.Text);
                break;
            default:
                throw new InvalidOperationException($"Unknown frame {frame.GetType().Name}");
        }
        w.WriteEndObject();
    }

    private static void WriteSyncable(Utf8JsonWriter w, SyncableRoom room, Func<JsonPropertyInfo, bool>? include)
    {
        foreach (var p in SyncProperties)
        {
            if (include is not null && !include(p))
            {
                continue;
            }
            w.WritePropertyName(p.Name);
            JsonSerializer.Serialize(w, p.Get!(room), OttJsonContext.Default.GetTypeInfo(p.PropertyType)!);
        }
    }

    /// <summary>
    /// Compares each syncable property with Equals (records by value; unchanged collections keep their
    /// reference), and adds the live position whenever a jump could have happened (protocol.md §6.3).
    /// </summary>
    private static bool WriteDelta(Utf8JsonWriter w, RoomState before, RoomState after, DateTimeOffset now)
    {
        var wrote = false;
        var a = before.ToSyncable();
        var b = after.ToSyncable();
        var jumped = a.IsPlaying != b.IsPlaying || !Equals(a.CurrentSource, b.CurrentSource)
            || a.PlaybackSpeed != b.PlaybackSpeed || before.PlaybackPosition != after.PlaybackPosition
            || before.PlaybackAnchor != after.PlaybackAnchor;
        var live = after.At(now).ToSyncable();
        foreach (var p in SyncProperties)
        {
            if (p.Name == "playbackPosition")
            {
                if (jumped)
                {
                    w.WriteNumber("playbackPosition", live.PlaybackPosition);
                    wrote = true;
                }
                continue;
            }
            var va = p.Get!(a);
            var vb = p.Get!(b);
            if (!Equals(va, vb))
            {
                w.WritePropertyName(p.Name);
                JsonSerializer.Serialize(w, vb, OttJsonContext.Default.GetTypeInfo(p.PropertyType)!);
                wrote = true;
            }
        }
        return wrote;
    }

    /// <summary>
    /// The delta sync between two states, or null when it would say nothing: one pass over the views,
    /// so a batch's release does not diff them twice.
    /// </summary>
    public static byte[]? WriteDeltaOrNull(RoomState before, RoomState after, DateTimeOffset now)
    {
        if (ReferenceEquals(before, after))
        {
            return null;
        }
        var buffer = new ArrayBufferWriter<byte>(256);
        bool wrote;
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            w.WriteStartObject();
            w.WriteString("action", "sync");
            wrote = WriteDelta(w, before, after, now);
            w.WriteEndObject();
        }
        return wrote ? buffer.WrittenSpan.ToArray() : null;
    }

    /// <summary>True when a delta between the two states has anything to say.</summary>
    public static bool HasDelta(RoomState before, RoomState after) =>
        WriteDeltaOrNull(before, after, DateTimeOffset.UnixEpoch) is not null;
}
