using System.Globalization;
using System.Text;

namespace Ott.Tests.Infrastructure.History;

// One view of a room's queue at the end: REST GET through a node, a writer socket's last sync, or
// the stored record. A null queue means the view could not be read.
internal sealed record FinalView(string Name, string Room, IReadOnlyList<string>? Queue);

internal sealed record Anomaly(string Kind, string Room, string? Item, string Detail)
{
    public override string ToString() => Item is null ? $"[{Kind}] room {Room}: {Detail}" : $"[{Kind}] {Item}: {Detail}";
}

internal static class AnomalyKinds
{
    // An acknowledged (or seen-applied) add is missing at the end.
    public const string LostAdd = "lost-add";

    // An acknowledged (or seen-applied) remove: the item is back at the end.
    public const string RemoveUndone = "remove-undone";

    // More than one distinct event applied the same request's change.
    public const string AppliedTwice = "applied-twice";

    // An item listed twice in one queue (a sync frame or a final view).
    public const string DuplicateInQueue = "duplicate-in-queue";

    // One connection got the same event twice.
    public const string DuplicateEvent = "duplicate-event";

    // A connection got an Add event for an item its queue (last full sync plus events) already held.
    public const string EventShowsDoubleAdd = "event-shows-double-add";

    // An item re-entered a connection's queue after leaving it.
    public const string CameBack = "came-back";

    // An item left a connection's queue before any request that could remove it was sent.
    public const string Vanished = "vanished";

    // A request answered with a definite error whose change was made anyway.
    public const string RejectedButApplied = "rejected-but-applied";

    // A request acknowledged by its event and then answered with an error as well.
    public const string AnsweredTwice = "answered-twice";

    // An error the history makes impossible (VideoAlreadyQueued for the only add of a unique URL,
    // VideoNotFound for the only remove of an item acknowledged queued): a retry of an applied request.
    public const string ImpossibleError = "impossible-error";

    // An item no request adds, or seen before its add was sent.
    public const string Phantom = "phantom";

    // The final views of a room differ, or one could not be read.
    public const string ViewsDisagree = "views-disagree";

    // A writer socket closed by the server with a code >= 4000 (final for OTT clients), or 1008/1009
    // (blamed on input a well-formed writer never sends).
    public const string BadClose = "bad-close";
}

internal sealed class HistoryReport(IReadOnlyList<Anomaly> anomalies, string summary, string explanation)
{
    public IReadOnlyList<Anomaly> Anomalies { get; } = anomalies;

    public bool Ok => Anomalies.Count == 0;

    // Request, connection and close counts.
    public string Summary { get; } = summary;

    // Every anomaly, then the full history of each offending item.
    public string Explanation { get; } = explanation;

    public IEnumerable<string> Kinds => Anomalies.Select(a => a.Kind).Distinct(StringComparer.Ordinal);
}

// Checks a recorded history for exactly-once violations (issue 13): the per-item rules below, each
// stated on what the writers sent, what came back, and what every socket and final view showed.
internal static class HistoryChecker
{
    public static HistoryReport Check(History history, IReadOnlyList<FinalView> views, int explainItems = 12)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(views);
        var requests = history.Requests;
        var connections = history.Connections;
        var anomalies = new List<Anomaly>();
        var uncertain = new List<(string Answer, bool Applied)>();

        var rooms = requests.Select(r => r.Room).Concat(connections.Select(c => c.Room)).Concat(views.Select(v => v.Room))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        foreach (var room in rooms)
        {
            var roomViews = views.Where(v => v.Room == room).ToList();
            var roomConnections = connections.Where(c => c.Room == room).ToList();
            var roomRequests = requests.Where(r => r.Room == room).ToList();
            var roomAcks = roomRequests.Where(r => r.Outcome == Outcome.Acked).Select(r => r.AnsweredAt!.Value).Order().ToList();
            anomalies.AddRange(CheckViewsAgree(room, roomViews));
            anomalies.AddRange(CheckCloses(room, roomConnections));
            anomalies.AddRange(CheckConnections(room, roomConnections, roomRequests));

            var seenByItem = roomConnections
                .SelectMany(c => c.Seen.Where(s => s.Kind != SeenKind.FullSync && s.Kind != SeenKind.Error).Select(s => (Connection: c, Seen: s)))
                .ToLookup(x => x.Seen.Item, StringComparer.Ordinal);
            var items = roomRequests.Select(r => r.Target)
                .Concat(seenByItem.Select(g => g.Key))
                .Concat(roomViews.SelectMany(v => v.Queue ?? []))
                .Distinct(StringComparer.Ordinal);
            foreach (var item in items)
            {
                List<RequestRecord> itemRequests = [.. roomRequests.Where(r => r.Target == item)];
                List<(ConnectionLog, Seen)> itemSeen = [.. seenByItem[item]];
                anomalies.AddRange(CheckItem(room, item, itemRequests, itemSeen, roomViews, roomAcks));
                uncertain.AddRange(Uncertain(item, itemRequests, itemSeen, roomViews));
            }
        }

        return new HistoryReport(anomalies, Summarize(requests, connections, anomalies, uncertain),
            Explain(anomalies, requests, connections, views, explainItems));
    }

    private static IEnumerable<Anomaly> CheckItem(string room, string item, List<RequestRecord> requests,
        List<(ConnectionLog Connection, Seen Seen)> seen, List<FinalView> views, List<TimeSpan> roomAcks)
    {
        var adds = requests.Where(r => r.Kind == OpKind.Add).ToList();
        var removes = requests.Where(r => r.Kind == OpKind.Remove).ToList();
        var addEvents = seen.Where(s => s.Seen.Kind == SeenKind.AddEvent).Select(s => s.Seen.EventId).Distinct(StringComparer.Ordinal).ToList();
        var removeEvents = seen.Where(s => s.Seen.Kind == SeenKind.RemoveEvent).Select(s => s.Seen.EventId).Distinct(StringComparer.Ordinal).ToList();
        var appeared = seen.Any(s => s.Seen.Kind == SeenKind.Appeared);
        var counts = views.Where(v => v.Queue is not null)
            .Select(v => (View: v.Name, Count: v.Queue!.Count(id => id == item))).ToList();

        // Evidence: events and syncs are released only after the change is stored (docs/architecture.md §7.5).
        var added = adds.Any(r => r.Outcome == Outcome.Acked) || addEvents.Count > 0 || appeared;
        var removed = removes.Any(r => r.Outcome == Outcome.Acked) || removeEvents.Count > 0;
        // A remove answered VideoNotFound for an item acknowledged queued, that nothing else removes, is
        // reported as impossible-error below: either it was applied and a retry of it gave the answer,
        // or the add was lost. It counts as possibly applied here, so the item's absence is not
        // reported a second time as a lost add.
        var impossiblyRejected = removes.Where(r => r.Rejected && r.Error == "VideoNotFoundException"
            && AddedBy(adds, seen) <= r.SentAt
            && !removes.Any(o => o != r && o.SentAt <= r.SentAt)).ToList();
        var mayRemove = removes.Where(r => r.MayHaveApplied || impossiblyRejected.Contains(r) || removeEvents.Count > 0).ToList();
        var removePossible = removed || mayRemove.Count > 0;

        if (adds.Count == 0)
        {
            yield return new Anomaly(AnomalyKinds.Phantom, room, item, "no request adds this item, yet it was seen");
            yield break;
        }
        var firstSent = adds.Min(r => r.SentAt);
        if (seen.FirstOrDefault(s => s.Seen.Kind is SeenKind.Appeared or SeenKind.AddEvent && s.Seen.At < firstSent) is { Connection: not null } early)
        {
            yield return new Anomaly(AnomalyKinds.Phantom, room, item,
                $"{early.Connection.Id} saw it ({early.Seen.Kind}) at {RequestRecord.Seconds(early.Seen.At)}, before its add was sent at {RequestRecord.Seconds(firstSent)}");
        }

        if (addEvents.Count > 1)
        {
            yield return new Anomaly(AnomalyKinds.AppliedTwice, room, item,
                $"the add was applied {addEvents.Count} times (events {string.Join(", ", addEvents)}); {adds.Count} add request(s)");
        }
        if (removeEvents.Count > 1)
        {
            yield return new Anomaly(AnomalyKinds.AppliedTwice, room, item,
                $"the remove was applied {removeEvents.Count} times (events {string.Join(", ", removeEvents)}); {removes.Count} remove request(s)");
        }

        foreach (var (view, count) in counts.Where(c => c.Count > 1))
        {
            yield return new Anomaly(AnomalyKinds.DuplicateInQueue, room, item, $"listed {count} times in the final view {view}");
        }
        if (removed)
        {
            var holding = counts.Where(c => c.Count > 0).Select(c => c.View).ToList();
            if (holding.Count > 0)
            {
                var why = removes.FirstOrDefault(r => r.Outcome == Outcome.Acked) is { } acked
                    ? $"remove #{acked.Id} was acknowledged at {RequestRecord.Seconds(acked.AnsweredAt)}"
                    : $"its remove event was seen";
                yield return new Anomaly(AnomalyKinds.RemoveUndone, room, item, $"{why}, yet at the end it is in {string.Join(", ", holding)}");
            }
        }
        else if (added && !removePossible)
        {
            var missing = counts.Where(c => c.Count == 0).Select(c => c.View).ToList();
            if (missing.Count > 0)
            {
                var why = adds.FirstOrDefault(r => r.Outcome == Outcome.Acked) is { } acked
                    ? $"add #{acked.Id} was acknowledged at {RequestRecord.Seconds(acked.AnsweredAt)}"
                    : "its add was seen applied";
                var removal = removes.Count == 0 ? "nothing removes it" : "its only remove was rejected";
                yield return new Anomaly(AnomalyKinds.LostAdd, room, item, $"{why} and {removal}, yet at the end it is missing from {string.Join(", ", missing)}");
            }
        }

        foreach (var twice in requests.Where(r => r.SecondAnswer is not null))
        {
            yield return new Anomaly(AnomalyKinds.AnsweredTwice, room, item,
                $"{twice.Kind.ToString().ToLowerInvariant()} #{twice.Id} was acknowledged by its event at {RequestRecord.Seconds(twice.AnsweredAt)}, then answered {twice.SecondAnswer} at {RequestRecord.Seconds(twice.SecondAnswerAt)} on the same socket");
        }

        foreach (var add in adds.Where(r => r.Rejected))
        {
            var others = adds.Where(r => r != add && r.SentAt <= add.SentAt).ToList();
            if (add.Error == "VideoAlreadyQueuedException" && others.Count == 0)
            {
                yield return new Anomaly(AnomalyKinds.ImpossibleError, room, item,
                    $"add #{add.Id} was answered {add.Error}, but no earlier request adds this unique URL: an earlier attempt of the same request was applied"
                    + (addEvents.Count > 0 ? $" (its event {addEvents[0]} was seen{Between(seen, addEvents[0], add, roomAcks)})" : "") + Ambiguity(add));
            }
            else if (!adds.Any(r => r != add && r.MayHaveApplied) && (addEvents.Count > 0 || appeared || counts.Any(c => c.Count > 0)))
            {
                yield return new Anomaly(AnomalyKinds.RejectedButApplied, room, item,
                    $"add #{add.Id} was answered {add.Error}, yet the item was added ({Evidence(addEvents.Count, appeared, counts)}){Ambiguity(add)}");
            }
        }
        foreach (var remove in removes.Where(r => r.Rejected))
        {
            if (impossiblyRejected.Contains(remove))
            {
                var gone = counts.Count > 0 && counts.All(c => c.Count == 0);
                var why = removeEvents.Count > 0
                    ? $": an earlier attempt of the same request was applied (its event {removeEvents[0]} was seen{Between(seen, removeEvents[0], remove, roomAcks)})"
                    : gone
                        ? ": the item is gone at the end, so either an earlier attempt of it was applied (no event was seen; none is sent while the caller has no socket in the room) or the acknowledged add was lost"
                        : ": the item is still queued at the end";
                yield return new Anomaly(AnomalyKinds.ImpossibleError, room, item,
                    $"remove #{remove.Id} was answered {remove.Error}, but the item was queued (its add acknowledged or seen applied) before it was sent and no other request removes it{why}{Ambiguity(remove)}");
            }
            else if (!removes.Any(r => r != remove && r.MayHaveApplied) && removeEvents.Count > 0)
            {
                yield return new Anomaly(AnomalyKinds.RejectedButApplied, room, item,
                    $"remove #{remove.Id} was answered {remove.Error}, yet its remove event was seen{Ambiguity(remove)}");
            }
        }

        // Per connection: the item's presence in the queue must be one interval, entered once and left
        // at most once, and only after a remove that could have taken it was sent.
        var cameBack = new List<string>();
        var vanished = new List<string>();
        foreach (var group in seen.GroupBy(s => s.Connection))
        {
            var state = 0; // 0 never present, 1 present, 2 gone
            foreach (var (_, s) in group.OrderBy(x => x.Seen.Frame))
            {
                var where = $"{group.Key.Id} f{s.Frame} {RequestRecord.Seconds(s.At)}{(s.Full ? " (full sync)" : "")}";
                if (s.Kind == SeenKind.Appeared)
                {
                    if (state == 2)
                    {
                        cameBack.Add(where);
                    }
                    state = 1;
                }
                else if (s.Kind == SeenKind.Disappeared)
                {
                    if (!mayRemove.Any(r => r.SentAt <= s.At))
                    {
                        vanished.Add(where);
                    }
                    state = 2;
                }
            }
        }
        if (cameBack.Count > 0)
        {
            yield return new Anomaly(AnomalyKinds.CameBack, room, item, $"came back into a queue after leaving it: {Some(cameBack)}");
        }
        if (vanished.Count > 0)
        {
            yield return new Anomaly(AnomalyKinds.Vanished, room, item, $"left a queue before any remove that could take it was sent: {Some(vanished)}");
        }
    }

    // How far apart the change and its wrong answer were: the dedup window is the room's last 64
    // request ids (docs/architecture.md §9.4), so this says whether the window can explain it.
    private static string Between(List<(ConnectionLog Connection, Seen Seen)> seen, string? eventId, RequestRecord request, List<TimeSpan> roomAcks)
    {
        var applied = seen.Where(s => s.Seen.EventId == eventId).Min(s => s.Seen.At);
        var answered = request.AnsweredAt ?? applied;
        var acks = roomAcks.Count(t => t > applied && t < answered);
        return $" at {RequestRecord.Seconds(applied)}, {(answered - applied).TotalSeconds:F1} s and {acks} acknowledged requests of the room before the answer";
    }

    // When the item was first known to be queued: its add acknowledged, or its event or a queue
    // showing it seen by any connection (both are released only after the change is stored).
    private static TimeSpan AddedBy(List<RequestRecord> adds, List<(ConnectionLog Connection, Seen Seen)> seen)
    {
        var times = adds.Where(a => a.Outcome == Outcome.Acked).Select(a => a.AnsweredAt!.Value)
            .Concat(seen.Where(s => s.Seen.Kind is SeenKind.AddEvent or SeenKind.Appeared).Select(s => s.Seen.At));
        return times.DefaultIfEmpty(TimeSpan.MaxValue).Min();
    }

    private static string Ambiguity(RequestRecord request) => request.MaybeAnswerTo is { } earlier
        ? $" [over the socket this error could instead be a second answer to #{earlier}, acknowledged earlier on the same connection]"
        : "";

    private static string Some(List<string> places) =>
        string.Join(", ", places.Take(4)) + (places.Count > 4 ? $" and {places.Count - 4} more connections" : "");

    // Requests with no certain answer (none, or RoomUnavailable), and whether they took effect: the
    // checker allows either, but how often each happens says where answers get lost.
    private static IEnumerable<(string Answer, bool Applied)> Uncertain(string item, List<RequestRecord> requests,
        List<(ConnectionLog Connection, Seen Seen)> seen, List<FinalView> views)
    {
        var present = views.Any(v => v.Queue?.Contains(item, StringComparer.Ordinal) == true);
        var added = seen.Any(s => s.Seen.Kind is SeenKind.AddEvent or SeenKind.Appeared) || present
            || requests.Any(r => r.Kind == OpKind.Add && r.Outcome == Outcome.Acked);
        var removeSeen = seen.Any(s => s.Seen.Kind == SeenKind.RemoveEvent);
        foreach (var r in requests.Where(r => r.Outcome != Outcome.Acked && r.MayHaveApplied))
        {
            var answer = $"{r.Kind} {(r.Outcome == Outcome.Failed ? r.Error : "no answer")}";
            yield return (answer, r.Kind == OpKind.Add ? added : removeSeen || (added && !present));
        }
    }

    private static string Evidence(int events, bool appeared, List<(string View, int Count)> counts)
    {
        var parts = new List<string>();
        if (events > 0)
        {
            parts.Add($"{events} add event(s)");
        }
        if (appeared)
        {
            parts.Add("seen in a queue");
        }
        var holding = counts.Where(c => c.Count > 0).Select(c => c.View).ToList();
        if (holding.Count > 0)
        {
            parts.Add($"in {string.Join(", ", holding)} at the end");
        }
        return string.Join("; ", parts);
    }

    // Per connection: no item twice in one sync, no event twice, and no Add event for an item the
    // connection's queue (its last full sync plus the events since) already holds.
    private static IEnumerable<Anomaly> CheckConnections(string room, List<ConnectionLog> connections, List<RequestRecord> requests)
    {
        foreach (var connection in connections)
        {
            var seen = connection.Seen;
            foreach (var twice in seen.Where(s => s.Kind == SeenKind.Twice).GroupBy(s => s.Item, StringComparer.Ordinal))
            {
                var first = twice.First();
                yield return new Anomaly(AnomalyKinds.DuplicateInQueue, room, twice.Key,
                    $"listed twice in {connection.Id}'s queue from f{first.Frame} {RequestRecord.Seconds(first.At)}{(first.Full ? " (full sync)" : "")}, in {twice.Count()} sync(s)");
            }
            var events = new HashSet<string>(StringComparer.Ordinal);
            HashSet<string>? view = null;
            foreach (var s in seen)
            {
                switch (s.Kind)
                {
                    case SeenKind.FullSync:
                        view = new HashSet<string>(s.Queue ?? [], StringComparer.Ordinal);
                        break;
                    case SeenKind.AddEvent or SeenKind.RemoveEvent:
                        if (s.EventId is { } id && !events.Add(id))
                        {
                            yield return new Anomaly(AnomalyKinds.DuplicateEvent, room, s.Item,
                                $"{connection.Id} got event {id} ({s.Kind}) twice, again at f{s.Frame} {RequestRecord.Seconds(s.At)}");
                            break;
                        }
                        if (s.Kind == SeenKind.AddEvent && view is not null && !view.Add(s.Item))
                        {
                            yield return new Anomaly(AnomalyKinds.EventShowsDoubleAdd, room, s.Item,
                                $"{connection.Id} got Add event {s.EventId} at f{s.Frame} {RequestRecord.Seconds(s.At)} while its queue already held the item");
                        }
                        else if (s.Kind == SeenKind.RemoveEvent)
                        {
                            view?.Remove(s.Item);
                        }
                        break;
                }
            }
        }
    }

    private static IEnumerable<Anomaly> CheckCloses(string room, List<ConnectionLog> connections)
    {
        foreach (var c in connections.Where(c => c.IsClosed && !c.ClosedByClient && c.CloseCode is >= 4000 or 1008 or 1009))
        {
            yield return new Anomaly(AnomalyKinds.BadClose, room, null, $"{c} was closed by the server with {c.CloseCode}");
        }
    }

    private static IEnumerable<Anomaly> CheckViewsAgree(string room, List<FinalView> views)
    {
        foreach (var unread in views.Where(v => v.Queue is null))
        {
            yield return new Anomaly(AnomalyKinds.ViewsDisagree, room, null, $"{unread.Name} could not be read at the end");
        }
        var read = views.Where(v => v.Queue is not null).ToList();
        if (read.Count < 2)
        {
            yield break;
        }
        var reference = read[0];
        foreach (var view in read.Skip(1).Where(v => !v.Queue!.SequenceEqual(reference.Queue!, StringComparer.Ordinal)))
        {
            var onlyHere = view.Queue!.Except(reference.Queue!, StringComparer.Ordinal).ToList();
            var onlyThere = reference.Queue!.Except(view.Queue!, StringComparer.Ordinal).ToList();
            var firstDiff = Enumerable.Range(0, Math.Min(view.Queue!.Count, reference.Queue!.Count))
                .FirstOrDefault(i => view.Queue![i] != reference.Queue![i], -1);
            yield return new Anomaly(AnomalyKinds.ViewsDisagree, room, null,
                $"{view.Name} ({view.Queue!.Count} items) differs from {reference.Name} ({reference.Queue!.Count}): "
                + $"only in {view.Name}: [{string.Join(", ", onlyHere)}]; only in {reference.Name}: [{string.Join(", ", onlyThere)}]"
                + (onlyHere.Count == 0 && onlyThere.Count == 0 ? $"; order differs from index {firstDiff}" : ""));
        }
    }

    private static string Summarize(IReadOnlyList<RequestRecord> requests, IReadOnlyList<ConnectionLog> connections, List<Anomaly> anomalies,
        List<(string Answer, bool Applied)> uncertain)
    {
        var text = new StringBuilder();
        foreach (var group in requests.GroupBy(r => (r.Entry, r.Kind)).OrderBy(g => g.Key))
        {
            var outcomes = group.GroupBy(r => r.Outcome == Outcome.Failed ? r.Error : r.Outcome.ToString())
                .OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}");
            text.AppendLine(CultureInfo.InvariantCulture, $"{group.Key.Entry} {group.Key.Kind}: {group.Count()} ({string.Join(", ", outcomes)})");
        }
        var closes = connections.Where(c => c.IsClosed && !c.ClosedByClient).GroupBy(c => c.CloseCode).OrderBy(g => g.Key)
            .Select(g => $"{g.Key} ×{g.Count()}");
        text.AppendLine(CultureInfo.InvariantCulture, $"{connections.Count} socket connections; server-side closes: {string.Join(", ", closes)}");
        if (uncertain.Count > 0)
        {
            var applied = uncertain.GroupBy(u => u.Answer).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => $"{g.Key}: {g.Count(u => u.Applied)} of {g.Count()} applied");
            text.AppendLine(CultureInfo.InvariantCulture, $"uncertain answers: {string.Join(", ", applied)}");
        }
        text.Append(anomalies.Count == 0
            ? "no anomalies"
            : $"{anomalies.Count} anomalies: {string.Join(", ", anomalies.GroupBy(a => a.Kind).Select(g => $"{g.Key} ×{g.Count()}"))}");
        return text.ToString();
    }

    private static string Explain(List<Anomaly> anomalies, IReadOnlyList<RequestRecord> requests, IReadOnlyList<ConnectionLog> connections,
        IReadOnlyList<FinalView> views, int explainItems)
    {
        if (anomalies.Count == 0)
        {
            return "";
        }
        var text = new StringBuilder();
        foreach (var anomaly in anomalies)
        {
            text.AppendLine(anomaly.ToString());
        }
        var items = anomalies.Where(a => a.Item is not null).Select(a => (a.Room, Item: a.Item!)).Distinct().ToList();
        foreach (var (room, item) in items.Take(explainItems))
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"history of {item} (room {room}):");
            foreach (var r in requests.Where(r => r.Room == room && r.Target == item))
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  request {r}");
            }
            foreach (var c in connections.Where(c => c.Room == room))
            {
                var lines = c.Seen.Where(s => s.Item == item && s.Kind != SeenKind.Error).Select(s => s.ToString()).ToList();
                if (lines.Count > 0)
                {
                    text.AppendLine(CultureInfo.InvariantCulture, $"  {c}: {string.Join("; ", lines)}");
                }
            }
            var holding = views.Where(v => v.Room == room)
                .Select(v => v.Queue is null ? $"{v.Name} unread" : $"{v.Name} ×{v.Queue.Count(id => id == item)}");
            text.AppendLine(CultureInfo.InvariantCulture, $"  final views: {string.Join(", ", holding)}");
        }
        if (items.Count > explainItems)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"({items.Count - explainItems} more items not shown)");
        }
        return text.ToString();
    }
}
