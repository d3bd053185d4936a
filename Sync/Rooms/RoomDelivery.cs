using System.Runtime.InteropServices;
using System.Text.Json;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

/// <summary>
/// One released batch as every node applies it to its own clients (docs/architecture.md §5.2): the room's outputs in
/// release order, frames already written by the owner, under the owner's (epoch, seq).
/// </summary>
internal sealed record RoomDelivery(string Room, long Epoch, long Seq, IReadOnlyList<RoomOutput> Ops)
{
    /// <summary>The event payload: the outputs as a JSON array, frames written in place.</summary>
    public void WritePayload(Utf8JsonWriter w)
    {
        w.WriteStartArray();
        foreach (var op in Ops)
        {
            w.WriteStartObject();
            switch (op)
            {
                case Broadcast b:
                    w.WritePropertyName("b");
                    w.WriteRawValue(Bytes(b.Frame), skipInputValidation: true);
                    break;
                case SendTo s:
                    w.WriteString("s", s.ClientId);
                    w.WritePropertyName("f");
                    w.WriteRawValue(Bytes(s.Frame), skipInputValidation: true);
                    break;
                case SendToMany m:
                    w.WriteStartArray("m");
                    foreach (var id in m.ClientIds)
                    {
                        w.WriteStringValue(id);
                    }
                    w.WriteEndArray();
                    w.WritePropertyName("f");
                    w.WriteRawValue(Bytes(m.Frame), skipInputValidation: true);
                    break;
                case Attach a:
                    w.WriteString("a", a.ClientId);
                    break;
                case Detach d:
                    w.WriteString("d", d.ClientId);
                    break;
                case AnchorOutput e:
                    w.WriteStartObject("e");
                    w.WriteNumber("p", e.Position);
                    w.WriteNumber("t", e.At);
                    w.WriteBoolean("on", e.IsPlaying);
                    w.WriteNumber("r", e.Speed);
                    w.WriteNumber("w", e.WaitForBuffering);
                    w.WriteStartArray("q");
                    foreach (var id in e.Waiting)
                    {
                        w.WriteStringValue(id);
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                    break;
                case CloseClient c:
                    w.WriteString("x", c.ClientId);
                    w.WriteNumber("code", c.Code);
                    w.WriteString("reason", c.Reason);
                    break;
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>Reads the outputs of an event payload; unknown shapes are skipped.</summary>
    public static List<RoomOutput> ReadOps(JsonElement payload)
    {
        var ops = new List<RoomOutput>();
        if (payload.ValueKind != JsonValueKind.Array)
        {
            return ops;
        }
        foreach (var op in payload.EnumerateArray())
        {
            if (op.TryGetProperty("b", out var frame))
            {
                ops.Add(new Broadcast(Frame(frame)));
            }
            else if (op.TryGetProperty("s", out var target) && op.TryGetProperty("f", out var sent))
            {
                ops.Add(new SendTo(target.GetString()!, Frame(sent)));
            }
            else if (op.TryGetProperty("m", out var targets) && op.TryGetProperty("f", out var shared))
            {
                ops.Add(new SendToMany([.. targets.EnumerateArray().Select(t => t.GetString()!)], Frame(shared)));
            }
            else if (op.TryGetProperty("a", out var attach))
            {
                ops.Add(new Attach(attach.GetString()!));
            }
            else if (op.TryGetProperty("d", out var detach))
            {
                ops.Add(new Detach(detach.GetString()!));
            }
            else if (op.TryGetProperty("e", out var anchor))
            {
                ops.Add(new AnchorOutput(anchor.GetProperty("p").GetDouble(), anchor.GetProperty("t").GetInt64(),
                    anchor.GetProperty("on").GetBoolean(), anchor.GetProperty("r").GetDouble(),
                    anchor.TryGetProperty("w", out var wait) ? wait.GetDouble() : 0,
                    anchor.TryGetProperty("q", out var waiting) ? [.. waiting.EnumerateArray().Select(q => q.GetString()!)] : []));
            }
            else if (op.TryGetProperty("x", out var close))
            {
                ops.Add(new CloseClient(close.GetString()!, op.GetProperty("code").GetInt32(), op.GetProperty("reason").GetString() ?? ""));
            }
        }
        return ops;
    }

    /// <summary>The bytes the owner wrote; a released batch holds no unwritten frame.</summary>
    public static byte[] Bytes(ServerFrame frame) =>
        frame is WrittenFrame written ? written.Utf8 : throw new InvalidOperationException("a released frame is written once, by its room");

    // The frame's own UTF-8 bytes, copied once out of the envelope (no UTF-16 round trip).
    private static WrittenFrame Frame(JsonElement frame) => new(JsonMarshal.GetRawUtf8Value(frame).ToArray());
}

/// <summary>Where an owner's released batches and ownership changes go: this node's clients and the room channel.</summary>
internal interface IRoomFanout
{
    /// <summary>Delivers to this node's clients, and publishes on the room channel when <paramref name="publish"/>.</summary>
    void Deliver(RoomDelivery delivery, bool publish);

    /// <summary>A new owner (this node) loaded the room at <paramref name="epoch"/>.</summary>
    void OwnerChanged(string room, long epoch);

    /// <summary>This node stopped owning the room (handoff or demotion); gateways re-join their clients.</summary>
    void OwnerLost(string room, long epoch);

    /// <summary>The room at <paramref name="epoch"/> is gone: every node closes its clients in it with <paramref name="code"/>.</summary>
    void Unloaded(string room, long epoch, int code, string reason);
}

/// <summary>A fan-out that goes nowhere (hosts and tests without sockets).</summary>
internal sealed class NoFanout : IRoomFanout
{
    public void Deliver(RoomDelivery delivery, bool publish)
    {
    }

    public void OwnerChanged(string room, long epoch)
    {
    }

    public void OwnerLost(string room, long epoch)
    {
    }

    public void Unloaded(string room, long epoch, int code, string reason)
    {
    }
}
