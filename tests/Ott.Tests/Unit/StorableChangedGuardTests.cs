using System.Collections;
using System.Collections.Immutable;
using System.Text.Json;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

/// <summary>
/// The actor persists when <c>before.ToStorable()</c> and <c>after.ToStorable()</c> serialise differently
/// (docs/architecture.md §3). These tests check that every storable change a transition makes shows in that JSON,
/// and that presence-only commands leave it byte for byte identical.
/// </summary>
public class StorableChangedGuardTests
{
    private static string Stored(RoomState s) => JsonSerializer.Serialize(s.ToStorable(), StateJsonContext.Default.StorableRoom);

    /// <summary>Storable data as the record holds it: every positional member, compared by value.</summary>
    private static bool StorableMembersDiffer(RoomState a, RoomState b)
    {
        var members = typeof(RoomState).GetConstructors().Single(c => c.GetParameters().Length > 1).GetParameters().Select(p => p.Name!);
        foreach (var name in members)
        {
            var property = typeof(RoomState).GetProperty(name)!;
            var va = property.GetValue(a);
            var vb = property.GetValue(b);
            var same = va is IEnumerable ea && vb is IEnumerable eb && va is not string
                ? ea.Cast<object>().SequenceEqual(eb.Cast<object>())
                : Equals(va, vb);
            if (!same)
            {
                return true;
            }
        }
        return false;
    }

    public enum Expect { Unchanged, Changed }

    public static TheoryData<string, Expect> Cases() => new()
    {
        { "join", Expect.Unchanged },
        { "leave", Expect.Unchanged },
        { "status", Expect.Unchanged },
        { "update-user", Expect.Unchanged },
        { "chat", Expect.Unchanged },
        { "vote", Expect.Unchanged },
        { "vote-skip-first-vote", Expect.Unchanged },
        { "kick", Expect.Unchanged },
        { "tick-mid-item", Expect.Unchanged },
        { "play-when-playing", Expect.Unchanged },
        { "pause-when-paused", Expect.Unchanged },
        { "skip-nothing-current", Expect.Unchanged },
        { "order-same-index", Expect.Unchanged },
        { "play-now-current", Expect.Unchanged },
        { "settings-unchanged", Expect.Unchanged },
        { "failed-add", Expect.Unchanged },
        { "play", Expect.Changed },
        { "pause", Expect.Changed },
        { "seek", Expect.Changed },
        { "skip", Expect.Changed },
        { "add", Expect.Changed },
        { "add-list", Expect.Changed },
        { "remove", Expect.Changed },
        { "order", Expect.Changed },
        { "promote", Expect.Changed },
        { "undo-seek", Expect.Changed },
        { "settings-title", Expect.Changed },
        { "settings-grants", Expect.Changed },
        { "settings-categories", Expect.Changed },
        { "play-now", Expect.Changed },
        { "shuffle", Expect.Changed },
        { "speed", Expect.Changed },
        { "restore-queue", Expect.Changed },
        { "update-queue-item", Expect.Changed },
        { "claim", Expect.Changed },
        { "tick-end-of-media", Expect.Changed },
        { "segments-loaded", Expect.Changed },
        { "vote-mode-leave", Expect.Unchanged },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void StoredJsonChangesExactlyWhenStorableDataChanges(string command, Expect expect)
    {
        var room = new TestRoom(isTemporary: false).WithMedia("v1", "v2", "v3", "v4");
        room.Catalog[new Sync.Protocol.VideoId("direct", "v1")] = TestRoom.Item("v1", length: 60);
        room.State = room.State with { CurrentSource = TestRoom.Item("v1", length: 60), PrevQueue = [TestRoom.Item("old")] };
        var a = room.Join("alice", accountId: 1);
        var b = room.Join("bob");
        room.Join("carol");
        room.State = room.State with { Owner = null };

        // Set-up steps some cases need, before the command under test.
        switch (command)
        {
            case "play-when-playing" or "pause" or "tick-mid-item" or "tick-end-of-media":
                room.Play(a);
                break;
            case "undo-seek":
                room.Seek(a, 10);
                break;
            case "vote-skip-first-vote":
                room.State = room.State with { EnableVoteSkip = true };
                break;
            case "vote-mode-leave":
                room.State = room.State with { QueueMode = QueueMode.Vote };
                room.Vote(b, "v4");
                break;
            case "kick":
                room.State = room.State with { Owner = new RoomOwner(1, "alice") };
                break;
            case "skip-nothing-current":
                room.State = room.State with { CurrentSource = null, Queue = [] };
                break;
        }
        var seekEvent = room.Events() is [.., var last] ? last : null;
        room.Elapse(5);

        var before = room.State;
        var outcome = command switch
        {
            "join" => room.Run(new JoinCommand(room.NewUser("dave"))),
            "leave" => room.Run(new LeaveCommand(b)),
            "status" => room.Run(new StatusCommand(b, "ready")),
            "update-user" => room.Run(new UpdateUserCommand(b, "bobby", false, null)),
            "chat" => room.Chat(a, "hello"),
            "vote" => room.Vote(a, "v3"),
            "vote-skip-first-vote" => room.Skip(a),
            "kick" => room.Kick(a, b),
            "tick-mid-item" => room.Tick(),
            "play-when-playing" or "play" => room.Play(a),
            "pause-when-paused" or "pause" => room.Pause(a),
            "skip-nothing-current" or "skip" => room.Skip(a),
            "order-same-index" => room.Order(a, 1, 1),
            "play-now-current" => room.PlayNow(a, "v1"),
            "settings-unchanged" => room.Settings(a, """{"title":"","grants":[[0,113250303],[4,1]]}"""),
            "failed-add" => room.Add(a, "v2"),
            "seek" => room.Seek(a, 30),
            "add" => room.Add(a, "v9"),
            "add-list" => room.AddList(a, "v8", "v9"),
            "remove" => room.Remove(a, "v3"),
            "order" => room.Order(a, 0, 2),
            "promote" => PromoteAsOwner(room, a),
            "undo-seek" => room.Undo(a, seekEvent!),
            "settings-title" => room.Settings(a, """{"title":"New"}"""),
            "settings-grants" => SettingsAsAdmin(room),
            "settings-categories" => room.Settings(a, """{"autoSkipSegmentCategories":["intro"]}"""),
            "play-now" => room.PlayNow(a, "v3"),
            "shuffle" => room.Shuffle(a),
            "speed" => room.Speed(a, 2),
            "restore-queue" => room.RestoreQueue(a, discard: true),
            "update-queue-item" => room.Edit(a, "v2", """{"subtitleUrl":"https://s.example/a.vtt"}"""),
            "claim" => room.Run(new ClaimCommand(TestRoom.ActorOf(room.User(a)))),
            "tick-end-of-media" => room.Elapse(60).Tick(),
            "segments-loaded" => room.Run(new SegmentsLoadedCommand(TestRoom.Item("v1"), [new Segment { Uuid = "s", Category = "intro", StartTime = 1, EndTime = 2 }])),
            "vote-mode-leave" => room.Run(new LeaveCommand(b)),
            _ => throw new ArgumentOutOfRangeException(nameof(command)),
        };

        Assert.True(outcome.Error is null || command == "failed-add", outcome.Error?.Message);
        var membersChanged = StorableMembersDiffer(before, room.State);
        var jsonChanged = Stored(before) != Stored(room.State);
        Assert.Equal(membersChanged, jsonChanged);
        Assert.Equal(expect == Expect.Changed, jsonChanged);
    }

    private static RoomOutcome PromoteAsOwner(TestRoom room, string a)
    {
        room.State = room.State with { Owner = new RoomOwner(1, "alice") };
        var registered = room.Join("reg", accountId: 2);
        return room.Promote(a, registered, 2);
    }

    private static RoomOutcome SettingsAsAdmin(TestRoom room)
    {
        room.State = room.State with { UserRoles = UserRoles.Empty.Assign(9, Role.Administrator) };
        var admin = room.Join("admin", accountId: 9);
        return room.Settings(admin, """{"grants":[[0,1]]}""");
    }

    [Fact]
    public void EveryRequestTypeIsCoveredByTheGuard()
    {
        var covered = new[] { "play", "skip", "seek", "add", "remove", "order", "vote", "promote", "chat", "undo-seek", "settings-title", "play-now", "shuffle", "speed", "restore-queue", "kick", "update-queue-item" };
        var cases = Cases().Select(row => (string)row[0]).ToHashSet();

        Assert.All(covered, c => Assert.Contains(c, cases));
        Assert.Equal(17, covered.Length); // request types 2–9 and 11–19
    }

    [Fact]
    public void ARetriedRequestIdIsAcknowledgedWithoutApplyingTwice()
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        var a = room.Join("a");
        var request = TestRoom.Parse("""{"type":5,"video":{"service":"direct","id":"v9"}}""");
        var command = new RequestCommand(TestRoom.ActorOf(room.User(a)), request, room.LookupFor(request)) { Id = new RequestId("client-a", 1) };

        room.Run(command).Succeeds();
        Assert.True(RequestLedger.IsApplied(room.State.AppliedRequests, new RequestId("client-a", 1)));
        Assert.Contains("client-a", Stored(room.State), StringComparison.Ordinal);
        var after = room.State;

        var retry = room.Run(command);

        Assert.Null(retry.Error);
        Assert.Empty(retry.Outputs);
        Assert.Same(after, room.State);
    }

    [Fact]
    public void ARetryIsRecognisedAfterAnyNumberOfOtherRequests()
    {
        // The owner once kept only the last 64 ids: a busy room forgot a request before its retry came back.
        var room = new TestRoom().WithMedia("v0");
        var a = room.Join("a");
        var add = TestRoom.Parse("""{"type":5,"video":{"service":"direct","id":"v1"}}""");
        var first = new RequestCommand(TestRoom.ActorOf(room.User(a)), add, room.LookupFor(add)) { Id = new RequestId("gateway-client", 1) };
        room.Run(first).Succeeds();
        for (var i = 0; i < 500; i++)
        {
            var seek = TestRoom.Parse($$"""{"type":4,"value":{{i}}}""");
            room.Run(new RequestCommand(TestRoom.ActorOf(room.User(a)), seek) { Id = new RequestId($"other-{i % 40}", (i / 40) + 1) }).Succeeds();
        }
        var remove = TestRoom.Parse("""{"type":6,"video":{"service":"direct","id":"v1"}}""");
        room.Run(new RequestCommand(TestRoom.ActorOf(room.User(a)), remove) { Id = new RequestId("another", 1) }).Succeeds();
        Assert.DoesNotContain(room.State.Queue, i => i.Id == "v1");

        var retry = room.Run(first);

        Assert.Null(retry.Error);
        Assert.DoesNotContain(room.State.Queue, i => i.Id == "v1"); // the acknowledged remove stays done
    }

    /// <summary>
    /// The next owner after a failover knows only the stored record: the path of <c>RoomHost.LoadAsync</c>
    /// (the actor's JSON, read back, <c>FromStorable</c>, <c>OnLoad</c>), ten seconds later, with the gateway's
    /// clients re-joined (docs/architecture.md §9.4, §9.6).
    /// </summary>
    private static TestRoom FailOver(TestRoom owner, params RoomUser[] rejoined)
    {
        var stored = JsonSerializer.Deserialize(RoomActor.Serialize(owner.State), StateJsonContext.Default.StorableRoom)!;
        var next = new TestRoom(owner.State.IsTemporary) { Now = owner.Now.AddSeconds(10) };
        next.State = RoomTransitions.OnLoad(stored.FromStorable(), next.Now, next.Ctx);
        next.Run(new RejoinCommand("node-1", [.. rejoined])).Succeeds();
        return next;
    }

    private static RequestCommand AddOf(TestRoom room, RoomUser user, string video, RequestId id)
    {
        var request = TestRoom.Parse($$$"""{"type":5,"video":{"service":"direct","id":"{{{video}}}"}}""");
        return new RequestCommand(TestRoom.ActorOf(user), request, room.LookupFor(request)) { Id = id };
    }

    [Fact]
    public void ARetryAfterManyOtherRequestsIsRecognisedByTheNextOwnerFromTheStoredRecord()
    {
        // An add is applied and its reply lost; more than 64 other requests follow, from its own socket and from
        // many others, and the item is removed again. Then the owner dies and the add's retry reaches the next one.
        var room = new TestRoom(isTemporary: false).WithMedia("v0");
        var user = room.User(room.Join("a"));
        var add = AddOf(room, user, "v1", new RequestId("gateway-client", 1));
        room.Run(add).Succeeds();
        for (var i = 0; i < 200; i++)
        {
            var seek = TestRoom.Parse($$"""{"type":4,"value":{{i}}}""");
            room.Run(new RequestCommand(TestRoom.ActorOf(user), seek) { Id = new RequestId("gateway-client", i + 2) }).Succeeds();
            room.Run(new RequestCommand(TestRoom.ActorOf(user), seek) { Id = new RequestId($"other-{i}", 1) }).Succeeds();
        }
        var remove = TestRoom.Parse("""{"type":6,"video":{"service":"direct","id":"v1"}}""");
        room.Run(new RequestCommand(TestRoom.ActorOf(user), remove) { Id = new RequestId("gateway-client", 202) }).Succeeds();

        var next = FailOver(room, user);
        var before = next.State;
        var retry = next.Run(add);

        Assert.Null(retry.Error);
        Assert.Empty(retry.Outputs);
        Assert.Same(before, next.State);
        Assert.DoesNotContain(next.State.Queue, i => i.Id == "v1"); // the acknowledged remove stays done
    }

    [Fact]
    public void ABurstOfOneOriginSplitByAFailoverIsAppliedOnceEach()
    {
        // A node that stalled releases 300 queued REST adds to one room at once; they reach the owner in
        // reverse order. The owner applies half of them and dies before any reply gets back; the next owner
        // gets the other half, then the retries of all of them (docs/architecture.md §9.4).
        var room = new TestRoom(isTemporary: false).WithMedia("v0");
        var user = room.User(room.Join("a"));
        room.Run(AddOf(room, user, "v1", new RequestId("n1/rest", 1))).Succeeds();
        var burst = Enumerable.Range(2, 300).Reverse().ToList();
        foreach (var seq in burst.Take(150))
        {
            room.Run(AddOf(room, user, $"v{seq}", new RequestId("n1/rest", seq))).Succeeds();
        }

        var next = FailOver(room, user);
        foreach (var seq in burst.Skip(150).Concat(burst))
        {
            var outcome = next.Run(AddOf(next, user, $"v{seq}", new RequestId("n1/rest", seq)));
            Assert.True(outcome.Error is null, $"add #{seq}: {outcome.Error?.Name}");
        }

        var missing = Enumerable.Range(1, 301).Select(i => $"v{i}").Except(next.State.Queue.Select(i => i.Id)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} adds were taken for retries and never applied: {string.Join(", ", missing.Take(5))}, ...");
        Assert.Equal(301, next.State.Queue.Count);
    }

    [Fact]
    public void ARequestThatOvertookAnEarlierOneLeavesAGapTheEarlierOneFills()
    {
        var room = new TestRoom().WithMedia("v0");
        var a = room.Join("a");
        RequestCommand Add(string id, long seq)
        {
            var request = TestRoom.Parse($$$"""{"type":5,"video":{"service":"direct","id":"{{{id}}}"}}""");
            return new RequestCommand(TestRoom.ActorOf(room.User(a)), request, room.LookupFor(request)) { Id = new RequestId("c", seq) };
        }

        room.Run(Add("v2", 2)).Succeeds(); // seq 1 is still on its way
        Assert.False(RequestLedger.IsApplied(room.State.AppliedRequests, new RequestId("c", 1)));
        room.Run(Add("v1", 1)).Succeeds();
        Assert.Equal(["v2", "v1"], room.State.Queue.Select(i => i.Id));

        room.Run(Add("v1", 1)); // its retry
        room.Run(Add("v2", 2));
        Assert.Equal(["v2", "v1"], room.State.Queue.Select(i => i.Id));
        Assert.Empty(room.State.AppliedRequests["c"].Gaps);
    }

    [Fact]
    public void ABurstOfOneOriginsRequestsArrivingInAnyOrderIsAppliedOnceEach()
    {
        // A node stalled for seconds releases every REST call it queued meanwhile at once; they reach the
        // owner in any order. Each must be applied once, however far the first one overtook the others.
        var ledger = RequestLedger.Record(ImmutableDictionary<string, RequestMark>.Empty, new RequestId("n1/rest", 99), 1_000, TimeSpan.FromMinutes(1));
        var burst = Enumerable.Range(100, 300).Select(i => (long)i).Reverse().ToList();
        foreach (var seq in burst)
        {
            Assert.False(RequestLedger.IsApplied(ledger, new RequestId("n1/rest", seq)), $"seq {seq} taken for a retry before it was applied");
            ledger = RequestLedger.Record(ledger, new RequestId("n1/rest", seq), 2_000, TimeSpan.FromMinutes(1));
        }
        Assert.All(burst, seq => Assert.True(RequestLedger.IsApplied(ledger, new RequestId("n1/rest", seq))));
        Assert.All(ledger["n1/rest"].Gaps, g => Assert.True(g.Seq < 99)); // only the ones before the first sighting
    }

    [Fact]
    public void AnOriginQuietForTheRetentionIsForgotten()
    {
        var ledger = RequestLedger.Record(ImmutableDictionary<string, RequestMark>.Empty, new RequestId("old", 3), 1_000, TimeSpan.FromSeconds(10));
        Assert.Equal(2, ledger["old"].Gaps.Count);

        ledger = RequestLedger.Record(ledger, new RequestId("new", 1), 5_000, TimeSpan.FromSeconds(10));
        Assert.True(ledger.ContainsKey("old"));
        ledger = RequestLedger.Record(ledger, new RequestId("new", 2), 11_001, TimeSpan.FromSeconds(10));

        Assert.False(ledger.ContainsKey("old"));
        Assert.Equal(2, ledger["new"].Seq);
    }

    [Fact]
    public void RequestIdsRoundTripThroughTheirWireForm()
    {
        var id = new RequestId("node-a1b2c3d4/rest", 42);
        Assert.Equal(id, RequestId.Parse(id.ToString()));
        Assert.Null(RequestId.Parse("no-seq"));
        Assert.Null(RequestId.Parse("x#0"));
    }
}
