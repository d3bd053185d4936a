using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure.History;

namespace Ott.Tests.Unit;

// The checker of the history fault test (Faults/HistoryTests) on small hand-made histories: it must
// accept what exactly-once allows and name what it does not, or a green fault test means nothing.
public sealed class HistoryCheckerTests
{
    private const string Room = "r";
    private const string X = "https://media.invalid/h-w1-0.mp4";
    private const string Y = "https://media.invalid/h-w2-0.mp4";

    [Fact]
    public void CleanHistoryWithAddsAndARemoveHasNoAnomalies()
    {
        var h = new History();
        var c = Connect(h, "w1", "c1", []);
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Socket, X, 1);
        Frames(c, 1.1, Event(OpKind.Add, X, "e1", "c1"), Sync(false, X));
        h.Complete(add, Outcome.Acked, at: T(1.1));
        var rest = Sent(h, "w2", OpKind.Add, EntryPoint.Rest, Y, 2);
        Frames(c, 2.1, Event(OpKind.Add, Y, "e2", "c2"), Sync(false, X, Y));
        h.Complete(rest, Outcome.Acked, at: T(2.1));
        var remove = Sent(h, "w1", OpKind.Remove, EntryPoint.Rest, Y, 3);
        Frames(c, 3.1, Event(OpKind.Remove, Y, "e3", "c1"), Sync(false, X));
        h.Complete(remove, Outcome.Acked, at: T(3.1));

        var report = HistoryChecker.Check(h, Views(X));

        Assert.True(report.Ok, report.Explanation);
    }

    // The bug: a forwarded add whose reply was lost is retried after its id left the owner's
    // window of 64, so it is applied again after an acknowledged remove.
    [Fact]
    public void AddAppliedAgainAfterAnAcknowledgedRemoveIsCaught()
    {
        var h = new History();
        var c = Connect(h, "w2", "c2", []);
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Socket, X, 1);
        Frames(c, 1.1, Event(OpKind.Add, X, "e1", "c1"), Sync(false, X));
        h.Complete(add, Outcome.Acked, at: T(1.1));
        var remove = Sent(h, "w2", OpKind.Remove, EntryPoint.Socket, X, 2);
        Frames(c, 2.1, Event(OpKind.Remove, X, "e2", "c2"), Sync(false));
        h.Complete(remove, Outcome.Acked, at: T(2.1));
        Frames(c, 4.0, Event(OpKind.Add, X, "e3", "c1"), Sync(false, X));

        var report = HistoryChecker.Check(h, Views(X));

        Assert.Contains(AnomalyKinds.RemoveUndone, report.Kinds);
        Assert.Contains(AnomalyKinds.AppliedTwice, report.Kinds);
        Assert.Contains(AnomalyKinds.CameBack, report.Kinds);
        Assert.Contains($"request #{remove.Id} remove by w2", report.Explanation, StringComparison.Ordinal);
        Assert.Contains("final views: stored ×1", report.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void AcknowledgedAddMissingAtTheEndIsCaught()
    {
        var h = new History();
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Rest, X, 1);
        h.Complete(add, Outcome.Acked, at: T(1.2));

        var report = HistoryChecker.Check(h, Views());

        Assert.Equal([AnomalyKinds.LostAdd], report.Kinds);
        Assert.Contains("stored, GET n1, socket w1#1", report.Anomalies[0].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void AddWithNoAnswerMayBeAppliedOnceOrNotAtAll()
    {
        var applied = new History();
        var c = Connect(applied, "w2", "c2", []);
        Sent(applied, "w1", OpKind.Add, EntryPoint.Socket, X, 1);
        Frames(c, 1.5, Event(OpKind.Add, X, "e1", "c1"), Sync(false, X));
        Assert.True(HistoryChecker.Check(applied, Views(X)).Ok);

        var lost = new History();
        var add = Sent(lost, "w1", OpKind.Add, EntryPoint.Rest, X, 1);
        lost.Complete(add, Outcome.NoAnswer, at: T(13));
        Assert.True(HistoryChecker.Check(lost, Views()).Ok);
    }

    [Fact]
    public void AddWithNoAnswerAppliedTwiceIsCaught()
    {
        var h = new History();
        var c = Connect(h, "w2", "c2", []);
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Rest, X, 1);
        Frames(c, 1.5, Event(OpKind.Add, X, "e1", "c1"), Sync(false, X), Event(OpKind.Add, X, "e2", "c1"), Sync(false, X, X));
        h.Complete(add, Outcome.NoAnswer, at: T(13));

        var report = HistoryChecker.Check(h, Views(X, X));

        Assert.Contains(AnomalyKinds.AppliedTwice, report.Kinds);
        Assert.Contains(AnomalyKinds.DuplicateInQueue, report.Kinds);
        Assert.Contains(AnomalyKinds.EventShowsDoubleAdd, report.Kinds);
    }

    [Fact]
    public void AlreadyQueuedAnswerToTheOnlyAddOfAUniqueUrlIsCaught()
    {
        var h = new History();
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Socket, X, 1);
        h.Complete(add, Outcome.Failed, "VideoAlreadyQueuedException", T(3));

        var report = HistoryChecker.Check(h, Views(X));

        Assert.Contains(AnomalyKinds.ImpossibleError, report.Kinds);
    }

    [Fact]
    public void NotFoundAnswerToTheOnlyRemoveOfAnAcknowledgedItemIsCaught()
    {
        var h = new History();
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Rest, X, 1);
        h.Complete(add, Outcome.Acked, at: T(1.1));
        var remove = Sent(h, "w2", OpKind.Remove, EntryPoint.Rest, X, 2);
        h.Complete(remove, Outcome.Failed, "VideoNotFoundException", T(4));

        var report = HistoryChecker.Check(h, Views());

        Assert.Contains(AnomalyKinds.ImpossibleError, report.Kinds);
    }

    // The pub/sub-kill symptom: the remove was applied, its reply lost, and the retry found
    // nothing to remove. The departure is explained by the remove; its answer is what is wrong.
    [Fact]
    public void RemoveAppliedButAnsweredNotFoundIsCaughtAsAWrongAnswerOnly()
    {
        var h = new History();
        var c = Connect(h, "w3", "c3", []);
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Rest, X, 1);
        Frames(c, 1.1, Event(OpKind.Add, X, "e1", "c1"), Sync(false, X));
        h.Complete(add, Outcome.Acked, at: T(1.1));
        var remove = Sent(h, "w2", OpKind.Remove, EntryPoint.Rest, X, 2);
        Frames(c, 2.1, Event(OpKind.Remove, X, "e2", "c2"), Sync(false));
        h.Complete(remove, Outcome.Failed, "VideoNotFoundException", T(4.1));

        var report = HistoryChecker.Check(h, Views());

        Assert.Equal([AnomalyKinds.ImpossibleError], report.Kinds);
        Assert.Contains("its event e2 was seen", report.Anomalies[0].Detail, StringComparison.Ordinal);
    }

    // A REST remove by a writer whose socket was down has no event (the actor has no connection), so
    // only the queue shows it applied; a retry then answers VideoNotFound. Reported once, naming both
    // readings, not again as a lost add.
    [Fact]
    public void RemoveAppliedWithoutAnEventButAnsweredNotFoundIsOneWrongAnswer()
    {
        var h = new History();
        var c = Connect(h, "w3", "c3", []);
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Rest, X, 1);
        Frames(c, 1.1, Event(OpKind.Add, X, "e1", "c1"), Sync(false, X));
        h.Complete(add, Outcome.Acked, at: T(1.1));
        var remove = Sent(h, "w2", OpKind.Remove, EntryPoint.Rest, X, 2);
        Frames(c, 3.5, Sync(false));
        h.Complete(remove, Outcome.Failed, "VideoNotFoundException", T(4.1));

        var report = HistoryChecker.Check(h, Views());

        Assert.Equal([AnomalyKinds.ImpossibleError], report.Kinds);
        Assert.Contains("or the acknowledged add was lost", report.Anomalies[0].Detail, StringComparison.Ordinal);
    }

    // A socket remove acknowledged by its event, then answered VideoNotFound by the retry of its lost
    // forward while the writer's next request (an add) is pending: the error cannot be the add's.
    [Fact]
    public void ErrorOfTheOtherKindIsASecondAnswerToTheAcknowledgedRequest()
    {
        var h = new History();
        var remove = Sent(h, "w1", OpKind.Remove, EntryPoint.Socket, X, 1);
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Socket, Y, 2);

        Assert.Equal((remove, true), RecordedSocket.Attribute(add, remove, "VideoNotFoundException"));
        Assert.Equal((add, false), RecordedSocket.Attribute(add, remove, "VideoAlreadyQueuedException"));
        Assert.Equal((add, false), RecordedSocket.Attribute(add, remove, "RoomUnavailable"));
        Assert.Equal((remove, true), RecordedSocket.Attribute(null, remove, "RoomUnavailable"));
        Assert.Equal(((RequestRecord?)null, true), RecordedSocket.Attribute(null, null, "Unknown"));
    }

    [Fact]
    public void AcknowledgedRequestAnsweredAgainWithAnErrorIsCaught()
    {
        var h = new History();
        var c = Connect(h, "w1", "c1", []);
        var add = Sent(h, "w2", OpKind.Add, EntryPoint.Rest, X, 1);
        Frames(c, 1.1, Event(OpKind.Add, X, "e1", "c2"), Sync(false, X));
        h.Complete(add, Outcome.Acked, at: T(1.1));
        var remove = Sent(h, "w1", OpKind.Remove, EntryPoint.Socket, X, 2);
        Frames(c, 2.1, Event(OpKind.Remove, X, "e2", "c1"), Sync(false));
        h.Complete(remove, Outcome.Acked, at: T(2.1));
        h.SecondAnswer(remove, "VideoNotFoundException", T(4.2));

        var report = HistoryChecker.Check(h, Views());

        Assert.Equal([AnomalyKinds.AnsweredTwice], report.Kinds);
        Assert.Contains("then VideoNotFoundException 4.200s", report.Explanation, StringComparison.Ordinal);
    }

    // Writers remove other writers' items, each at most once, including items their socket shows
    // queued whose add is still waiting for its answer.
    [Fact]
    public void RemovesClaimOtherWritersItemsOnceIncludingVisibleUnansweredAdds()
    {
        var h = new History();
        var random = new Random(1);
        var own = Sent(h, "w1", OpKind.Add, EntryPoint.Rest, X, 1);
        h.Complete(own, Outcome.Acked, at: T(1.1));
        Sent(h, "w2", OpKind.Add, EntryPoint.Rest, Y, 2);

        Assert.Null(h.ClaimRemovable(Room, "w1", random));
        Assert.Equal(Y, h.ClaimRemovable(Room, "w1", random, [X, Y]));
        Assert.Null(h.ClaimRemovable(Room, "w1", random, [X, Y]));
        Assert.Equal(X, h.ClaimRemovable(Room, "w3", random));
        Assert.Null(h.ClaimRemovable(Room, "w3", random, [X, Y]));
        Assert.Equal(0, h.Unclaimed(Room));
    }

    // `Unknown` abandons the change (docs/protocol.md §1.7), so it is a rejection.
    [Fact]
    public void AddAnsweredUnknownThatWasAppliedIsCaught()
    {
        var h = new History();
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Rest, X, 1);
        h.Complete(add, Outcome.Failed, "Unknown", T(3));

        Assert.Equal([AnomalyKinds.RejectedButApplied], HistoryChecker.Check(h, Views(X)).Kinds);
    }

    [Fact]
    public void RejectedAddThatWasAppliedIsCaught()
    {
        var h = new History();
        var c = Connect(h, "w2", "c2", []);
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Rest, X, 1);
        Frames(c, 1.5, Event(OpKind.Add, X, "e1", "c1"), Sync(false, X));
        h.Complete(add, Outcome.Failed, "PermissionDeniedException", T(1.6));

        Assert.Contains(AnomalyKinds.RejectedButApplied, HistoryChecker.Check(h, Views(X)).Kinds);
    }

    // RoomUnavailable means "try again": the change may have been made.
    [Fact]
    public void AddAnsweredRoomUnavailableMayStillBeAppliedOnce()
    {
        var h = new History();
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Rest, X, 1);
        h.Complete(add, Outcome.Failed, "RoomUnavailable", T(5));

        Assert.True(HistoryChecker.Check(h, Views(X)).Ok);
    }

    [Fact]
    public void ItemLeavingAQueueWithNoRemoveIsCaught()
    {
        var h = new History();
        var c = Connect(h, "w2", "c2", []);
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Socket, X, 1);
        Frames(c, 1.1, Event(OpKind.Add, X, "e1", "c1"), Sync(false, X));
        h.Complete(add, Outcome.Acked, at: T(1.1));
        Frames(c, 5, Sync(true));

        var report = HistoryChecker.Check(h, Views());

        Assert.Contains(AnomalyKinds.Vanished, report.Kinds);
        Assert.Contains(AnomalyKinds.LostAdd, report.Kinds);
    }

    [Fact]
    public void SameEventTwiceOnOneConnectionIsCaught()
    {
        var h = new History();
        var c = Connect(h, "w2", "c2", []);
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Socket, X, 1);
        Frames(c, 1.1, Event(OpKind.Add, X, "e1", "c1"), Sync(false, X), Event(OpKind.Add, X, "e1", "c1"));
        h.Complete(add, Outcome.Acked, at: T(1.1));

        Assert.Equal([AnomalyKinds.DuplicateEvent], HistoryChecker.Check(h, Views(X)).Kinds);
    }

    [Fact]
    public void DisagreeingFinalViewsAreCaught()
    {
        var h = new History();
        var add = Sent(h, "w1", OpKind.Add, EntryPoint.Rest, X, 1);
        h.Complete(add, Outcome.Acked, at: T(1.1));
        List<FinalView> views = [new("stored", Room, [X]), new("GET n1", Room, []), new("GET n2", Room, null)];

        var report = HistoryChecker.Check(h, views);

        Assert.Contains(AnomalyKinds.ViewsDisagree, report.Kinds);
        Assert.Contains(AnomalyKinds.LostAdd, report.Kinds);
        Assert.Equal(2, report.Anomalies.Count(a => a.Kind == AnomalyKinds.ViewsDisagree));
    }

    [Fact]
    public void FinalCloseCodeOnAWriterSocketIsCaughtAndAMigrationCodeIsNot()
    {
        var h = new History();
        Connect(h, "w1", "c1", []).RecordClose(4003, byClient: false, T(2));
        Connect(h, "w1", "c1b", []).RecordClose(1012, byClient: false, T(3));
        Connect(h, "w1", "c1c", []).RecordClose(null, byClient: false, T(4));

        var report = HistoryChecker.Check(h, Views());

        Assert.Equal([AnomalyKinds.BadClose], report.Kinds);
        Assert.Single(report.Anomalies);
        Assert.Contains("4003", report.Anomalies[0].Detail, StringComparison.Ordinal);
        Assert.Contains("1006 ×1", report.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void ItemNoRequestAddsIsCaught()
    {
        var h = new History();
        var c = Connect(h, "w1", "c1", []);
        Frames(c, 1, Sync(false, Y));

        Assert.Contains(AnomalyKinds.Phantom, HistoryChecker.Check(h, Views(Y)).Kinds);
    }

    private static TimeSpan T(double seconds) => TimeSpan.FromSeconds(seconds);

    private static RequestRecord Sent(History h, string writer, OpKind kind, EntryPoint entry, string target, double at) =>
        h.Begin(writer, "n1", Room, kind, entry, target, entry == EntryPoint.Socket ? $"{writer}#1" : null, T(at));

    // A connection that has joined: `you`, then a full sync with the given queue, at 0.5 s.
    private static ConnectionLog Connect(History h, string writer, string clientId, string[] queue)
    {
        var log = h.Open(writer, "n1", Room, T(0.5));
        log.Record(Sync(true, queue), T(0.5));
        log.Record(new JsonObject { ["action"] = "you", ["info"] = new JsonObject { ["id"] = clientId } }, T(0.5));
        return log;
    }

    private static void Frames(ConnectionLog log, double at, params JsonObject[] frames)
    {
        foreach (var frame in frames)
        {
            log.Record(frame, T(at));
        }
    }

    private static JsonObject Sync(bool full, params string[] queue)
    {
        var frame = new JsonObject
        {
            ["action"] = "sync",
            ["queue"] = new JsonArray([.. queue.Select(id => (JsonNode)new JsonObject { ["service"] = "direct", ["id"] = id })]),
        };
        if (full)
        {
            frame["name"] = Room;
        }
        return frame;
    }

    private static JsonObject Event(OpKind kind, string target, string id, string clientId) => new()
    {
        ["action"] = "event",
        ["request"] = new JsonObject
        {
            ["type"] = kind == OpKind.Add ? 5 : 6,
            ["video"] = new JsonObject { ["service"] = "direct", ["id"] = target },
        },
        ["user"] = new JsonObject { ["id"] = clientId },
        ["additional"] = new JsonObject(),
        ["id"] = id,
    };

    // The same queue in the stored record, one node's GET and one writer's socket.
    private static List<FinalView> Views(params string[] queue) =>
        [new("stored", Room, queue), new("GET n1", Room, queue), new("socket w1#1", Room, queue)];
}
