using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

// A gateway's rejoin (docs/architecture.md §9.6).
public sealed class RejoinTests
{
    private static RoomUser Guest(string id, string gateway) => new(id, "s-" + id, id, false, null, "none", gateway);

    [Fact]
    public void ARejoinOfManyUsersWritesOneFullSyncAndOneUserListForAllOfThem()
    {
        var room = new TestRoom();
        var users = Enumerable.Range(0, 50).Select(i => Guest($"c{i}", "gw")).ToList();

        var outcome = room.Run(new RejoinCommand("gw", [.. users]));

        Assert.Null(outcome.Error);
        var many = outcome.Outputs.OfType<SendToMany>().ToList();
        Assert.Equal(2, many.Count); // one full sync, one user list: not 50 of each (O(N) bytes, not O(N²))
        Assert.IsType<FullSyncFrame>(many[0].Frame);
        Assert.IsType<UserInitFrame>(many[1].Frame);
        Assert.All(many, m => Assert.Equal(users.Select(u => u.ClientId), m.ClientIds));
        Assert.Empty(outcome.Outputs.OfType<SendTo>());
        Assert.Equal(50, outcome.Outputs.OfType<Attach>().Count());
        Assert.Equal(50, room.State.Users.Count);
    }

    [Fact]
    public void AnEmptyRejoinRemovesThatGatewaysUsersOnly()
    {
        var room = new TestRoom();
        room.Run(new RejoinCommand("gw", [Guest("ghost", "gw")]));
        room.Run(new RejoinCommand("other", [Guest("stays", "other")]));

        var outcome = room.Run(new RejoinCommand("gw", []));

        Assert.Null(outcome.Error);
        Assert.Equal(["stays"], room.State.Users.Select(u => u.ClientId));
        Assert.Empty(outcome.Outputs.OfType<SendToMany>());
    }
}
