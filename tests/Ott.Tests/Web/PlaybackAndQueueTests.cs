using System.Diagnostics;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;
using static Ott.Tests.Infrastructure.Web.RoomFlow;

namespace Ott.Tests.Web;

// docs/protocol.md §11 "Playback and queue", end to end over sockets and REST.
public sealed class PlaybackAndQueueTests(ProbedApplication app) : IClassFixture<ProbedApplication>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private async Task<(string Room, OttTestClient Client)> RoomWithItemAsync(string name)
    {
        var room = await app.CreateRoomAsync(ct: Ct);
        var client = await app.JoinAsync(room, ct: Ct);
        await app.AddAsync(room, client.Token!, new JsonObject { ["url"] = Direct(name) }, Ct);
        await client.SyncAsync(s => s.CurrentId() == Direct(name), Ct);
        return (room, client);
    }

    [Fact]
    public async Task PlayAndPauseEachEmitAPlaybackEventAndSyncTheLivePosition()
    {
        var (_, a) = await RoomWithItemAsync("play");
        await using var _ = a;

        await a.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true }, Ct);
        Assert.True((await a.EventAsync(2, Ct))["request"]!["state"]!.GetValue<bool>());
        var playing = await a.SyncAsync(s => s["isPlaying"]?.GetValue<bool>() == true, Ct);
        Assert.True(playing.Has("playbackPosition"));

        // Playing twice is harmless and still emits an event.
        await a.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true }, Ct);
        await a.EventAsync(2, Ct);

        await a.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = false }, Ct);
        Assert.False((await a.EventAsync(2, Ct))["request"]!["state"]!.GetValue<bool>());
        var paused = await a.SyncAsync(s => s["isPlaying"]?.GetValue<bool>() == false, Ct);
        Assert.True(paused.Position() > 0, paused.ToJsonString());

        await a.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = false }, Ct);
        await a.EventAsync(2, Ct);
    }

    [Fact]
    public async Task SeekSetsThePositionAndEmitsThePreviousOne()
    {
        var (_, a) = await RoomWithItemAsync("seek");
        await using var _ = a;

        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 5 }, Ct);
        await a.SyncAsync(s => s.Has("playbackPosition") && s.Position() == 5, Ct);
        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 15 }, Ct);

        var seek = await a.WaitForAsync(m => m.Action() == "event" && m["request"]!["type"]!.GetValue<int>() == 4
            && m["request"]!["value"]!.GetValue<double>() == 15, ct: Ct);
        Assert.Equal(5, seek["additional"]!["prevPosition"]!.GetValue<double>());
        Assert.Equal(15, (await a.SyncAsync(s => s.Has("playbackPosition"), Ct)).Position());
    }

    [Fact]
    public async Task SpeedChangesAreSyncedTogetherWithThePosition()
    {
        var (_, a) = await RoomWithItemAsync("speed");
        await using var _ = a;
        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 10 }, Ct);

        await a.RequestAsync(new JsonObject { ["type"] = 16, ["speed"] = 1.5 }, Ct);
        var fast = await a.SyncAsync(s => s["playbackSpeed"]?.GetValue<double>() == 1.5, Ct);
        Assert.Equal(10, fast.Position());

        await a.RequestAsync(new JsonObject { ["type"] = 16, ["speed"] = 1 }, Ct);
        var normal = await a.SyncAsync(s => s["playbackSpeed"]?.GetValue<double>() == 1, Ct);
        Assert.Equal(10, normal.Position());
        Assert.DoesNotContain(a.Messages, m => m.Action() == "event" && m["request"]!["type"]!.GetValue<int>() == 16);
    }

    [Fact]
    public async Task AddsOverTheSocketAndRestQueueAndTheFirstBecomesCurrentAndPaused()
    {
        var room = await app.CreateRoomAsync(ct: Ct);
        await using var a = await app.JoinAsync(room, ct: Ct);

        await a.RequestAsync(new JsonObject { ["type"] = 5, ["url"] = Direct("first") }, Ct);
        var added = await a.EventAsync(5, Ct);
        Assert.True(added["request"]?["url"] is not null && added["additional"]?["video"] is not null, added.ToJsonString());
        Assert.Equal(Direct("first"), added["request"]!["url"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(Video(Direct("first")), added["request"]!["video"]));
        Assert.Equal("video/mp4", added["additional"]!["video"]!["mime"]!.GetValue<string>());
        var current = await a.SyncAsync(s => s.CurrentId() is not null, Ct);
        Assert.Equal(Direct("first"), current.CurrentId());
        Assert.True(current.Has("playbackPosition"));
        Assert.False(current["isPlaying"]?.GetValue<bool>() ?? false); // absent: unchanged since the full sync
        Assert.False(app.Rooms.Loaded(room)!.State.IsPlaying);

        await app.AddAsync(room, a.Token!, Video(Direct("second")), Ct);
        Assert.Equal(Direct("second"), (await a.EventAsync(5, Ct))["additional"]!["video"]!["id"]!.GetValue<string>());
        var queued = await a.SyncAsync(s => s.Has("queue") && s.QueueIds().Count == 1, Ct);
        Assert.Equal([Direct("second")], queued.QueueIds());
    }

    [Fact]
    public async Task AListAddEventKeepsRequestVideosAsSent()
    {
        var (room, a) = await RoomWithItemAsync("listcurrent");
        await using var _ = a;
        var videos = new JsonArray(Video(Direct("listcurrent")), Video(Direct("l1")), Video(Direct("l2")), Video(Direct("l1")));

        await app.AddAsync(room, a.Token!, new JsonObject { ["videos"] = videos.DeepClone() }, Ct);

        var added = await a.WaitForAsync(m => m.Action() == "event" && m["request"]!["videos"] is not null, ct: Ct);
        Assert.True(JsonNode.DeepEquals(videos, added["request"]!["videos"]), added.ToJsonString());
        Assert.Equal([Direct("l1"), Direct("l2")],
            added["additional"]!["videos"]!.AsArray().Select(v => v!["id"]!.GetValue<string>()));
        Assert.Equal([Direct("l1"), Direct("l2")], (await a.SyncAsync(s => s.Has("queue"), Ct)).QueueIds());
    }

    [Fact]
    public async Task PlayNowOfAWholeQueueItemPlaysItFromZeroAndQueuesTheOldItemWithItsPosition()
    {
        var (room, a) = await RoomWithItemAsync("nowcurrent");
        await using var _ = a;
        await app.AddAsync(room, a.Token!, Video(Direct("nowqueued")), Ct);
        var queued = await a.SyncAsync(s => s.Has("queue") && s.QueueIds().Count == 1, Ct);
        await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 7 }, Ct);
        await a.SyncAsync(s => s.Has("playbackPosition") && s.Position() == 7, Ct);

        // The OTT client sends the whole queue item, with fields the request does not list.
        var item = queued["queue"]![0]!.DeepClone().AsObject();
        item["startAt"] = 30;
        item["highlight"] = true;
        item["subtitleUrl"] = "";
        await a.RequestAsync(new JsonObject { ["type"] = 14, ["video"] = item }, Ct);

        var now = await a.SyncAsync(s => s.CurrentId() == Direct("nowqueued"), Ct);
        Assert.Equal(0, now.Position());
        Assert.Null(now["currentSource"]!["startAt"]);
        Assert.Equal([Direct("nowcurrent")], now.QueueIds());
        Assert.Equal(7, now["queue"]![0]!["startAt"]!.GetValue<double>());
        Assert.DoesNotContain(a.Messages, m => m.Action() == "error");
    }

    [Fact]
    public async Task AnItemReachingItsLengthWhilePlayingAdvancesWithinAboutASecond()
    {
        var (room, a) = await RoomWithItemAsync("short-end");
        await using var _ = a;
        await app.AddAsync(room, a.Token!, Video(Direct("next")), Ct);
        await a.SyncAsync(s => s.Has("queue") && s.QueueIds().Count == 1, Ct);
        await a.RequestAsync(new JsonObject { ["type"] = 16, ["speed"] = 2 }, Ct);
        await a.SyncAsync(s => s["playbackSpeed"]?.GetValue<double>() == 2, Ct);

        var started = Stopwatch.StartNew();
        await a.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true }, Ct);
        var advanced = await a.SyncAsync(s => s.CurrentId() == Direct("next"), Ct);

        // Length 1 s at speed 2 ends after 0.5 s; the tick runs every second.
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(3), $"advanced after {started.Elapsed}");
        Assert.Equal(1, advanced["playbackSpeed"]!.GetValue<double>());
        Assert.InRange(advanced.Position(), 0, 0.5);
        Assert.True(advanced["isPlaying"]?.GetValue<bool>() ?? true);
        Assert.Empty(advanced.QueueIds());
    }

    [Fact]
    public async Task AnItemWithoutLengthNeverAdvancesByItself()
    {
        var (_, endless) = await RoomWithItemAsync("endless");
        await using var _ = endless;
        var (controlRoom, control) = await RoomWithItemAsync("short-a");
        await using var __ = control;
        await app.AddAsync(controlRoom, control.Token!, Video(Direct("short-b")), Ct);
        await control.SyncAsync(s => s.Has("queue") && s.QueueIds().Count == 1, Ct);

        await endless.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true }, Ct);
        await endless.SyncAsync(s => s["isPlaying"]?.GetValue<bool>() == true, Ct);
        await control.RequestAsync(new JsonObject { ["type"] = 2, ["state"] = true }, Ct);

        // The control room plays two 1 s items to their end; the endless room, playing longer, stays put.
        await control.SyncAsync(s => s.Has("currentSource") && s["currentSource"] is null, Ct);
        var live = app.Rooms.Loaded(endless.Messages[0]["name"]!.GetValue<string>())!.State;
        Assert.Equal(Direct("endless"), live.CurrentSource?.Id);
        Assert.True(live.IsPlaying);
        Assert.DoesNotContain(endless.Messages, m => m.Action() == "sync" && m["currentSource"] is not null && m.CurrentId() != Direct("endless"));
    }
}
