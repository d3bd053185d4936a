using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Ott.Sync.Media;
using Ott.Sync.Protocol;

namespace Ott.Tests.Unit;

public class QueueTests
{
    private static (TestRoom Room, string Alice) NewRoom()
    {
        var room = new TestRoom();
        return (room, room.Join("alice"));
    }

    // ----- Add -----

    [Fact]
    public void TheFirstVideoAddedToAnIdleRoomBecomesCurrentAndPaused()
    {
        var (room, alice) = NewRoom();

        room.Add(alice, "v1").Succeeds();

        Assert.Equal("v1", room.State.CurrentSource!.Id);
        Assert.Empty(room.State.Queue);
        Assert.False(room.State.IsPlaying);
        Assert.Equal(0, room.Position);
        var ev = room.SingleEvent();
        Assert.Equal("v1", ev["additional"]!["video"]!["id"]!.GetValue<string>());
    }

    [Fact]
    public void AddingWithAVttSubtitleQueuesOneItemWithMetadataAndSubtitle()
    {
        var room = new TestRoom().WithMedia("v0");
        var alice = room.Join("alice");

        room.Add(alice, "v1", "https://x.example/subs.vtt").Succeeds();

        var item = Assert.Single(room.State.Queue);
        Assert.Equal("Title v1", item.Title);
        Assert.Equal("video/mp4", item.Mime);
        Assert.Equal("https://x.example/subs.vtt", item.SubtitleUrl);
        Assert.Equal("https://x.example/subs.vtt", room.SingleEvent()["additional"]!["video"]!["subtitleUrl"]!.GetValue<string>());
    }

    [Fact]
    public void AddingWithAnSrtSubtitleIsUnsupported()
    {
        var room = new TestRoom().WithMedia("v0");
        var alice = room.Join("alice");

        room.Add(alice, "v1", "https://x.example/subs.srt").Fails("UnsupportedSubtitleType", "Subtitle URL must end with .vtt");

        Assert.Empty(room.State.Queue);
    }

    [Fact]
    public void AddingWithAnEmptySubtitleQueuesTheItemWithoutOne()
    {
        var room = new TestRoom().WithMedia("v0");
        var alice = room.Join("alice");

        room.Add(alice, "v1", "").Succeeds();

        Assert.Null(Assert.Single(room.State.Queue).SubtitleUrl);
        Assert.False(room.SingleEvent()["additional"]!["video"]!.AsObject().ContainsKey("subtitleUrl"));
    }

    [Fact]
    public void AddingAnItemThatIsCurrentOrQueuedIsRejected()
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        var alice = room.Join("alice");

        room.Add(alice, "v1").Fails("VideoAlreadyQueuedException", "Video(s) are already in the queue");
        room.Add(alice, "v2").Fails("VideoAlreadyQueuedException");
        Assert.Equal(["v2"], room.QueueIds);
    }

    [Fact]
    public void AListAddWithRepeatsAddsEachItemOnce()
    {
        var room = new TestRoom().WithMedia("v0", "v1");
        var alice = room.Join("alice");

        room.AddList(alice, "v2", "v1", "v2", "v3", "v0").Succeeds();

        Assert.Equal(["v1", "v2", "v3"], room.QueueIds);
    }

    [Fact]
    public void AListAddOfOnlyQueuedItemsIsRejected()
    {
        var room = new TestRoom().WithMedia("v0", "v1");
        var alice = room.Join("alice");

        room.AddList(alice, "v1", "v0", "v1").Fails("VideoAlreadyQueuedException");
    }

    [Fact]
    public void AListAddEventKeepsRequestVideosAsSentWhileAdditionalHoldsOnlyTheAdded()
    {
        var room = new TestRoom().WithMedia("v0", "v1");
        var alice = room.Join("alice");

        room.AddList(alice, "v2", "v1", "v2", "v3");

        var ev = room.SingleEvent();
        var requested = ev["request"]!["videos"]!.AsArray().Select(v => v!["id"]!.GetValue<string>());
        Assert.Equal(["v2", "v1", "v2", "v3"], requested);
        var added = ev["additional"]!["videos"]!.AsArray().Select(v => v!["id"]!.GetValue<string>());
        Assert.Equal(["v2", "v3"], added);
        Assert.False(ev["additional"]!.AsObject().ContainsKey("video"));
    }

    [Fact]
    public void ASingleAddClearsPrevQueueAndAListAddDoesNot()
    {
        var room = new TestRoom().WithMedia("v0");
        room.State = room.State with { PrevQueue = [TestRoom.Item("old")] };
        var alice = room.Join("alice");

        room.AddList(alice, "v1", "v2").Succeeds();
        Assert.NotNull(room.State.PrevQueue);
        Assert.False(room.Delta().ContainsKey("prevQueue"));

        room.Add(alice, "v3").Succeeds();
        Assert.Null(room.State.PrevQueue);
        Assert.True(room.Delta().ContainsKey("prevQueue"));
        Assert.Null(room.Delta()["prevQueue"]);
    }

    [Fact]
    public void AnAddFromAUrlCarriesBothTheUrlAndTheDerivedVideo()
    {
        var (room, alice) = NewRoom();
        var url = "https://cdn.example/movie.mp4";
        var media = new MediaLookup
        {
            FromUrl = new VideoId("direct", url),
            Items = ImmutableDictionary<VideoId, QueueItem>.Empty.Add(new VideoId("direct", url), TestRoom.Item(url)),
        };

        room.Send(alice, new JsonObject { ["type"] = 5, ["url"] = url }.ToJsonString(), media).Succeeds();

        Assert.Equal(url, room.State.CurrentSource!.Id);
        var request = room.SingleEvent()["request"]!;
        Assert.Equal(url, request["url"]!.GetValue<string>());
        Assert.Equal("direct", request["video"]!["service"]!.GetValue<string>());
        Assert.Equal(url, request["video"]!["id"]!.GetValue<string>());
    }

    [Fact]
    public void AnAddFromAnUnknownUrlIsAnUnsupportedService()
    {
        var (room, alice) = NewRoom();

        room.Send(alice, """{"type":5,"url":"https://nowhere.example/clip.x"}""", MediaLookup.None)
            .Fails("UnsupportedServiceException");
        Assert.Contains("service support request", room.Last.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ADirectItemWithoutALengthIsAccepted()
    {
        var (room, alice) = NewRoom();

        room.Add(alice, "nolength").Succeeds();

        Assert.Null(room.State.CurrentSource!.Length);
    }

    // ----- PlayNow -----

    [Fact]
    public void PlayNowOfAnUnqueuedVideoMakesItsMetadataCurrent()
    {
        var room = new TestRoom();
        room.Catalog[new VideoId("direct", "v9")] = TestRoom.Item("v9", length: 99);
        var alice = room.Join("alice");

        room.PlayNow(alice, "v9").Succeeds();

        Assert.Equal(TestRoom.Item("v9", length: 99), room.State.CurrentSource);
        Assert.Empty(room.Events());
    }

    [Fact]
    public void PlayNowOfAQueuedVideoTakesItOutOfTheQueue()
    {
        var room = new TestRoom();
        var alice = room.Join("alice");
        room.State = room.State with { CurrentSource = null, Queue = [TestRoom.Item("v1"), TestRoom.Item("v2")] };

        room.PlayNow(alice, "v2").Succeeds();

        Assert.Equal("v2", room.State.CurrentSource!.Id);
        Assert.Equal(["v1"], room.QueueIds);
    }

    [Fact]
    public void PlayNowPutsThePreviousItemAtTheQueueHeadWithStartAtAndResetsThePosition()
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        var alice = room.Join("alice");
        room.Play(alice);

        room.Elapse(12).PlayNow(alice, "v3").Succeeds();

        Assert.Equal("v3", room.State.CurrentSource!.Id);
        Assert.Equal(["v1", "v2"], room.QueueIds);
        Assert.Equal(12, room.State.Queue[0].StartAt!.Value, 3);
        Assert.Equal(0, room.Position);
        Assert.True(room.State.IsPlaying);
        Assert.Equal(0, room.Delta()["playbackPosition"]!.GetValue<double>());
    }

    [Fact]
    public void PlayNowOfAWholeQueueItemCarryingStartAtStartsAtZero()
    {
        var room = new TestRoom().WithMedia("v1");
        room.State = room.State with { Queue = [TestRoom.Item("v2") with { StartAt = 30 }] };
        var alice = room.Join("alice");
        var extra = new JsonObject
        {
            ["title"] = "Title v2",
            ["description"] = "d",
            ["thumbnail"] = "https://t.example/x.png",
            ["length"] = 100,
            ["mime"] = "video/mp4",
            ["highlight"] = true,
            ["startAt"] = 30,
            ["subtitleUrl"] = "",
        };

        room.PlayNow(alice, "v2", extra).Succeeds();

        Assert.Equal("v2", room.State.CurrentSource!.Id);
        Assert.Equal(0, room.Position);
        Assert.Null(room.State.CurrentSource.SubtitleUrl);

        room.PlayNow(alice, "v7", new JsonObject { ["startAt"] = 30, ["length"] = 100 }).Succeeds();
        Assert.Equal(0, room.Position);
        Assert.Null(room.State.CurrentSource!.Length); // metadata comes from the resolver, not the request
    }

    [Fact]
    public void PlayNowKeepsAVttSubtitleRejectsAnSrtAndIgnoresAnEmptyOne()
    {
        var room = new TestRoom().WithMedia("v1");
        var alice = room.Join("alice");

        room.PlayNow(alice, "v2", new JsonObject { ["subtitleUrl"] = "https://x.example/a.srt" }).Fails("UnsupportedSubtitleType");
        Assert.Equal("v1", room.State.CurrentSource!.Id);

        room.PlayNow(alice, "v2", new JsonObject { ["subtitleUrl"] = "https://x.example/a.vtt" }).Succeeds();
        Assert.Equal("https://x.example/a.vtt", room.State.CurrentSource!.SubtitleUrl);

        room.PlayNow(alice, "v3", new JsonObject { ["subtitleUrl"] = "" }).Succeeds();
        Assert.Null(room.State.CurrentSource!.SubtitleUrl);
    }

    [Fact]
    public void PlayNowOfTheCurrentItemIsANoOp()
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        var alice = room.Join("alice");
        var before = room.State;

        room.PlayNow(alice, "v1").Succeeds();

        Assert.Same(before, room.State);
    }

    [Fact]
    public void PlayNowNeedsOrderForAQueuedItemAndAddForANewOne()
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        var alice = room.Join("alice");
        var own = Permissions.Mask(Permissions.PlayNow);
        room.State = room.State with { Grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = own }) };

        room.PlayNow(alice, "v2").Fails("PermissionDeniedException", "Permission denied: manage-queue.order");
        room.PlayNow(alice, "v3").Fails("PermissionDeniedException", "Permission denied: manage-queue.add");

        room.State = room.State with { Grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = Permissions.Mask(Permissions.Add, Permissions.Order) }) };
        room.PlayNow(alice, "v3").Fails("PermissionDeniedException", "Permission denied: manage-queue.play-now");
    }

    // ----- Order, shuffle, remove, edit -----

    [Fact]
    public void OrderMovesAnItemAndIsSynced()
    {
        var room = new TestRoom().WithMedia("v0", "v1", "v2", "v3");
        var alice = room.Join("alice");

        room.Order(alice, 0, 2).Succeeds();

        Assert.Equal(["v2", "v3", "v1"], room.QueueIds);
        var synced = room.Delta()["queue"]!.AsArray().Select(i => i!["id"]!.GetValue<string>());
        Assert.Equal(["v2", "v3", "v1"], synced);
        Assert.Empty(room.Events());
    }

    [Fact]
    public void OrderWithEqualIndicesChangesNothing()
    {
        var room = new TestRoom().WithMedia("v0", "v1", "v2");
        var alice = room.Join("alice");
        var before = room.State;

        room.Order(alice, 1, 1).Succeeds();

        Assert.Same(before.Queue, room.State.Queue);
        Assert.False(room.Delta().ContainsKey("queue"));
    }

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(0, 2)]
    [InlineData(2, 0)]
    public void OrderOutOfRangeIsABadArgument(int from, int to)
    {
        var room = new TestRoom().WithMedia("v0", "v1", "v2");
        var alice = room.Join("alice");

        room.Order(alice, from, to).Fails("BadApiArgumentException");
    }

    [Fact]
    public void ShuffleKeepsAllItemsIsSyncedAndEmitsNoEvent()
    {
        var room = new TestRoom().WithMedia("v0", [.. Enumerable.Range(1, 12).Select(i => $"v{i}")]);
        var alice = room.Join("alice");
        var before = room.QueueIds;

        room.Shuffle(alice).Succeeds();

        Assert.NotEqual(before, room.QueueIds); // seeded Random: 12! orders, this seed moves them
        Assert.Equal(before.Order(), room.QueueIds.Order());
        Assert.True(room.Delta().ContainsKey("queue"));
        Assert.Empty(room.Events());
    }

    [Fact]
    public void ShuffleNeedsManageQueueOrder()
    {
        var room = new TestRoom().WithMedia("v0", "v1", "v2");
        var alice = room.Join("alice");
        room.State = room.State with { Grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = Permissions.Mask("playback") }) };

        room.Shuffle(alice).Fails("PermissionDeniedException", "Permission denied: manage-queue.order");
    }

    [Fact]
    public void RemoveEmitsTheVideoAndItsFormerIndex()
    {
        var room = new TestRoom().WithMedia("v0", "v1", "v2", "v3");
        var alice = room.Join("alice");

        room.Remove(alice, "v2").Succeeds();

        Assert.Equal(["v1", "v3"], room.QueueIds);
        var additional = room.SingleEvent()["additional"]!;
        Assert.Equal("v2", additional["video"]!["id"]!.GetValue<string>());
        Assert.Equal(1, additional["queueIdx"]!.GetValue<int>());
    }

    [Fact]
    public void RemovingTheCurrentOrAnUnqueuedItemIsVideoNotFound()
    {
        var room = new TestRoom().WithMedia("v0", "v1");
        var alice = room.Join("alice");

        room.Remove(alice, "v0").Fails("VideoNotFoundException", "Video not found.");
        room.Remove(alice, "v9").Fails("VideoNotFoundException");
    }

    [Fact]
    public void UpdateQueueItemSetsAndClearsTheSubtitleAndEmitsAnEmptyAdditional()
    {
        var room = new TestRoom().WithMedia("v0", "v1");
        var alice = room.Join("alice");

        room.Edit(alice, "v1", """{"subtitleUrl":"https://x.example/a.vtt"}""").Succeeds();
        Assert.Equal("https://x.example/a.vtt", room.State.Queue[0].SubtitleUrl);
        Assert.Equal("{}", room.SingleEvent()["additional"]!.ToJsonString());

        room.Edit(alice, "v1", """{"subtitleUrl":"https://x.example/a.srt"}""").Fails("UnsupportedSubtitleType");
        room.Edit(alice, "v1", """{"subtitleUrl":""}""").Succeeds();
        Assert.Null(room.State.Queue[0].SubtitleUrl);
        room.Edit(alice, "v0", """{"subtitleUrl":"https://x.example/a.vtt"}""").Fails("VideoNotFoundException");
    }

    // ----- advance and queue modes -----

    [Theory]
    [InlineData(QueueMode.Manual)]
    [InlineData(QueueMode.Vote)]
    public void AdvanceInManualOrVoteModeMakesTheNextItemCurrentAndEmptiesTheQueue(QueueMode mode)
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        room.State = room.State with { QueueMode = mode };
        var alice = room.Join("alice");

        room.Skip(alice);

        Assert.Equal("v2", room.State.CurrentSource!.Id);
        Assert.Empty(room.State.Queue);
    }

    [Fact]
    public void AdvanceInLoopModeAppendsTheOldItemWithoutStartAndEnd()
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        room.State = room.State with { QueueMode = QueueMode.Loop, CurrentSource = TestRoom.Item("v1") with { StartAt = 5, EndAt = 50 } };
        var alice = room.Join("alice");

        room.Skip(alice);

        Assert.Equal("v2", room.State.CurrentSource!.Id);
        Assert.Equal(["v1"], room.QueueIds);
        Assert.Null(room.State.Queue[0].StartAt);
        Assert.Null(room.State.Queue[0].EndAt);
        Assert.Equal(0, room.Position);
    }

    [Fact]
    public void AdvanceInLoopModeWithAnEmptyQueueKeepsTheSameItemAndAnEmptyQueue()
    {
        var room = new TestRoom().WithMedia("v1");
        room.State = room.State with { QueueMode = QueueMode.Loop };
        var alice = room.Join("alice");
        room.Seek(alice, 40);

        room.Skip(alice).Succeeds();

        Assert.Equal("v1", room.State.CurrentSource!.Id);
        Assert.Empty(room.State.Queue);
        Assert.Equal(0, room.Position);
    }

    [Fact]
    public void AdvanceInDjModeRestartsTheSameItemAndLeavesTheQueue()
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        room.State = room.State with { QueueMode = QueueMode.Dj, CurrentSource = TestRoom.Item("v1") with { StartAt = 3, EndAt = 40 } };
        var alice = room.Join("alice");
        room.Seek(alice, 10);

        room.Skip(alice).Succeeds();

        Assert.Equal(TestRoom.Item("v1"), room.State.CurrentSource);
        Assert.Equal(["v2"], room.QueueIds);
        Assert.Equal(0, room.Position);
        Assert.Equal(room.Now, room.State.PlaybackAnchor);
    }

    [Fact]
    public void AdvanceStartsTheNextItemAtItsStartAt()
    {
        var room = new TestRoom().WithMedia("v1");
        room.State = room.State with { Queue = [TestRoom.Item("v2") with { StartAt = 7 }] };
        var alice = room.Join("alice");

        room.Skip(alice);

        Assert.Equal(7, room.Position);
    }

    [Fact]
    public void AnItemReachingItsLengthWhilePlayingAdvances()
    {
        var room = new TestRoom();
        room.Catalog[new VideoId("direct", "v1")] = TestRoom.Item("v1", length: 10);
        var alice = room.Join("alice");
        room.AddList(alice, "v1", "v2");
        room.Play(alice);

        room.Elapse(9.5).Tick();
        Assert.Equal("v1", room.State.CurrentSource!.Id);

        room.Elapse(0.6).Tick();
        Assert.Equal("v2", room.State.CurrentSource!.Id);
        Assert.True(room.State.IsPlaying);
        Assert.Empty(room.Events()); // the end of media is not a Skip
    }

    [Fact]
    public void AnItemReachingItsEndAtWhilePlayingAdvances()
    {
        var room = new TestRoom();
        room.State = room.State with { CurrentSource = TestRoom.Item("v1", length: 100) with { EndAt = 20 }, Queue = [TestRoom.Item("v2")] };
        var alice = room.Join("alice");
        room.Play(alice);

        room.Elapse(19).Tick();
        Assert.Equal("v1", room.State.CurrentSource!.Id);
        room.Elapse(1).Tick();
        Assert.Equal("v2", room.State.CurrentSource!.Id);
    }

    [Fact]
    public void EndOfTheLastItemStopsPlayback()
    {
        var room = new TestRoom();
        room.State = room.State with { CurrentSource = TestRoom.Item("v1", length: 5) };
        var alice = room.Join("alice");
        room.Play(alice);

        room.Elapse(6).Tick();

        Assert.Null(room.State.CurrentSource);
        Assert.False(room.State.IsPlaying);
        Assert.Equal(0, room.State.PlaybackPosition);
    }

    [Fact]
    public void AnItemWithNoLengthAndNoEndAtNeverAdvancesByItself()
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        var alice = room.Join("alice");
        room.Play(alice);

        room.Elapse(100_000).Tick();

        Assert.Equal("v1", room.State.CurrentSource!.Id);
    }

    [Fact]
    public void APausedItemPastItsLengthDoesNotAdvance()
    {
        var room = new TestRoom();
        room.State = room.State with { CurrentSource = TestRoom.Item("v1", length: 5), Queue = [TestRoom.Item("v2")], PlaybackPosition = 6 };
        room.Join("alice");

        room.Elapse(10).Tick();

        Assert.Equal("v1", room.State.CurrentSource!.Id);
    }

    [Fact]
    public void InVoteModeTheQueueStaysStablySortedByVotesHighestFirst()
    {
        var room = new TestRoom().WithMedia("v0", "a", "b", "c", "d");
        room.State = room.State with { QueueMode = QueueMode.Vote };
        var u1 = room.Join("u1");
        var u2 = room.Join("u2");

        room.Vote(u1, "c");
        Assert.Equal(["c", "a", "b", "d"], room.QueueIds);
        room.Vote(u1, "d");
        Assert.Equal(["c", "d", "a", "b"], room.QueueIds);
        room.Vote(u2, "d");
        Assert.Equal(["d", "c", "a", "b"], room.QueueIds);
        Assert.True(room.Delta().ContainsKey("queue"));

        room.Vote(u2, "d", add: false);
        room.Vote(u1, "d", add: false);
        Assert.Equal(["c", "d", "a", "b"], room.QueueIds); // ties keep their order
    }
}
