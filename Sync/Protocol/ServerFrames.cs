using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ott.Sync.Protocol;

/// <summary>A server → client message (docs/protocol.md §1.5), before serialisation.</summary>
public abstract record ServerFrame;

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

/// <summary>Ott extension (docs/protocol.md §10): the answer to a clock probe, in cluster-clock milliseconds.</summary>
public sealed record TimeSyncAnswerFrame(double T0, double ReceivedAt, double SentAt) : ServerFrame;

/// <summary>A frame already written to UTF-8 (once, by the room that released it); written again as is.</summary>
public sealed record WrittenFrame(byte[] Utf8) : ServerFrame;

/// <summary>
/// Serialises frames once, to UTF-8, with the source-generated metadata (docs/architecture.md §3, §13). The frames
/// that read a room's state (full and delta sync) are written by the rooms' SyncFrameWriter.
/// </summary>
public static class FrameWriter
{
    // Frames are UTF-8 JSON for sockets, not HTML: quotes and apostrophes need no escaping.
    public static JsonWriterOptions WriterOptions { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Write(ServerFrame frame)
    {
        if (frame is WrittenFrame written)
        {
            return written.Utf8;
        }
        var scratch = FrameScratch.Rent();
        Write(scratch.Writer, frame);
        return scratch.ToArrayAndReturn();
    }

    private static void Write(Utf8JsonWriter w, ServerFrame frame)
    {
        var ctx = ProtocolJsonContext.Default;
        w.WriteStartObject();
        switch (frame)
        {
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
            case TimeSyncAnswerFrame t:
                w.WriteString("action", "ott-time");
                w.WriteNumber("t0", t.T0);
                w.WriteNumber("t1", Math.Round(t.ReceivedAt, 3));
                w.WriteNumber("t2", Math.Round(t.SentAt, 3));
                break;
            default:
                throw new InvalidOperationException($"Unknown frame {frame.GetType().Name}");
        }
        w.WriteEndObject();
    }
}

/// <summary>
/// A thread's scratch buffer and writer for frames that are written and copied out in one go, so writing a
/// frame allocates only its bytes (docs/architecture.md §13). Rented out of its thread's slot, so a write
/// nested inside another gets a fresh one; frames are written synchronously, never across an await.
/// </summary>
public sealed class FrameScratch
{
    private const int InitialBytes = 1024;
    private const int KeptBytes = 64 * 1024;

    [ThreadStatic]
    private static FrameScratch? _cached;

    private readonly ArrayBufferWriter<byte> _buffer = new(InitialBytes);

    private FrameScratch()
    {
        Writer = new Utf8JsonWriter(_buffer, FrameWriter.WriterOptions);
    }

    public Utf8JsonWriter Writer { get; }

    public static FrameScratch Rent()
    {
        var scratch = _cached ?? new FrameScratch();
        _cached = null;
        scratch._buffer.ResetWrittenCount();
        scratch.Writer.Reset(scratch._buffer);
        return scratch;
    }

    /// <summary>The bytes written (a copy the frame owns), and the scratch back to its thread.</summary>
    public byte[] ToArrayAndReturn()
    {
        Writer.Flush();
        var bytes = _buffer.WrittenSpan.ToArray();
        Return();
        return bytes;
    }

    /// <summary>Back to the thread's slot, unless a huge frame grew the buffer past what is worth keeping.</summary>
    public void Return()
    {
        if (_buffer.Capacity <= KeptBytes)
        {
            _cached = this;
        }
    }
}
