using System.Text;
using Ott.Sync.Connections;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

// The gateway side's rules for an owner's released batches (docs/architecture.md §9.5): seq order within an
// epoch, stale epochs dropped, a gap or a new owner asks for a rejoin, broadcasts reach attached clients only.
public sealed class GatewayRoomTests
{
    private sealed class FakeClient(string id) : IRoomClient
    {
        public List<string> Received { get; } = [];
        public (int Code, string Reason)? Closed { get; private set; }
        public string ClientId => id;
        public RoomUser? User => null;
        public bool IsClosing => Closed is not null;
        public void Send(ReadOnlyMemory<byte> frame) => Received.Add(Encoding.UTF8.GetString(frame.Span));
        public void Close(int code, string reason) => Closed = (code, reason);
    }

    private static WrittenFrame Frame(string text) => new(Encoding.UTF8.GetBytes($$"""{"action":"{{text}}"}"""));

    private static RoomDelivery Batch(long epoch, long seq, params RoomOutput[] ops) => new("room", epoch, seq, ops);

    private static (GatewayRoom Room, FakeClient A, FakeClient B) Joined()
    {
        var room = new GatewayRoom("room");
        var a = new FakeClient("a");
        var b = new FakeClient("b");
        room.TryAdd(a);
        room.TryAdd(b);
        Assert.False(room.Apply(Batch(1, 1, new Attach("a"), new Attach("b")), "owner-1"));
        return (room, a, b);
    }

    [Fact]
    public void BroadcastsReachOnlyAttachedClientsInReleaseOrder()
    {
        var room = new GatewayRoom("room");
        var a = new FakeClient("a");
        var joining = new FakeClient("j");
        room.TryAdd(a);
        room.TryAdd(joining);

        room.Apply(Batch(1, 1, new Attach("a"), new Broadcast(Frame("one")), new SendTo("j", Frame("sync")), new Attach("j"), new Broadcast(Frame("two"))), "o");

        Assert.Equal(["""{"action":"one"}""", """{"action":"two"}"""], a.Received);
        Assert.Equal(["""{"action":"sync"}""", """{"action":"two"}"""], joining.Received);
    }

    [Fact]
    public void AnAlreadyAppliedSeqIsDroppedAndAGapAsksForARejoin()
    {
        var (room, a, _) = Joined();

        Assert.False(room.Apply(Batch(1, 2, new Broadcast(Frame("two"))), "o"));
        Assert.False(room.Apply(Batch(1, 2, new Broadcast(Frame("two-again"))), "o"));
        Assert.True(room.Apply(Batch(1, 4, new Broadcast(Frame("four"))), "o")); // seq 3 was missed

        Assert.Equal(["""{"action":"two"}""", """{"action":"four"}"""], a.Received);
    }

    [Fact]
    public void AStaleEpochIsDroppedAndANewOneAsksForARejoin()
    {
        var (room, a, _) = Joined();
        Assert.True(room.OwnerChanged(2, "owner-2"));

        Assert.False(room.Apply(Batch(1, 2, new Broadcast(Frame("old owner"))), "owner-1"));
        Assert.False(room.Apply(Batch(2, 1, new Broadcast(Frame("new owner"))), "owner-2"));
        Assert.False(room.OwnerChanged(1, "owner-1"));

        Assert.Equal(["""{"action":"new owner"}"""], a.Received);
        Assert.Equal("owner-2", room.Owner);
        Assert.Equal(2, room.Epoch);
    }

    [Fact]
    public void AManyTargetFrameReachesEachNamedClientOnce()
    {
        var (room, a, b) = Joined();
        var c = new FakeClient("c");
        room.TryAdd(c);

        room.Apply(Batch(1, 2, new SendToMany(["a", "c", "gone"], Frame("sync"))), "o");

        Assert.Equal(["""{"action":"sync"}"""], a.Received);
        Assert.Empty(b.Received);
        Assert.Equal(["""{"action":"sync"}"""], c.Received);
    }

    [Fact]
    public void AnOwnerDroppingAClientStillHereAsksForARejoin()
    {
        var (room, a, b) = Joined();
        b.Close(1000, "");

        Assert.False(room.Apply(Batch(1, 2, new Detach("b")), "o")); // b left by closing: nothing to repair
        Assert.True(room.Apply(Batch(1, 3, new Detach("a")), "o"));   // a is still connected here
        Assert.Null(a.Closed);
    }

    [Fact]
    public void ABatchCrossesTheBusAsTheSameOutputs()
    {
        var sent = Batch(3, 7, new Broadcast(Frame("b")), new SendTo("a", Frame("s")), new SendToMany(["a", "b"], Frame("m")),
            new Attach("a"), new Detach("b"), new CloseClient("c", 4005, "kicked"));
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            sent.WritePayload(w);
        }
        using var doc = System.Text.Json.JsonDocument.Parse(buffer.WrittenMemory);

        var read = RoomDelivery.ReadOps(doc.RootElement);

        Assert.Equal(sent.Ops.Count, read.Count);
        Assert.Equal(Encoding.UTF8.GetString(RoomDelivery.Bytes(((SendToMany)sent.Ops[2]).Frame)), Encoding.UTF8.GetString(RoomDelivery.Bytes(((SendToMany)read[2]).Frame)));
        Assert.Equal(["a", "b"], ((SendToMany)read[2]).ClientIds.ToArray());
        Assert.Equal(new CloseClient("c", 4005, "kicked"), read[5]);
        Assert.Equal(sent.Ops.Select(o => o.GetType()), read.Select(o => o.GetType()));
    }
}
