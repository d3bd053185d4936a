using System.Runtime.InteropServices;
using System.Text.Json;

namespace Ott.Sync.Rooms;

/// <summary>
/// One released batch as every node applies it to its own clients (design.md §5.2): frames serialized
/// once by the owner, in release order, under the owner's (epoch, seq).
/// </summary>
internal sealed record RoomDelivery(string Room, long Epoch, long Seq, IReadOnlyList<DeliveryOp> Ops)
{
    /// <summary>The event payload: the ops as a JSON array, frames written in place.</summary>
    public void WritePayload(Utf8JsonWriter w)
    {
        w.WriteStartArray();
        foreach (var op in Ops)
        {
            w.WriteStartObject();
            switch (op)
            {
                case BroadcastOp b:
                    w.WritePropertyName("b");
                    w.WriteRawValue(b.Frame.Span, skipInputValidation: true);
                    break;
                case SendOp s:
                    w.WriteString("s", s.ClientId);
                    w.WritePropertyName("f");
                    w.WriteRawValue(s.Frame.Span, skipInputValidation: true);
                    break;
                case AttachOp a:
                    w.WriteString("a", a.ClientId);
                    break;
                case DetachOp d:
                    w.WriteString("d", d.ClientId);
                    break;
                case CloseOp c:
                    w.WriteString("x", c.ClientId);
                    w.WriteNumber("code", c.Code);
                    w.WriteString("reason", c.Reason);
                    break;
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>Reads the ops of an event payload; unknown op shapes are skipped.</summary>
    public static List<DeliveryOp> ReadOps(JsonElement payload)
    {
        var ops = new List<DeliveryOp>();
        if (payload.ValueKind != JsonValueKind.Array)
        {
            return ops;
        }
        foreach (var op in payload.EnumerateArray())
        {
            if (op.TryGetProperty("b", out var frame))
            {
                ops.Add(new BroadcastOp(Bytes(frame)));
            }
            else if (op.TryGetProperty("s", out var target) && op.TryGetProperty("f", out var sent))
            {
                ops.Add(new SendOp(target.GetString()!, Bytes(sent)));
            }
            else if (op.TryGetProperty("a", out var attach))
            {
                ops.Add(new AttachOp(attach.GetString()!));
            }
            else if (op.TryGetProperty("d", out var detach))
            {
                ops.Add(new DetachOp(detach.GetString()!));
            }
            else if (op.TryGetProperty("x", out var close))
            {
                ops.Add(new CloseOp(close.GetString()!, op.GetProperty("code").GetInt32(), op.GetProperty("reason").GetString() ?? ""));
            }
        }
        return ops;
    }

    // The frame's own UTF-8 bytes, copied once out of the envelope (no UTF-16 round trip).
    private static byte[] Bytes(JsonElement frame) => JsonMarshal.GetRawUtf8Value(frame).ToArray();
}

internal abstract record DeliveryOp;

/// <summary>To every attached client in the room.</summary>
internal sealed record BroadcastOp(ReadOnlyMemory<byte> Frame) : DeliveryOp;

/// <summary>To one client, attached or still joining.</summary>
internal sealed record SendOp(string ClientId, ReadOnlyMemory<byte> Frame) : DeliveryOp;

/// <summary>The client starts receiving broadcasts (after its full sync, protocol.md §1.2).</summary>
internal sealed record AttachOp(string ClientId) : DeliveryOp;

internal sealed record DetachOp(string ClientId) : DeliveryOp;

internal sealed record CloseOp(string ClientId, int Code, string Reason) : DeliveryOp;

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
