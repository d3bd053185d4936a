using System.Buffers;
using System.Collections.Immutable;
using System.Text.Json;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

// The test-only API's room commands (docs/protocol.md §4.5): seeding prevQueue and force-disconnect.
public class TestingCommandTests
{
    [Fact]
    public void SeedingReplacesPrevQueueAndSyncsIt()
    {
        var room = new TestRoom(isTemporary: false);
        room.Join("a");

        room.Run(new SeedPrevQueueCommand([TestRoom.Item("p1", 100), TestRoom.Item("p2", 100)])).Succeeds();

        Assert.Equal(["p1", "p2"], room.State.PrevQueue!.Select(i => i.Id));
        Assert.Equal(2, room.Delta()["prevQueue"]!.AsArray().Count);
    }

    [Fact]
    public void DisconnectClosesTheSessionsFirstConnectionOnly()
    {
        var room = new TestRoom();
        var first = room.Join("a");
        var sameSession = room.NewUser("a") with { SessionKey = room.User(first).SessionKey };
        room.Run(new JoinCommand(sameSession)).Succeeds();

        var outcome = room.Run(new DisconnectSessionCommand(room.User(first).SessionKey, 1000, "force-disconnect"));

        outcome.Succeeds();
        Assert.Equal([new CloseClient(first, 1000, "force-disconnect")], outcome.Outputs);
        // The user goes when its socket's Leave arrives, as after any close.
        Assert.Equal(2, room.State.Users.Count);
    }

    [Fact]
    public void DisconnectOfASessionWithNoConnectionIsClientNotFound()
    {
        var room = new TestRoom();
        room.Join("a");

        room.Run(new DisconnectSessionCommand("no-such-session", 1000, "force-disconnect")).Fails("ClientNotFoundInRoomException");
    }

    [Fact]
    public void BothCommandsTravelToARemoteOwnerUnchanged()
    {
        var items = ImmutableList.Create(TestRoom.Item("p1", 100) with { Title = "P 1", Mime = "video/mp4" });
        var seed = RoundTrip(new SeedPrevQueueCommand(items));
        Assert.Equal(items, Assert.IsType<SeedPrevQueueCommand>(seed).Items);

        var disconnect = RoundTrip(new DisconnectSessionCommand("key", 1000, "force-disconnect"));
        Assert.Equal(new DisconnectSessionCommand("key", 1000, "force-disconnect"), disconnect);
    }

    private static RoomCommand RoundTrip(RoomCommand command)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            CommandCodec.Write(w, command);
        }
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        return CommandCodec.Read(doc.RootElement, null);
    }
}
