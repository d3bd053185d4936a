using Ott.Sync.Protocol;

namespace Ott.Tests.Unit;

public class PlaybackTests
{
    private static (TestRoom Room, string Alice) RoomWithVideo()
    {
        var room = new TestRoom().WithMedia("v1");
        var alice = room.Join("alice");
        return (room, alice);
    }

    [Fact]
    public void PlaySetsIsPlayingAndPlayingTwiceIsHarmless()
    {
        var (room, alice) = RoomWithVideo();

        room.Play(alice).Succeeds();
        Assert.True(room.State.IsPlaying);
        Assert.Equal(TestRoom.T0, room.State.PlaybackAnchor);
        Assert.Equal(2, room.SingleEvent()["request"]!["type"]!.GetValue<int>());

        room.Elapse(3).Play(alice).Succeeds();
        Assert.True(room.State.IsPlaying);
        Assert.Equal(TestRoom.T0, room.State.PlaybackAnchor); // the second play does not restart the clock
        Assert.Equal(3, room.Position, 3);
        Assert.Equal(2, room.SingleEvent()["request"]!["type"]!.GetValue<int>());
    }

    [Fact]
    public void PauseClearsIsPlayingAndPausingTwiceIsHarmless()
    {
        var (room, alice) = RoomWithVideo();
        room.Play(alice);

        room.Elapse(2).Pause(alice).Succeeds();
        Assert.False(room.State.IsPlaying);
        Assert.Null(room.State.PlaybackAnchor);
        Assert.Single(room.Events());

        room.Elapse(2).Pause(alice).Succeeds();
        Assert.False(room.State.IsPlaying);
        Assert.Equal(2, room.State.PlaybackPosition, 3);
        var ev = room.SingleEvent();
        Assert.False(ev["request"]!["state"]!.GetValue<bool>());
        Assert.Equal("{}", ev["additional"]!.ToJsonString());
    }

    [Fact]
    public void PausingAfterFiveSecondsStoresAboutFive()
    {
        var (room, alice) = RoomWithVideo();
        room.Play(alice);

        room.Elapse(5).Pause(alice);

        Assert.True(room.State.PlaybackPosition >= 5);
        Assert.Equal(5, room.State.PlaybackPosition, 3);
        Assert.Equal(5, room.State.ToStorable().PlaybackPosition, 3);
    }

    [Fact]
    public void SeekSetsThePositionAndEmitsThePreviousOne()
    {
        var (room, alice) = RoomWithVideo();
        room.Play(alice);

        room.Elapse(4).Seek(alice, 15).Succeeds();

        Assert.Equal(15, room.State.PlaybackPosition);
        Assert.Equal(room.Now, room.State.PlaybackAnchor);
        var ev = room.SingleEvent();
        Assert.Equal(15, ev["request"]!["value"]!.GetValue<double>());
        Assert.Equal(4, ev["additional"]!["prevPosition"]!.GetValue<double>(), 3);
    }

    [Fact]
    public void SeekWhilePausedAndToANegativePositionIsAccepted()
    {
        var (room, alice) = RoomWithVideo();

        room.Seek(alice, -3).Succeeds();

        Assert.Equal(-3, room.State.PlaybackPosition);
        Assert.False(room.State.IsPlaying);
    }

    [Fact]
    public void SpeedChangesAreAppliedAndSyncedWithTheLivePosition()
    {
        var (room, alice) = RoomWithVideo();
        room.Play(alice);

        room.Elapse(2).Speed(alice, 1.5).Succeeds();
        Assert.Empty(room.Events());
        Assert.Equal(1.5, room.State.PlaybackSpeed);
        Assert.Equal(2, room.State.PlaybackPosition, 3);
        var delta = room.Delta();
        Assert.Equal(1.5, delta["playbackSpeed"]!.GetValue<double>());
        Assert.Equal(2, delta["playbackPosition"]!.GetValue<double>(), 3);

        room.Elapse(2).Speed(alice, 1).Succeeds();
        Assert.Equal(1, room.State.PlaybackSpeed);
        Assert.Equal(5, room.State.PlaybackPosition, 3); // 2 + 2 s × 1.5
        delta = room.Delta();
        Assert.Equal(1, delta["playbackSpeed"]!.GetValue<double>());
        Assert.Equal(5, delta["playbackPosition"]!.GetValue<double>(), 3);
    }

    [Theory]
    [InlineData("play")]
    [InlineData("pause")]
    [InlineData("seek")]
    [InlineData("speed")]
    [InlineData("skip")]
    public void TheSyncAfterAJumpCarriesTheLivePosition(string action)
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        var alice = room.Join("alice");
        if (action != "play")
        {
            room.Play(alice);
        }
        room.Elapse(7);
        switch (action)
        {
            case "play": room.Play(alice); break;
            case "pause": room.Pause(alice); break;
            case "seek": room.Seek(alice, 30); break;
            case "speed": room.Speed(alice, 2); break;
            case "skip": room.Skip(alice); break;
        }

        var delta = room.Delta();

        Assert.Equal("sync", delta["action"]!.GetValue<string>());
        var expected = room.State.LivePosition(room.Now);
        Assert.Equal(expected, delta["playbackPosition"]!.GetValue<double>(), 6);
    }

    [Theory]
    [InlineData(3, 1, 0, 3)]
    [InlineData(60, 1, 0, 60)]
    [InlineData(3, 2, 0, 6)]
    [InlineData(10, 1, 10, 20)]
    public void LivePositionIsBasePlusElapsedTimesSpeed(double elapsed, double speed, double basePosition, double expected)
    {
        var state = RoomState.Create("r", true, TestRoom.T0) with
        {
            IsPlaying = true,
            PlaybackPosition = basePosition,
            PlaybackSpeed = speed,
            PlaybackAnchor = TestRoom.T0,
        };

        Assert.Equal(expected, state.LivePosition(TestRoom.T0.AddSeconds(elapsed)), 6);
    }

    [Fact]
    public void LivePositionWithAnOffsetAndNoTimeIsTheOffset()
    {
        var playing = RoomState.Create("r", true, TestRoom.T0) with { IsPlaying = true, PlaybackPosition = 1, PlaybackAnchor = null };
        var paused = playing with { IsPlaying = false, PlaybackAnchor = TestRoom.T0 };

        Assert.Equal(1, playing.LivePosition(TestRoom.T0.AddSeconds(30)));
        Assert.Equal(1, paused.LivePosition(TestRoom.T0.AddSeconds(30)));
    }

    [Fact]
    public void SpeedReturnsToOneOnSkipAndAtEndOfMedia()
    {
        var room = new TestRoom();
        room.Catalog[new VideoId("direct", "short")] = TestRoom.Item("short", length: 10);
        var alice = room.Join("alice");
        room.AddList(alice, "short", "v2", "v3");
        room.Play(alice);
        room.Speed(alice, 2);

        room.Elapse(5).Tick(); // 10 s of media at 2×
        Assert.Equal("v2", room.State.CurrentSource!.Id);
        Assert.Equal(1, room.State.PlaybackSpeed);

        room.Speed(alice, 1.5);
        room.Skip(alice);
        Assert.Equal("v3", room.State.CurrentSource!.Id);
        Assert.Equal(1, room.State.PlaybackSpeed);
    }

    [Fact]
    public void SpeedIsKeptOnPlayNowUndoAndTheDjRestart()
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        var alice = room.Join("alice");
        room.Speed(alice, 1.5);

        room.PlayNow(alice, "v3").Succeeds();
        Assert.Equal(1.5, room.State.PlaybackSpeed);

        room.Skip(alice);
        var skip = room.SingleEvent();
        room.Speed(alice, 1.25);
        room.Undo(alice, skip).Succeeds();
        Assert.Equal("v3", room.State.CurrentSource!.Id);
        Assert.Equal(1.25, room.State.PlaybackSpeed);

        room.State = room.State with { QueueMode = QueueMode.Dj };
        room.Skip(alice).Succeeds();
        Assert.Equal("v3", room.State.CurrentSource!.Id);
        Assert.Equal(1.25, room.State.PlaybackSpeed);
    }

    [Fact]
    public void SkipWithAnEmptyQueueClearsTheCurrentItem()
    {
        var (room, alice) = RoomWithVideo();
        room.Play(alice);

        room.Elapse(3).Skip(alice).Succeeds();

        Assert.Null(room.State.CurrentSource);
        Assert.False(room.State.IsPlaying);
        Assert.Equal(0, room.State.PlaybackPosition);
        Assert.Null(room.Delta()["currentSource"]!);
        Assert.True(room.Delta().ContainsKey("currentSource"));
    }

    [Fact]
    public void SkipWithOneQueuedItemMakesItCurrentAndEmitsTheSkippedVideoAndPosition()
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        var alice = room.Join("alice");
        room.Play(alice);

        room.Elapse(6).Skip(alice).Succeeds();

        Assert.Equal("direct", room.State.CurrentSource!.Service);
        Assert.Equal("v2", room.State.CurrentSource.Id);
        Assert.Empty(room.State.Queue);
        Assert.True(room.State.IsPlaying);
        Assert.Equal(0, room.Position);
        var additional = room.SingleEvent()["additional"]!;
        Assert.Equal("v1", additional["video"]!["id"]!.GetValue<string>());
        Assert.Equal("Title v1", additional["video"]!["title"]!.GetValue<string>());
        Assert.Equal(6, additional["prevPosition"]!.GetValue<double>(), 3);
    }

    [Fact]
    public void SkipWithNothingCurrentDoesNothingAndEmitsNoEvent()
    {
        var room = new TestRoom();
        var alice = room.Join("alice");
        var before = room.State;

        room.Skip(alice).Succeeds();

        Assert.Same(before, room.State);
        Assert.Empty(room.Last.Outputs);
    }

    [Fact]
    public void SkipClearsSegments()
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        room.State = room.State with { VideoSegments = [new Segment { Uuid = "s", StartTime = 1, EndTime = 2, Category = "sponsor" }] };
        var alice = room.Join("alice");

        room.Skip(alice);

        Assert.Empty(room.State.VideoSegments);
    }
}
