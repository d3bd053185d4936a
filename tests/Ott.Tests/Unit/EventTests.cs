using System.Text.Json.Nodes;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

public class EventTests
{
    [Fact]
    public void EveryEventHasAUniqueStringId()
    {
        var room = new TestRoom();
        var a = room.Join("a");
        var ids = new List<string>();
        void Collect() => ids.AddRange(room.Events().Select(e => e["id"]!.GetValue<string>()));

        Collect();
        room.AddList(a, "v1", "v2", "v3"); Collect();
        room.Play(a); Collect();
        room.Seek(a, 4); Collect();
        room.Skip(a); Collect();
        room.Remove(a, "v3"); Collect();
        room.Edit(a, "v3", "{}");
        room.Run(new JoinCommand(room.NewUser("b"))); Collect();
        room.Run(new LeaveCommand(a)); Collect();

        Assert.Equal(8, ids.Count); // two joins, add, play, seek, skip, remove, leave
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public void NoEventForOrderVotePromoteChatSettingsPlayNowShuffleSpeedRestoreQueueOrKick()
    {
        var room = new TestRoom().WithMedia("v1", "v2", "v3");
        room.State = room.State with { Owner = new RoomOwner(1, "owner"), PrevQueue = [TestRoom.Item("old")] };
        var owner = room.Join("owner", 1);
        var reg = room.Join("reg", 2);

        RoomOutcome[] outcomes =
        [
            room.Order(owner, 0, 1),
            room.Vote(owner, "v2"),
            room.Promote(owner, reg, 2),
            room.Chat(owner, "hi"),
            room.Settings(owner, """{"title":"t"}"""),
            room.PlayNow(owner, "v9"),
            room.Shuffle(owner),
            room.Speed(owner, 2),
            room.RestoreQueue(owner),
            room.Kick(owner, reg),
        ];

        Assert.All(outcomes, o =>
        {
            o.Succeeds();
            Assert.Empty(room.Events(o));
        });
    }

    [Fact]
    public void NoEventForAnActorWithoutAConnection()
    {
        var room = new TestRoom().WithMedia("v1", "v2", "v3");
        room.Join("someone");
        var rest = TestRoom.Unconnected();

        RoomOutcome[] outcomes =
        [
            room.Send(rest, """{"type":5,"video":{"service":"direct","id":"v9"}}"""),
            room.Send(rest, """{"type":6,"video":{"service":"direct","id":"v2"}}"""),
            room.Send(rest, """{"type":19,"video":{"service":"direct","id":"v3"},"update":{}}"""),
            room.Send(rest, """{"type":2,"state":true}"""),
            room.Send(rest, """{"type":4,"value":3}"""),
            room.Send(rest, """{"type":3}"""),
        ];

        Assert.All(outcomes, o =>
        {
            o.Succeeds();
            Assert.DoesNotContain(o.Outputs.OfType<Broadcast>(), b => b.Frame is EventFrame);
        });
        Assert.Equal(["v9"], room.QueueIds);
        Assert.Equal("v3", room.State.CurrentSource!.Id);
        Assert.Single(room.State.RecentEvents); // only the join: nothing to undo for an unconnected caller
    }

    [Fact]
    public void ARestCallerWithAConnectionIsThatConnectionsUser()
    {
        var room = new TestRoom().WithMedia("v1");
        var a = room.Join("alice");
        var session = new Actor(null, room.User(a).SessionKey, "alice", false, null);

        room.Send(session, """{"type":5,"video":{"service":"direct","id":"v2"}}""").Succeeds();

        Assert.Equal(a, room.SingleEvent()["user"]!["id"]!.GetValue<string>());
    }

    [Fact]
    public void AJoinSendsTheHandshakeInOrder()
    {
        var room = new TestRoom();
        room.State = room.State with { IsPlaying = true, PlaybackPosition = 20, PlaybackAnchor = TestRoom.T0, CurrentSource = TestRoom.Item("v1") };
        room.Join("first");
        room.Elapse(10);
        var user = room.NewUser("anon");

        var outputs = room.Run(new JoinCommand(user)).Outputs;

        Assert.Collection(outputs,
            o => Assert.Equal(user.ClientId, Assert.IsType<SendTo>(o) is { Frame: FullSyncFrame } s ? s.ClientId : null),
            o => Assert.Equal(user.ClientId, Assert.IsType<Attach>(o).ClientId),
            o => Assert.IsType<EventFrame>(Assert.IsType<Broadcast>(o).Frame),
            o => Assert.Equal(30, Assert.IsType<PositionSyncFrame>(Assert.IsType<Broadcast>(o).Frame).Position, 3),
            o => Assert.Equal(user.ClientId, Assert.IsType<UserUpdateFrame>(Assert.IsType<Broadcast>(o).Frame).User.Id),
            o => Assert.Equal(2, Assert.IsType<UserInitFrame>(Assert.IsType<SendTo>(o).Frame).Users.Count),
            o => Assert.Equal(user.ClientId, Assert.IsType<YouFrame>(Assert.IsType<SendTo>(o).Frame).ClientId));
        var full = room.Json(((SendTo)outputs[0]).Frame);
        Assert.Equal(30, full["playbackPosition"]!.GetValue<double>(), 2);
        var join = room.SingleEvent();
        Assert.Equal(new JsonObject { ["type"] = 0, ["info"] = new JsonObject { ["id"] = user.ClientId, ["username"] = "anon" } }.ToJsonString(), join["request"]!.ToJsonString());
        Assert.Equal("{}", join["additional"]!.ToJsonString());
    }

    [Fact]
    public void ALoggedInJoinCarriesTheAccountId()
    {
        var room = new TestRoom();

        var id = room.Join("acct", 31);

        var info = room.SingleEvent()["request"]!["info"]!;
        Assert.Equal(id, info["id"]!.GetValue<string>());
        Assert.Equal(31, info["user_id"]!.GetValue<long>());
        Assert.Null(info["username"]);
    }

    [Fact]
    public void ALeaveBroadcastsTheEventWhileListedThenRemovesTheUser()
    {
        var room = new TestRoom();
        var a = room.Join("alice");
        room.Join("bob");

        var outputs = room.Run(new LeaveCommand(a)).Outputs;

        var ev = room.SingleEvent();
        Assert.Equal("""{"type":1}""", ev["request"]!.ToJsonString());
        Assert.Equal("alice", ev["additional"]!["user"]!["name"]!.GetValue<string>());
        Assert.Equal(a, ev["user"]!["id"]!.GetValue<string>());
        Assert.IsType<UserRemoveFrame>(Assert.IsType<Broadcast>(outputs[^1]).Frame);
        Assert.DoesNotContain(room.State.Users, u => u.ClientId == a);
    }

    [Fact]
    public void ChatIsBroadcastWithTheSenderAndIsNeverStored()
    {
        var room = new TestRoom();
        var a = room.Join("alice");
        var before = room.State;

        room.Chat(a, "<b>hi</b>").Succeeds();

        var chat = room.Json(Assert.Single(room.Broadcasts()));
        Assert.Equal("chat", chat["action"]!.GetValue<string>());
        Assert.Equal("alice", chat["from"]!["name"]!.GetValue<string>());
        Assert.Equal("<b>hi</b>", chat["text"]!.GetValue<string>());
        Assert.Same(before, room.State);
    }

    [Fact]
    public void AStatusChangeBroadcastsTheUserUpdate()
    {
        var room = new TestRoom();
        var a = room.Join("alice");

        room.Run(new StatusCommand(a, "buffering")).Succeeds();

        Assert.Equal("buffering", Assert.IsType<UserUpdateFrame>(Assert.Single(room.Broadcasts())).User.Status);
    }

    [Fact]
    public void AFailedRequestProducesNoOutputAtAll()
    {
        var room = new TestRoom().WithMedia("v1", "v2");
        var a = room.Join("alice");
        var before = room.State;

        room.Add(a, "v2").Fails("VideoAlreadyQueuedException");

        Assert.Same(before, room.State);
    }
}
