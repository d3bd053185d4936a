using System.Diagnostics;

namespace Ott.Tests.Infrastructure.History;

internal enum OpKind
{
    Add,
    Remove,
}

internal enum EntryPoint
{
    Socket,
    Rest,
}

internal enum Outcome
{
    // Sent, no answer yet (a run that ends here is treated like NoAnswer).
    Pending,

    // The socket saw the room's event for it, or REST answered 200: applied and stored.
    Acked,

    // An error reply with a name (the Error property).
    Failed,

    // No answer before the writer gave up: may or may not have been applied, never twice.
    NoAnswer,
}

// One queue request as a writer sent it, and what came back. Targets are unique direct URLs, and
// each is added by one request and removed by at most one, so every effect is attributable.
internal sealed class RequestRecord
{
    private readonly Lock _lock = new();

    public required long Id { get; init; }

    public required string Writer { get; init; }

    public required string Node { get; init; }

    public required string Room { get; init; }

    public required OpKind Kind { get; init; }

    public required EntryPoint Entry { get; init; }

    public required string Target { get; init; }

    public required TimeSpan SentAt { get; init; }

    // The socket connection a socket request went out on.
    public string? Connection { get; init; }

    public Outcome Outcome { get; private set; }

    public string? Error { get; private set; }

    public TimeSpan? AnsweredAt { get; private set; }

    // An error that arrived after the request was acknowledged by its event: a second answer.
    public string? SecondAnswer { get; private set; }

    public TimeSpan? SecondAnswerAt { get; private set; }

    // For a socket request answered with an error: the earlier request of the same connection,
    // acknowledged by its event only, that the error could instead be a second answer to.
    public long? MaybeAnswerTo { get; private set; }

    // Errors that say "try again" rather than "rejected": the change may have been made anyway.
    // RoomUnavailable is the gateway giving up on an owner that may have applied the request before
    // its reply was lost; a bare 5xx is no OTT answer at all. `Unknown` is a rejection: "the change
    // is abandoned" (docs/protocol.md §1.7).
    public static bool IsIndeterminate(string? error) =>
        error is "RoomUnavailable" || error?.StartsWith("HTTP 5", StringComparison.Ordinal) == true;

    // A definite rejection: the change must have had no effect at all.
    public bool Rejected => Outcome == Outcome.Failed && !IsIndeterminate(Error);

    // Could have changed the room: acknowledged, unanswered, or answered with an indeterminate error.
    public bool MayHaveApplied => !Rejected;

    // The first answer wins: an acknowledgement racing a timeout is decided once.
    internal bool Complete(Outcome outcome, string? error, TimeSpan at, long? maybeAnswerTo)
    {
        lock (_lock)
        {
            if (Outcome != Outcome.Pending)
            {
                return false;
            }
            Outcome = outcome;
            Error = error;
            AnsweredAt = at;
            MaybeAnswerTo = maybeAnswerTo;
            return true;
        }
    }

    internal void Second(string error, TimeSpan at)
    {
        lock (_lock)
        {
            SecondAnswer ??= error;
            SecondAnswerAt ??= at;
        }
    }

    public override string ToString()
    {
        var answer = Outcome switch
        {
            Outcome.Acked => $"acked {Seconds(AnsweredAt)}",
            Outcome.Failed => $"{Error} {Seconds(AnsweredAt)}",
            Outcome.NoAnswer => $"no answer (gave up {Seconds(AnsweredAt)})",
            _ => "pending",
        };
        if (SecondAnswer is not null)
        {
            answer += $", then {SecondAnswer} {Seconds(SecondAnswerAt)}";
        }
        var via = Entry == EntryPoint.Socket ? $"socket {Connection}" : "REST";
        return $"#{Id} {Kind.ToString().ToLowerInvariant()} by {Writer} via {via} on {Node}, sent {Seconds(SentAt)} -> {answer}";
    }

    internal static string Seconds(TimeSpan? at) => at is { } t ? $"{t.TotalSeconds:F3}s" : "-";
}

// Everything a history test's writers did and saw: every request with its answer, and one log per
// socket connection. Thread-safe; the clock is shared by every record so times compare.
internal sealed class History
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<RequestRecord> _requests = [];
    private readonly List<ConnectionLog> _connections = [];
    private readonly Dictionary<string, int> _connectionsPerWriter = new(StringComparer.Ordinal);
    // Per room: targets whose add is acknowledged and that no remove has claimed yet.
    private readonly Dictionary<string, List<(string Target, string Writer)>> _removable = new(StringComparer.Ordinal);
    // Who adds each target, and the targets a remove has claimed (all under _removable's lock).
    private readonly Dictionary<string, string> _adders = new(StringComparer.Ordinal);
    private readonly HashSet<string> _claimed = new(StringComparer.Ordinal);
    private long _nextId;

    public TimeSpan Now => _clock.Elapsed;

    public IReadOnlyList<RequestRecord> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    public IReadOnlyList<ConnectionLog> Connections
    {
        get
        {
            lock (_connections)
            {
                return [.. _connections];
            }
        }
    }

    // Records a request just before it is sent (`at` only for hand-made histories).
    public RequestRecord Begin(string writer, string node, string room, OpKind kind, EntryPoint entry, string target,
        string? connection = null, TimeSpan? at = null)
    {
        var record = new RequestRecord
        {
            Id = Interlocked.Increment(ref _nextId),
            Writer = writer,
            Node = node,
            Room = room,
            Kind = kind,
            Entry = entry,
            Target = target,
            SentAt = at ?? Now,
            Connection = connection,
        };
        lock (_requests)
        {
            _requests.Add(record);
        }
        if (kind == OpKind.Add)
        {
            lock (_removable)
            {
                _adders.TryAdd(target, writer);
            }
        }
        return record;
    }

    // Records the answer; false when the request was already answered (the first answer wins).
    public bool Complete(RequestRecord record, Outcome outcome, string? error = null, TimeSpan? at = null, RequestRecord? maybeAnswerTo = null)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!record.Complete(outcome, error, at ?? Now, maybeAnswerTo?.Id))
        {
            return false;
        }
        if (record.Kind == OpKind.Add && outcome == Outcome.Acked)
        {
            lock (_removable)
            {
                if (!_removable.TryGetValue(record.Room, out var list))
                {
                    _removable[record.Room] = list = [];
                }
                if (!_claimed.Contains(record.Target))
                {
                    list.Add((record.Target, record.Writer));
                }
            }
        }
        return true;
    }

    // An error for a request already acknowledged by its event.
    public void SecondAnswer(RequestRecord record, string error, TimeSpan? at = null)
    {
        ArgumentNullException.ThrowIfNull(record);
        record.Second(error, at ?? Now);
    }

    // Picks an item of another writer that no remove targets yet, and claims it: every item is
    // removed by at most one request, so a second removal is always an anomaly. Candidates are the
    // items whose add is acknowledged and, like a user's, those the writer's own socket shows
    // queued (`visible`): an add still waiting for its answer can be removed, which is how a retry
    // of it applied after its reply was lost would undo an acknowledged remove.
    public string? ClaimRemovable(string room, string writer, Random random, IReadOnlyList<string>? visible = null)
    {
        ArgumentNullException.ThrowIfNull(random);
        lock (_removable)
        {
            var acked = _removable.GetValueOrDefault(room) ?? [];
            var candidates = acked.Select(a => a.Target)
                .Concat(visible ?? [])
                .Where(t => !_claimed.Contains(t) && _adders.TryGetValue(t, out var adder) && adder != writer)
                .Distinct(StringComparer.Ordinal)
                .ToList();
            if (candidates.Count == 0)
            {
                return null;
            }
            var target = candidates[random.Next(candidates.Count)];
            _claimed.Add(target);
            acked.RemoveAll(a => a.Target == target);
            return target;
        }
    }

    // Acknowledged adds in the room that no remove has claimed: what the queue should roughly hold.
    public int Unclaimed(string room)
    {
        lock (_removable)
        {
            return _removable.TryGetValue(room, out var list) ? list.Count : 0;
        }
    }

    // A new socket connection of a writer, named writer#n.
    public ConnectionLog Open(string writer, string node, string room, TimeSpan? at = null)
    {
        lock (_connections)
        {
            var n = _connectionsPerWriter.GetValueOrDefault(writer) + 1;
            _connectionsPerWriter[writer] = n;
            var log = new ConnectionLog(this, $"{writer}#{n}", writer, node, room, at ?? Now);
            _connections.Add(log);
            return log;
        }
    }
}
