using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Tests.Unit;

/// <summary>
/// What writing a frame costs the heap (docs/architecture.md §13): a room writes each released frame once, into a
/// per-thread scratch buffer and writer, so the frame's own bytes are all it allocates, and a batch whose delta
/// sync says nothing (every chat) writes no frame at all. Counted on this thread only, so other tests running
/// beside it cannot disturb the count.
/// </summary>
public sealed class FrameCostTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Rounds = 1000;

    private static readonly ChatFrame Chat = new(
        new RoomUserInfo("client-0123456789", "Some Viewer With A Long Name", IsLoggedIn: true, "ready", Role.Registered),
        "a chat line long enough that the frame outgrows a small first buffer: " + new string('x', 300));

    private static long AllocatedPerRound(Action write)
    {
        write(); // warm up: the thread's scratch and the JIT
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Rounds; i++)
        {
            write();
        }
        return (GC.GetAllocatedBytesForCurrentThread() - before) / Rounds;
    }

    [Fact]
    public void AWrittenFrameAllocatesOnlyItsOwnBytes()
    {
        var length = FrameWriter.Write(Chat).Length;

        var perFrame = AllocatedPerRound(() => FrameWriter.Write(Chat));

        // The byte[] itself: its length plus the array header (24 bytes), rounded to 8. Measured: 544 bytes for this
        // 513-byte frame; 3,192 with a buffer and writer per frame (the buffer grown twice, the writer, the copy).
        output.WriteLine($"frame {length} bytes, allocated {perFrame}");
        Assert.InRange(perFrame, length, length + 32);
    }

    [Fact]
    public void ADeltaSyncThatSaysNothingWritesNoBytes()
    {
        var before = RoomState.Create("room", isTemporary: true, TestRoom.T0);
        // A change no client sees (what a chat's batch leaves behind): no delta frame.
        var after = before with { LastActiveAt = TestRoom.T0.AddSeconds(1) };
        Assert.Null(SyncFrameWriter.WriteDeltaOrNull(before, after, TestRoom.T0));

        var perBatch = AllocatedPerRound(() => SyncFrameWriter.WriteDeltaOrNull(before, after, TestRoom.T0));

        // Left: the two syncable views compared, the boxed values of their value-typed properties and the
        // playback bases. Measured: 952 bytes, the views 272 of them; 1,536 with a buffer and writer per batch
        // and the live view computed whether or not it was written.
        var views = AllocatedPerRound(() => { _ = before.ToSyncable(); _ = after.ToSyncable(); });
        output.WriteLine($"delta {perBatch}, views {views}");
        Assert.InRange(perBatch, 0, views + 800);
    }
}
