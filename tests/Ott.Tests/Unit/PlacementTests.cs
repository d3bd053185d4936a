using Ott.Sync.Cluster;

namespace Ott.Tests.Unit;

// docs/architecture.md §7.1: rendezvous hashing decides which node tries to own a room.
public sealed class PlacementTests
{
    private static readonly string[] Nodes = ["web-1-0b7d11aa", "web-2-77c0ffee", "web-3-12345678"];
    private static readonly List<string> Rooms = [.. Enumerable.Range(0, 3000).Select(i => $"room-{i}")];

    [Fact]
    public void EveryNodeAgreesWhateverOrderItListsTheNodesIn()
    {
        foreach (var room in Rooms.Take(200))
        {
            Assert.Equal(Placement.Preferred(room, Nodes), Placement.Preferred(room, Nodes.Reverse()));
        }
    }

    [Fact]
    public void TheScoreIsAStableFunctionOfRoomAndNodeNotOfTheProcess()
    {
        // XxHash64 with seed 0 of "a\0b"; string.GetHashCode would differ per process.
        Assert.Equal(System.IO.Hashing.XxHash64.HashToUInt64("a\0b"u8), Placement.Score("a", "b"));
        Assert.NotEqual(Placement.Score("ab", "c"), Placement.Score("a", "bc"));
    }

    [Fact]
    public void RoomsSpreadEvenlyAndRemovingANodeMovesOnlyItsRooms()
    {
        var before = Rooms.ToDictionary(r => r, r => Placement.Preferred(r, Nodes)!);
        foreach (var node in Nodes)
        {
            var share = before.Values.Count(n => n == node) / (double)Rooms.Count;
            Assert.InRange(share, 0.28, 0.39);
        }

        var remaining = Nodes.Where(n => n != Nodes[1]).ToList();
        foreach (var room in Rooms)
        {
            var after = Placement.Preferred(room, remaining);
            if (before[room] != Nodes[1])
            {
                Assert.Equal(before[room], after);
            }
        }
    }

    [Fact]
    public void NoNodesMeansNoPreference() => Assert.Null(Placement.Preferred("room", []));
}
