using System.Buffers.Text;
using System.Text.Json;

namespace Ott.Bench.Wire;

internal enum FrameKind
{
    Other,
    You,
    Event,
    Chat,
    Error,
    Sync,
}

// What the generator needs from one server frame. Sender and Seq come from the marker the generator
// put into the request: a seek's value is its seq; a chat's text is "<sender>.<seq>". A play/pause
// carries no marker (Seq = -1) and is matched by order. Position is a sync's top-level
// playbackPosition (NaN when absent): after a seek while paused it is the seek's value. ErrorName is
// an error frame's `name` (docs/protocol.md §1.7).
internal readonly record struct Frame(FrameKind Kind, int RequestType, int Sender, long Seq, double Position = double.NaN, string? ErrorName = null);

internal static class FrameReader
{
    public static Frame Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        var kind = FrameKind.Other;
        int type = -1, sender = -1;
        long seq = -1;
        var position = double.NaN;
        string? name = null;
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return default;
        }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("action"u8))
            {
                reader.Read();
                kind = reader.ValueTextEquals("event"u8) ? FrameKind.Event
                    : reader.ValueTextEquals("chat"u8) ? FrameKind.Chat
                    : reader.ValueTextEquals("you"u8) ? FrameKind.You
                    : reader.ValueTextEquals("error"u8) ? FrameKind.Error
                    : reader.ValueTextEquals("sync"u8) ? FrameKind.Sync
                    : FrameKind.Other;
            }
            else if (reader.ValueTextEquals("request"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("type"u8))
                    {
                        reader.Read();
                        type = reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var t) ? t : -1;
                    }
                    else if (reader.ValueTextEquals("value"u8))
                    {
                        reader.Read();
                        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var v))
                        {
                            seq = (long)v;
                        }
                    }
                    else
                    {
                        reader.Read();
                        reader.Skip();
                    }
                }
            }
            else if (reader.ValueTextEquals("text"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped)
                {
                    ParseMarker(reader.ValueSpan, out sender, out seq);
                }
            }
            else if (reader.ValueTextEquals("playbackPosition"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var p))
                {
                    position = p;
                }
            }
            else if (reader.ValueTextEquals("name"u8))
            {
                // An error's name; a full sync's room name is read too, but only an error keeps it.
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    name = reader.GetString();
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return new Frame(kind, type, sender, seq, position, kind == FrameKind.Error ? name : null);
    }

    private static void ParseMarker(ReadOnlySpan<byte> text, out int sender, out long seq)
    {
        sender = -1;
        seq = -1;
        var dot = text.IndexOf((byte)'.');
        if (dot > 0 && Utf8Parser.TryParse(text[..dot], out int s, out _) && Utf8Parser.TryParse(text[(dot + 1)..], out long q, out _))
        {
            sender = s;
            seq = q;
        }
    }
}
