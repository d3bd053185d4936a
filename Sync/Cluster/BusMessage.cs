using System.Buffers;
using System.Text.Json;

namespace Ott.Sync.Cluster;

/// <summary>The envelope types of docs/architecture.md §9.2.</summary>
internal static class BusType
{
    public const string Cmd = "cmd";
    public const string Activate = "activate";
    public const string Reply = "reply";
    public const string Event = "event";
    public const string OwnerChanged = "owner_changed";
    public const string OwnerLost = "owner_lost";
    public const string RoomUnloaded = "room_unloaded";
    public const string NodeDown = "node_down";
    public const string UserChanged = "user_changed";
    public const string Announcement = "announcement";
}

/// <summary>The header of an envelope (docs/architecture.md §9.2); the payload is written separately.</summary>
internal sealed record BusHeader(string Type)
{
    public string Id { get; init; } = Guid.CreateVersion7().ToString("N");
    public string? Corr { get; init; }
    public string? ReplyTo { get; init; }
    public string From { get; init; } = "";
    public string? Room { get; init; }
    public long Epoch { get; init; }
    public long? Seq { get; init; }
    public string? Client { get; init; }
    public string? ReqId { get; init; }
    public long Deadline { get; init; }
    public long SentAt { get; init; }
}

/// <summary>Writes envelopes as JSON: the header fields, then the payload written in place (no re-encoding of frames).</summary>
internal static class BusWriter
{
    public const int Version = 1;

    public static byte[] Write(BusHeader h, Action<Utf8JsonWriter>? payload)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", Version);
            w.WriteString("type", h.Type);
            w.WriteString("id", h.Id);
            if (h.Corr is not null) w.WriteString("corr", h.Corr);
            if (h.ReplyTo is not null) w.WriteString("replyTo", h.ReplyTo);
            w.WriteString("from", h.From);
            if (h.Room is not null) w.WriteString("room", h.Room);
            w.WriteNumber("epoch", h.Epoch);
            if (h.Seq is { } seq) w.WriteNumber("seq", seq);
            if (h.Client is not null) w.WriteString("client", h.Client);
            if (h.ReqId is not null) w.WriteString("reqId", h.ReqId);
            if (h.Deadline != 0) w.WriteNumber("deadline", h.Deadline);
            if (h.SentAt != 0) w.WriteNumber("sentAt", h.SentAt);
            if (payload is not null)
            {
                w.WritePropertyName("payload");
                payload(w);
            }
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>A received envelope. It owns the parsed document, so the payload stays readable until disposed.</summary>
internal sealed class BusMessage : IDisposable
{
    private readonly JsonDocument _doc;

    private BusMessage(JsonDocument doc)
    {
        _doc = doc;
        var root = doc.RootElement;
        V = Int(root, "v");
        Type = Str(root, "type") ?? "";
        Id = Str(root, "id") ?? "";
        Corr = Str(root, "corr");
        ReplyTo = Str(root, "replyTo");
        From = Str(root, "from") ?? "";
        Room = Str(root, "room");
        Epoch = Int(root, "epoch");
        Seq = root.TryGetProperty("seq", out var seq) && seq.ValueKind == JsonValueKind.Number ? seq.GetInt64() : null;
        Client = Str(root, "client");
        ReqId = Str(root, "reqId");
        Deadline = Int(root, "deadline");
        Payload = root.TryGetProperty("payload", out var payload) ? payload : default;
    }

    public long V { get; }
    public string Type { get; }
    public string Id { get; }
    public string? Corr { get; }
    public string? ReplyTo { get; }
    public string From { get; }
    public string? Room { get; }
    public long Epoch { get; }
    public long? Seq { get; }
    public string? Client { get; }
    public string? ReqId { get; }
    public long Deadline { get; }
    public JsonElement Payload { get; }

    /// <summary>Null when the bytes are not an envelope this node understands.</summary>
    public static BusMessage? TryParse(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            var message = new BusMessage(JsonDocument.Parse(bytes));
            if (message.V == BusWriter.Version && message.Type.Length > 0)
            {
                return message;
            }
            message.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : 0;

    public void Dispose() => _doc.Dispose();
}
