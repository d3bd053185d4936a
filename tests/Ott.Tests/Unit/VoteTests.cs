using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

public class VoteTests
{
    [Fact]
    public void AVoteForAQueuedItemIsKeyedByServicePlusIdAndSyncedAsPairs()
    {
        var room = new TestRoom().WithMedia("v0", "abc123");
        var voter = room.NewUser("voter") with { ClientId = "1234" };
        room.Run(new JoinCommand(voter));

        room.Vote("1234", "abc123").Succeeds();

        Assert.Equal(["1234"], room.State.Votes["directabc123"]);
        Assert.Equal(1, room.State.VoteCounts["directabc123"]);
        Assert.Equal("""[["directabc123",1]]""", room.Delta()["voteCounts"]!.ToJsonString());
        Assert.Empty(room.Events());
    }

    [Fact]
    public void WithdrawingAVoteRemovesTheVoter()
    {
        var room = new TestRoom().WithMedia("v0", "v1");
        var a = room.Join("a");
        var b = room.Join("b");
        room.Vote(a, "v1");
        room.Vote(b, "v1");

        room.Vote(a, "v1", add: false).Succeeds();

        Assert.Equal([b], room.State.Votes["directv1"]);
        room.Vote(b, "v1", add: false).Succeeds();
        Assert.Equal(0, room.State.VoteCounts["directv1"]);
        Assert.Equal("[]", room.Delta()["voteCounts"]!.ToJsonString());
    }

    [Fact]
    public void AVoteForAnUnqueuedItemIsVideoNotFound()
    {
        var room = new TestRoom().WithMedia("v0", "v1");
        var a = room.Join("a");

        room.Vote(a, "v0").Fails("VideoNotFoundException"); // the current item is not queued
        room.Vote(a, "nope").Fails("VideoNotFoundException");
    }

    [Fact]
    public void AVoteWithoutAConnectionInTheRoomIsClientNotFound()
    {
        var room = new TestRoom().WithMedia("v0", "v1");
        room.Join("a");

        room.Send(TestRoom.Unconnected(), """{"type":8,"video":{"service":"direct","id":"v1"},"add":true}""")
            .Fails("ClientNotFoundInRoomException");
    }

    [Fact]
    public void AnItemsVotesAreClearedWhenItIsPlayed()
    {
        var room = new TestRoom().WithMedia("v0", "v1", "v2");
        var a = room.Join("a");
        room.Vote(a, "v1");
        room.Vote(a, "v2");

        room.Skip(a);
        Assert.False(room.State.Votes.ContainsKey("directv1"));

        room.PlayNow(a, "v2");
        Assert.False(room.State.Votes.ContainsKey("directv2"));
        Assert.Empty(room.State.VoteCounts.Counts);
    }

    [Fact]
    public void AnItemsVotesAreClearedWhenItIsRemoved()
    {
        var room = new TestRoom().WithMedia("v0", "v1");
        var a = room.Join("a");
        room.Vote(a, "v1");

        room.Remove(a, "v1");

        Assert.Empty(room.State.Votes);
    }

    [Fact]
    public void AVoterWhoLeavesInVoteModeLosesTheirVotes()
    {
        var room = new TestRoom().WithMedia("v0", "v1", "v2");
        room.State = room.State with { QueueMode = QueueMode.Vote };
        var a = room.Join("a");
        var b = room.Join("b");
        room.Vote(a, "v2");
        room.Vote(b, "v2");
        room.Vote(a, "v1");

        room.Run(new LeaveCommand(a));

        Assert.Equal([b], room.State.Votes["directv2"]);
        Assert.False(room.State.Votes.ContainsKey("directv1"));
    }

    [Fact]
    public void AVoterWhoLeavesInManualModeKeepsTheirVotes()
    {
        var room = new TestRoom().WithMedia("v0", "v1");
        var a = room.Join("a");
        room.Vote(a, "v1");

        room.Run(new LeaveCommand(a));

        Assert.Equal([a], room.State.Votes["directv1"]);
    }

    // ----- vote-skip -----

    private static (TestRoom Room, string[] Users) VoteSkipRoom(int users)
    {
        var room = new TestRoom().WithMedia("v0", "v1");
        room.State = room.State with { EnableVoteSkip = true };
        return (room, [.. Enumerable.Range(0, users).Select(i => room.Join($"u{i}"))]);
    }

    [Fact]
    public void WithThreeUsersOneSkipRequestDoesNotSkipAndTwoDo()
    {
        var (room, users) = VoteSkipRoom(3);

        room.Skip(users[0]).Succeeds();
        Assert.Equal("v0", room.State.CurrentSource!.Id);
        Assert.Equal([users[0]], room.State.VotesToSkip);
        Assert.Empty(room.Events());
        Assert.Equal($"[\"{users[0]}\"]", room.Delta()["votesToSkip"]!.ToJsonString());

        room.Skip(users[1]).Succeeds();
        Assert.Equal("v1", room.State.CurrentSource!.Id);
        Assert.Empty(room.State.VotesToSkip);
        Assert.Single(room.Events());
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(4, 2)]
    [InlineData(5, 3)]
    [InlineData(6, 3)]
    [InlineData(7, 4)]
    [InlineData(8, 4)]
    [InlineData(9, 5)]
    [InlineData(10, 5)]
    [InlineData(11, 6)]
    [InlineData(12, 6)]
    [InlineData(13, 7)]
    [InlineData(14, 7)]
    [InlineData(15, 8)]
    [InlineData(16, 8)]
    public void TheSkipThresholdIsHalfTheEligibleUsersRoundedUp(int eligible, int threshold)
    {
        Assert.Equal(threshold, RoomTransitions.SkipThreshold(eligible));

        var (room, users) = VoteSkipRoom(eligible);
        for (var i = 0; i < threshold - 1; i++)
        {
            room.Skip(users[i]);
            Assert.Equal("v0", room.State.CurrentSource!.Id);
        }
        room.Skip(users[threshold - 1]);
        Assert.Equal("v1", room.State.CurrentSource!.Id);
    }

    [Fact]
    public void OnlyUsersWithSkipPermissionAreEligible()
    {
        var room = new TestRoom().WithMedia("v0", "v1");
        var registeredOnly = Grants.Default.With(new Dictionary<Role, int>
        {
            [Role.Unregistered] = Grants.Default[Role.Unregistered] & ~Permissions.Mask(Permissions.Skip),
            [Role.Registered] = Permissions.Mask(Permissions.Skip),
        });
        room.State = room.State with { EnableVoteSkip = true, Grants = registeredOnly };
        var a = room.Join("a", accountId: 1);
        room.Join("b", accountId: 2);
        for (var i = 0; i < 4; i++)
        {
            room.Join($"anon{i}");
        }

        room.Skip(a).Succeeds(); // 2 eligible → threshold 1

        Assert.Equal("v1", room.State.CurrentSource!.Id);
    }

    [Fact]
    public void ASecondSkipRequestWithdrawsTheVote()
    {
        var (room, users) = VoteSkipRoom(3);

        room.Skip(users[0]);
        room.Skip(users[0]);

        Assert.Empty(room.State.VotesToSkip);
        Assert.Equal("v0", room.State.CurrentSource!.Id);
    }

    [Fact]
    public void ALeaversSkipVoteIsRemoved()
    {
        var (room, users) = VoteSkipRoom(5);
        room.Skip(users[0]);
        room.Skip(users[1]);
        Assert.Equal([users[0], users[1]], room.State.VotesToSkip);

        room.Run(new LeaveCommand(users[1]));

        Assert.Equal([users[0]], room.State.VotesToSkip);
        Assert.Equal("v0", room.State.CurrentSource!.Id);
    }
}
