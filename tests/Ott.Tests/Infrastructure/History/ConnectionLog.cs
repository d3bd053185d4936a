using System.Text.Json.Nodes;

namespace Ott.Tests.Infrastructure.History;

internal enum SeenKind
{
    // A full sync; Queue holds its queue.
    FullSync,

    // The item entered this connection's queue (by a full or delta sync), compared with the
    // previous queue-bearing sync.
    Appeared,

    // The item left this connection's queue.
    Disappeared,

    // One sync listed the item more than once.
    Twice,

    // An `event` for an Add (type 5) or Remove (type 6) of the item.
    AddEvent,
    RemoveEvent,

    // An `error` reply; Item is its name.
    Error,
}

// One thing a connection saw, in frame order. Only changes are kept, so a long run stays small.
internal sealed record Seen(int Frame, TimeSpan At, SeenKind Kind, string Item, string? EventId = null, string? Actor = null,
    bool Full = false, IReadOnlyList<string>? Queue = null)
{
    public override string ToString() => Kind switch
    {
        SeenKind.FullSync => $"f{Frame} {RequestRecord.Seconds(At)} full sync ({Queue?.Count} queued)",
        SeenKind.AddEvent or SeenKind.RemoveEvent => $"f{Frame} {RequestRecord.Seconds(At)} {Kind} id={EventId} by {Actor}",
        SeenKind.Error => $"f{Frame} {RequestRecord.Seconds(At)} error {Item}",
        _ => $"f{Frame} {RequestRecord.Seconds(At)} {Kind}{(Full ? " (full sync)" : "")}",
    };
}

// What one socket connection of a writer received, reduced to what the checker needs: the queue
// changes its sync frames show, the Add/Remove events, error replies, and how it closed.
internal sealed class ConnectionLog
{
    private readonly History _history;
    private readonly List<Seen> _seen = [];
    private HashSet<string> _present = new(StringComparer.Ordinal);
    private IReadOnlyList<string>? _queue;
    private int _frames;
    private int _fullSyncs;

    internal ConnectionLog(History history, string id, string writer, string node, string room, TimeSpan openedAt)
    {
        _history = history;
        Id = id;
        Writer = writer;
        Node = node;
        Room = room;
        OpenedAt = openedAt;
    }

    public string Id { get; }

    public string Writer { get; }

    public string Node { get; }

    public string Room { get; }

    public TimeSpan OpenedAt { get; }

    // From the `you` frame.
    public string? ClientId { get; private set; }

    public bool IsClosed { get; private set; }

    // The server's close code; 1006 when the connection dropped without a close frame.
    public int? CloseCode { get; private set; }

    public TimeSpan? ClosedAt { get; private set; }

    // The writer closed it itself (abandoned after an unanswered request, or at the end).
    public bool ClosedByClient { get; private set; }

    public IReadOnlyList<Seen> Seen
    {
        get
        {
            lock (_seen)
            {
                return [.. _seen];
            }
        }
    }

    // The queue of the last sync that carried one; null before the first.
    public IReadOnlyList<string>? Queue
    {
        get
        {
            lock (_seen)
            {
                return _queue;
            }
        }
    }

    public int FullSyncs
    {
        get
        {
            lock (_seen)
            {
                return _fullSyncs;
            }
        }
    }

    public static bool IsFullSync(JsonObject frame) =>
        frame["action"]?.GetValue<string>() == "sync" && frame.ContainsKey("name") && frame.ContainsKey("queue");

    // The target of an Add or Remove event (single-video requests only; the writers send no lists).
    public static (OpKind Kind, string Target)? EventOf(JsonObject frame)
    {
        if (frame["action"]?.GetValue<string>() != "event" || frame["request"] is not JsonObject request)
        {
            return null;
        }
        var kind = request["type"]?.GetValue<int>() switch
        {
            5 => OpKind.Add,
            6 => OpKind.Remove,
            _ => (OpKind?)null,
        };
        return kind is { } k && request["video"]?["id"]?.GetValue<string>() is { } target ? (k, target) : null;
    }

    public void Record(JsonObject frame, TimeSpan? at = null)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var when = at ?? _history.Now;
        lock (_seen)
        {
            var index = _frames++;
            switch (frame["action"]?.GetValue<string>())
            {
                case "you":
                    ClientId = frame["info"]?["id"]?.GetValue<string>();
                    break;
                case "sync" when frame["queue"] is JsonArray queue:
                    RecordQueue(index, when, [.. queue.Select(i => i?["id"]?.GetValue<string>() ?? "?")], IsFullSync(frame));
                    break;
                case "event" when EventOf(frame) is { } e:
                    _seen.Add(new Seen(index, when, e.Kind == OpKind.Add ? SeenKind.AddEvent : SeenKind.RemoveEvent, e.Target,
                        frame["id"]?.GetValue<string>(), frame["user"]?["id"]?.GetValue<string>()));
                    break;
                case "error":
                    _seen.Add(new Seen(index, when, SeenKind.Error, frame["name"]?.GetValue<string>() ?? "?"));
                    break;
            }
        }
    }

    public void RecordClose(int? code, bool byClient, TimeSpan? at = null)
    {
        lock (_seen)
        {
            if (IsClosed)
            {
                return;
            }
            IsClosed = true;
            CloseCode = code ?? 1006;
            ClosedByClient = byClient;
            ClosedAt = at ?? _history.Now;
        }
    }

    public override string ToString() =>
        $"{Id} on {Node} (client {ClientId ?? "?"}, opened {RequestRecord.Seconds(OpenedAt)}"
        + (IsClosed ? $", closed {RequestRecord.Seconds(ClosedAt)} with {CloseCode}{(ClosedByClient ? " by the writer" : "")})" : ")");

    private void RecordQueue(int index, TimeSpan at, List<string> ids, bool full)
    {
        if (full)
        {
            _fullSyncs++;
            _seen.Add(new Seen(index, at, SeenKind.FullSync, "", Full: true, Queue: ids));
        }
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in ids)
        {
            if (!set.Add(id))
            {
                _seen.Add(new Seen(index, at, SeenKind.Twice, id, Full: full));
            }
        }
        foreach (var id in ids.Where(id => !_present.Contains(id)).Distinct(StringComparer.Ordinal))
        {
            _seen.Add(new Seen(index, at, SeenKind.Appeared, id, Full: full));
        }
        foreach (var id in _present.Where(id => !set.Contains(id)))
        {
            _seen.Add(new Seen(index, at, SeenKind.Disappeared, id, Full: full));
        }
        _present = set;
        _queue = ids;
    }
}
