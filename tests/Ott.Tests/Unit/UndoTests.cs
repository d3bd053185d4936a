using System.Text.Json.Nodes;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

public class UndoTests
{
    private static (TestRoom Room, string Alice) RoomWith(string? current, params string[] queue)
    {
        var room = new TestRoom().WithMedia(current, queue);
        return (room, room.Join("alice"));
    }

    private static void Deny(TestRoom room, params string[] permissions) =>
        room.State = room.State with
        {
            Grants = Grants.FromOwnMasks(new Dictionary<Role, int> { [Role.Unregistered] = Grants.Default[Role.Unregistered] & ~Permissions.Mask(permissions) }),
        };

    // ----- Seek -----

    [Fact]
    public void UndoSeekGoesToTheEchoedPrevPositionAndEmitsASeek()
    {
        var (room, alice) = RoomWith("v1");
        room.Seek(alice, 10);
        room.Seek(alice, 50);
        var ev = room.SingleEvent();

        room.Undo(alice, ev).Succeeds();

        Assert.Equal(10, room.State.PlaybackPosition);
        var seek = room.SingleEvent();
        Assert.Equal(4, seek["request"]!["type"]!.GetValue<int>());
        Assert.Equal(10, seek["request"]!["value"]!.GetValue<double>());
        Assert.Equal(50, seek["additional"]!["prevPosition"]!.GetValue<double>());
        Assert.NotEqual(ev["id"]!.GetValue<string>(), seek["id"]!.GetValue<string>());
    }

    [Fact]
    public void UndoSeekToZeroIsHonoured()
    {
        var (room, alice) = RoomWith("v1");
        room.Seek(alice, 30);

        room.Undo(alice, room.SingleEvent()).Succeeds();

        Assert.Equal(0, room.State.PlaybackPosition);
        Assert.Equal(room.Now, room.State.PlaybackAnchor);
    }

    [Fact]
    public void UndoOfAMergedSeekRunReturnsToBeforeTheFirstSeek()
    {
        var (room, alice) = RoomWith("v1");
        room.Seek(alice, 5);
        room.Seek(alice, 10); // A: prev 5
        var a = room.SingleEvent();
        room.Seek(alice, 15); // B
        room.Seek(alice, 20); // C
        var c = room.SingleEvent();
        c["additional"]!["prevPosition"] = a["additional"]!["prevPosition"]!.DeepClone(); // the client's merged toast

        room.Undo(alice, c).Succeeds();

        Assert.Equal(5, room.State.PlaybackPosition);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("-1")]
    [InlineData("\"12\"")]
    [InlineData("null")]
    public void UndoSeekWithAnUnusablePrevPositionUsesTheRecordedOne(string echoed)
    {
        var (room, alice) = RoomWith("v1");
        room.Seek(alice, 12);
        room.Seek(alice, 40);
        var ev = room.SingleEvent();
        var additional = ev["additional"]!.AsObject();
        additional.Remove("prevPosition");
        if (echoed != "missing")
        {
            additional["prevPosition"] = JsonNode.Parse(echoed);
        }

        room.Undo(alice, ev).Succeeds();

        Assert.Equal(12, room.State.PlaybackPosition);
    }

    [Fact]
    public void UndoSeekNeedsPlaybackSeek()
    {
        var (room, alice) = RoomWith("v1");
        room.Seek(alice, 12);
        var ev = room.SingleEvent();
        Deny(room, Permissions.Seek);

        room.Undo(alice, ev).Fails("PermissionDeniedException", "Permission denied: playback.seek");
    }

    // ----- Skip -----

    [Fact]
    public void UndoSkipMakesTheSkippedItemCurrentAtPrevPositionAndPutsTheCurrentAtTheQueueHead()
    {
        var (room, alice) = RoomWith("v1", "v2", "v3");
        room.Play(alice);
        room.Elapse(8).Skip(alice);
        var skip = room.SingleEvent();
        room.Elapse(2);

        room.Undo(alice, skip).Succeeds();

        Assert.Equal("v1", room.State.CurrentSource!.Id);
        Assert.Equal(8, room.State.PlaybackPosition, 3);
        Assert.Equal(room.Now, room.State.PlaybackAnchor);
        Assert.True(room.State.IsPlaying);
        Assert.Equal(["v2", "v3"], room.QueueIds);
        Assert.Empty(room.Events());
    }

    [Fact]
    public void UndoSkipInLoopModeTakesTheSkippedItemOutOfTheQueue()
    {
        var (room, alice) = RoomWith("v1", "v2");
        room.State = room.State with { QueueMode = QueueMode.Loop };
        room.Skip(alice);
        Assert.Equal(["v1"], room.QueueIds);

        room.Undo(alice, room.SingleEvent()).Succeeds();

        Assert.Equal("v1", room.State.CurrentSource!.Id);
        Assert.Equal(["v2"], room.QueueIds);
    }

    [Fact]
    public void UndoSkipInDjModeKeepsTheCurrentItemOutOfTheQueue()
    {
        var (room, alice) = RoomWith("v1", "v2");
        room.State = room.State with { QueueMode = QueueMode.Dj };
        room.Seek(alice, 30);
        room.Skip(alice);

        room.Undo(alice, room.SingleEvent()).Succeeds();

        Assert.Equal("v1", room.State.CurrentSource!.Id);
        Assert.Equal(30, room.State.PlaybackPosition);
        Assert.Equal(["v2"], room.QueueIds); // §6.1: the queue never holds the current item
    }

    [Fact]
    public void UndoSkipNeedsThePlayNowPermissions()
    {
        var (room, alice) = RoomWith("v1", "v2");
        room.Skip(alice);
        var skip = room.SingleEvent();

        Deny(room, Permissions.PlayNow);
        room.Undo(alice, skip).Fails("PermissionDeniedException", "Permission denied: manage-queue.play-now");
        Deny(room, Permissions.Add);
        room.Undo(alice, skip).Fails("PermissionDeniedException", "Permission denied: manage-queue.add");
    }

    // ----- Add -----

    [Fact]
    public void UndoAddRemovesTheAddedItemsStillQueuedWithRemoveEvents()
    {
        var (room, alice) = RoomWith("v0", "v1");
        room.AddList(alice, "v2", "v3", "v4");
        var add = room.SingleEvent();
        room.Remove(alice, "v3");

        room.Undo(alice, add).Succeeds();

        Assert.Equal(["v1"], room.QueueIds);
        var removes = room.Events();
        Assert.Equal(2, removes.Count);
        Assert.All(removes, e => Assert.Equal(6, e["request"]!["type"]!.GetValue<int>()));
        Assert.Equal(["v2", "v4"], removes.Select(e => e["additional"]!["video"]!["id"]!.GetValue<string>()));
    }

    [Fact]
    public void UndoAddLeavesAnAddedItemThatIsPlaying()
    {
        var (room, alice) = RoomWith(null);
        room.Add(alice, "v1");
        var add = room.SingleEvent();
        Assert.Equal("v1", room.State.CurrentSource!.Id);

        room.Undo(alice, add).Fails("VideoNotFoundException");

        Assert.Equal("v1", room.State.CurrentSource!.Id);
    }

    [Fact]
    public void UndoAddNeedsManageQueueRemove()
    {
        var (room, alice) = RoomWith("v0");
        room.Add(alice, "v1");
        var add = room.SingleEvent();
        Deny(room, Permissions.Remove);

        room.Undo(alice, add).Fails("PermissionDeniedException", "Permission denied: manage-queue.remove");
        Assert.Equal(["v1"], room.QueueIds);
    }

    // ----- Remove -----

    [Fact]
    public void UndoRemoveReinsertsAtTheFormerIndex()
    {
        var (room, alice) = RoomWith("v0", "v1", "v2", "v3");
        room.Remove(alice, "v2");

        room.Undo(alice, room.SingleEvent()).Succeeds();

        Assert.Equal(["v1", "v2", "v3"], room.QueueIds);
        Assert.Empty(room.Events());
    }

    [Fact]
    public void UndoRemoveAppendsWhenTheQueueIsNowShorter()
    {
        var (room, alice) = RoomWith("v0", "v1", "v2", "v3");
        room.Remove(alice, "v3");
        var remove = room.SingleEvent();
        room.Remove(alice, "v1");

        room.Undo(alice, remove).Succeeds();

        Assert.Equal(["v2", "v3"], room.QueueIds);
    }

    [Fact]
    public void UndoRemoveOfAnItemQueuedAgainIsAlreadyQueued()
    {
        var (room, alice) = RoomWith("v0", "v1");
        room.Remove(alice, "v1");
        var remove = room.SingleEvent();
        room.Add(alice, "v1");

        room.Undo(alice, remove).Fails("VideoAlreadyQueuedException");
    }

    [Fact]
    public void UndoRemoveNeedsManageQueueAdd()
    {
        var (room, alice) = RoomWith("v0", "v1");
        room.Remove(alice, "v1");
        var remove = room.SingleEvent();
        Deny(room, Permissions.Add);

        room.Undo(alice, remove).Fails("PermissionDeniedException", "Permission denied: manage-queue.add");
    }

    // ----- tampering and rejections -----

    [Fact]
    public void ATamperedEchoWithAValidIdUndoesTheOriginal()
    {
        var (room, alice) = RoomWith("v0", "v1", "v2");
        room.Remove(alice, "v1");
        var remove = room.SingleEvent();
        remove["additional"] = new JsonObject { ["video"] = TestRoom.Vid("evil"), ["queueIdx"] = 0 };
        remove["request"]!["type"] = 4;

        room.Undo(alice, remove).Succeeds();

        Assert.Equal(["v1", "v2"], room.QueueIds);
    }

    [Fact]
    public void ATamperedSkipOrAddEchoUndoesTheOriginal()
    {
        var (room, alice) = RoomWith("v0", "v1", "v2");
        room.Skip(alice);
        var skip = room.SingleEvent();
        skip["additional"]!["video"] = TestRoom.Vid("evil");
        room.Undo(alice, skip).Succeeds();
        Assert.Equal("v0", room.State.CurrentSource!.Id);

        room.Add(alice, "v3");
        var add = room.SingleEvent();
        add["additional"]!["video"] = TestRoom.Vid("v2");
        room.Undo(alice, add).Succeeds();
        Assert.Equal(["v1", "v2"], room.QueueIds);
    }

    [Fact]
    public void UnknownMissingExpiredAndRepeatedUndosAreBadArguments()
    {
        var (room, alice) = RoomWith("v0");
        room.Seek(alice, 3);
        var first = room.SingleEvent();
        room.Seek(alice, 9);
        var second = room.SingleEvent();

        room.Undo(alice, new JsonObject { ["id"] = "nope" }).Fails("BadApiArgumentException");
        room.Undo(alice, []).Fails("BadApiArgumentException");
        room.Undo(alice, new JsonObject { ["id"] = 5 }).Fails("BadApiArgumentException");

        room.Undo(alice, second).Succeeds();
        var state = room.State;
        room.Undo(alice, second).Fails("BadApiArgumentException");
        Assert.Same(state, room.State);

        for (var i = 0; i < RoomTransitions.KeptEvents; i++)
        {
            room.Seek(alice, i);
        }
        room.Undo(alice, first).Fails("BadApiArgumentException");
        Assert.StartsWith("Bad argument: event:", room.Last.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UndoOfAJoinOrPlaybackEventIsABadArgument()
    {
        var room = new TestRoom().WithMedia("v0");
        var alice = room.Join("alice");
        var join = room.SingleEvent();
        room.Play(alice);
        var play = room.SingleEvent();

        room.Undo(alice, join).Fails("BadApiArgumentException");
        room.Undo(alice, play).Fails("BadApiArgumentException");
        Assert.True(room.State.IsPlaying);
    }

    [Fact]
    public void UndoWithoutAConnectionInTheRoomIsClientNotFound()
    {
        var (room, alice) = RoomWith("v0");
        room.Seek(alice, 3);
        var seek = room.SingleEvent();

        room.Send(TestRoom.Unconnected(), new JsonObject { ["type"] = 12, ["event"] = seek }.ToJsonString())
            .Fails("ClientNotFoundInRoomException");
        Assert.Equal(3, room.State.PlaybackPosition);
    }

    [Fact]
    public void AnyoneMayUndoAnotherUsersEvent()
    {
        var (room, alice) = RoomWith("v0");
        var bob = room.Join("bob");
        room.Seek(alice, 3);
        room.Seek(alice, 30);

        room.Undo(bob, room.SingleEvent()).Succeeds();

        Assert.Equal(3, room.State.PlaybackPosition);
        Assert.Equal("bob", room.SingleEvent()["user"]!["name"]!.GetValue<string>());
    }
}
