using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

public class RestoreQueueTests
{
    private static TestRoom RoomWithPrevQueue(params string[] prev)
    {
        var room = new TestRoom(isTemporary: false);
        room.State = room.State with { PrevQueue = [.. prev.Select(id => TestRoom.Item(id))] };
        return room;
    }

    [Fact]
    public void RestoreQueueWithoutDiscardRestoresTheOldQueueAndClearsPrevQueue()
    {
        var room = RoomWithPrevQueue("v1", "v2", "v3").WithMedia("v0");
        var a = room.Join("a");

        room.RestoreQueue(a).Succeeds();

        Assert.Equal(["v1", "v2", "v3"], room.QueueIds);
        Assert.Null(room.State.PrevQueue);
        Assert.Empty(room.Events());
        var delta = room.Delta();
        Assert.True(delta.ContainsKey("queue"));
        Assert.Null(delta["prevQueue"]);
    }

    [Fact]
    public void RestoreQueueSkipsItemsAlreadyPresent()
    {
        var room = RoomWithPrevQueue("v0", "v1", "v2").WithMedia("v0", "v2");
        var a = room.Join("a");

        room.RestoreQueue(a, discard: false).Succeeds();

        Assert.Equal(["v2", "v1"], room.QueueIds);
    }

    [Fact]
    public void RestoreQueueWithDiscardEmptiesPrevQueueAndLeavesTheQueue()
    {
        var room = RoomWithPrevQueue("v1", "v2");
        var a = room.Join("a");

        room.RestoreQueue(a, discard: true).Succeeds();

        Assert.Empty(room.State.Queue);
        Assert.Null(room.State.CurrentSource);
        Assert.Null(room.State.PrevQueue);
    }

    [Fact]
    public void RestoreQueueWithNothingToRestoreIsABadArgument()
    {
        var room = new TestRoom();
        var a = room.Join("a");

        room.RestoreQueue(a).Fails("BadApiArgumentException", "Bad argument: prevQueue: No previous queue to restore");
    }

    [Fact]
    public void OnLoadAlwaysMovesPrevQueueIntoAnEmptyQueue()
    {
        var state = RoomWithPrevQueue("v1", "v2", "v3").State with { RestoreQueueBehavior = RestoreQueueBehavior.Always };

        var loaded = RoomTransitions.OnLoad(state, TestRoom.T0, new TestRoom().Ctx);

        Assert.Null(loaded.PrevQueue);
        // Something queued and nothing current: the first item becomes current, paused (§6.8).
        Assert.Equal("v1", loaded.CurrentSource!.Id);
        Assert.False(loaded.IsPlaying);
        Assert.Equal(["v2", "v3"], loaded.Queue.Select(i => i.Id));
    }

    [Fact]
    public void OnLoadAlwaysNeverReplacesAnExistingQueue()
    {
        var state = RoomWithPrevQueue("v1", "v2").WithMedia("v0", "v9").State with { RestoreQueueBehavior = RestoreQueueBehavior.Always };

        var loaded = RoomTransitions.OnLoad(state, TestRoom.T0, new TestRoom().Ctx);

        Assert.Equal(["v9"], loaded.Queue.Select(i => i.Id));
        Assert.Equal("v0", loaded.CurrentSource!.Id);
    }

    [Fact]
    public void OnLoadNeverClearsPrevQueueAndLeavesTheQueueEmpty()
    {
        var state = RoomWithPrevQueue("v1", "v2").State with { RestoreQueueBehavior = RestoreQueueBehavior.Never };

        var loaded = RoomTransitions.OnLoad(state, TestRoom.T0, new TestRoom().Ctx);

        Assert.Null(loaded.PrevQueue);
        Assert.Empty(loaded.Queue);
        Assert.Null(loaded.CurrentSource);
    }

    [Fact]
    public void OnLoadPromptKeepsPrevQueue()
    {
        var state = RoomWithPrevQueue("v1", "v2").State;

        var loaded = RoomTransitions.OnLoad(state, TestRoom.T0, new TestRoom().Ctx);

        Assert.Equal(["v1", "v2"], loaded.PrevQueue!.Select(i => i.Id));
        Assert.Empty(loaded.Queue);
    }

    [Fact]
    public void TheRestFormStoresTheCurrentItemWithStartAtFollowedByTheQueue()
    {
        var room = new TestRoom(isTemporary: false).WithMedia("v1", "v2", "v3");
        var a = room.Join("a");
        room.Play(a);
        room.Speed(a, 2);
        room.Elapse(10);

        var rest = RoomTransitions.ToRestForm(room.State, room.Now);

        Assert.Equal(["v1", "v2", "v3"], rest.PrevQueue!.Select(i => i.Id));
        Assert.Equal(20, rest.PrevQueue![0].StartAt!.Value, 3);
        Assert.Null(rest.CurrentSource);
        Assert.Empty(rest.Queue);
        Assert.False(rest.IsPlaying);
        Assert.Equal(0, rest.PlaybackPosition);
        Assert.Null(rest.PlaybackAnchor);
        Assert.Equal(1, rest.PlaybackSpeed);
        Assert.Empty(rest.VideoSegments);
        Assert.Equal(room.State.Grants, rest.Grants);
    }

    [Fact]
    public void TheRestFormWithNothingCurrentOrQueuedStoresNullAndReloadsAsNull()
    {
        var room = new TestRoom(isTemporary: false);
        room.State = room.State with { PrevQueue = [TestRoom.Item("stale")] };

        var rest = RoomTransitions.ToRestForm(room.State, room.Now);
        var reloaded = RoomTransitions.OnLoad(rest.ToStorable().FromStorable(), room.Now, room.Ctx);

        Assert.Null(rest.PrevQueue);
        Assert.Null(reloaded.PrevQueue);
    }
}
