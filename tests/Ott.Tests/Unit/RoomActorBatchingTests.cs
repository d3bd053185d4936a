using Ott.Sync.Protocol;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Unit;

// The actor's batch loop (docs/architecture.md §7.5) against a real Redis on fake time: while one batch's fenced
// write is held in Redis, later commands wait in the mailbox and are then applied as one batch; nobody
// hears back, and nothing is released, before the write is done.
public sealed class RoomActorBatchingTests(PausableRedis redis) : IClassFixture<PausableRedis>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    [Fact]
    public async Task CommandsPostedDuringAWriteAreAppliedTogetherAfterIt()
    {
        var (patient, _) = redis.NewStores();
        await using var room = await ActorHarness.StartAsync(patient, patient, Ct);
        var alice = room.NewUser("alice");
        Assert.Null(await room.Actor.SendAsync(new Sync.Rooms.JoinCommand(alice), Ct));
        Assert.Single(room.Fanout.Deliveries);

        Task<OttFailure?> first;
        Task<OttFailure?>[] rest;
        await redis.PauseWritesAsync();
        try
        {
            first = room.Actor.SendAsync(ActorHarness.Add(alice, "v1"), Ct);
            await redis.WaitUntilACommandIsHeldAsync();

            // The first batch is applied and its write sent, but held: no reply, nothing released.
            Assert.False(first.IsCompleted);
            Assert.Single(room.Fanout.Deliveries);

            rest =
            [
                room.Actor.SendAsync(ActorHarness.Chat(alice, "a"), Ct),
                room.Actor.SendAsync(ActorHarness.Add(alice, "v2"), Ct),
                room.Actor.SendAsync(ActorHarness.Add(alice, "v1"), Ct), // v1 plays by now: rejected
                room.Actor.SendAsync(ActorHarness.Chat(alice, "b"), Ct),
                room.Actor.SendAsync(ActorHarness.Add(alice, "v3"), Ct),
            ];
            Assert.False(first.IsCompleted);
        }
        finally
        {
            await redis.UnpauseAsync();
        }

        Assert.Null(await first);
        var replies = await Task.WhenAll(rest);
        Assert.Null(replies[0]);
        Assert.Null(replies[1]);
        Assert.Equal(OttFailure.VideoAlreadyQueued().Name, replies[2]?.Name);
        Assert.Null(replies[3]);
        Assert.Null(replies[4]);

        // Two writes: one per batch, not one per storable command.
        var stored = await room.StoredAsync(Ct);
        Assert.Equal(2, stored.Version);
        Assert.Equal("v1", stored.CurrentSource?.Id);
        Assert.Equal(["v2", "v3"], stored.Queue.Select(i => i.Id));

        // Three releases with consecutive seqs; the last holds the five commands' outputs in order.
        var deliveries = room.Fanout.Deliveries;
        Assert.Equal([1L, 2L, 3L], deliveries.Select(d => d.Seq));
        Assert.All(deliveries, d => Assert.Equal(room.Lease.Token.Epoch, d.Epoch));
        var frames = CapturingFanout.Broadcasts(deliveries[2]);
        Assert.Equal(
            ["chat:a", "event:v2", "chat:b", "event:v3", "sync"],
            frames.Select(f => f["action"]!.GetValue<string>() switch
            {
                "chat" => $"chat:{f["text"]}",
                "event" => $"event:{f["additional"]!["video"]!["id"]}",
                var other => other,
            }));
    }

    [Fact]
    public async Task RepliesComeAfterTheFencedWriteIsStored()
    {
        var (patient, _) = redis.NewStores();
        await using var room = await ActorHarness.StartAsync(patient, patient, Ct);
        var alice = room.NewUser("alice");
        Assert.Null(await room.Actor.SendAsync(new Sync.Rooms.JoinCommand(alice), Ct));

        Task<OttFailure?> add;
        await redis.PauseWritesAsync();
        try
        {
            add = room.Actor.SendAsync(ActorHarness.Add(alice, "v1"), Ct);
            await redis.WaitUntilACommandIsHeldAsync();
            Assert.False(add.IsCompleted);
            Assert.Single(room.Fanout.Deliveries);
        }
        finally
        {
            await redis.UnpauseAsync();
        }

        Assert.Null(await add);
        // The reply means "stored": a read after it sees the write.
        var stored = await room.StoredAsync(Ct);
        Assert.Equal(1, stored.Version);
        Assert.Equal("v1", stored.CurrentSource?.Id);
        Assert.Equal(1, room.Actor.State.Version);
        Assert.Equal(2, room.Fanout.Deliveries.Count);
    }

    [Fact]
    public async Task AFailingCommandChangesNothingWhileTheOthersInItsBatchApply()
    {
        var (patient, _) = redis.NewStores();
        await using var room = await ActorHarness.StartAsync(patient, patient, Ct);
        var alice = room.NewUser("alice");
        Assert.Null(await room.Actor.SendAsync(new Sync.Rooms.JoinCommand(alice), Ct));
        Assert.Null(await room.Actor.SendAsync(ActorHarness.Add(alice, "v1"), Ct));
        var before = await room.StoredAsync(Ct);

        Task<OttFailure?>[] batch;
        await redis.PauseWritesAsync();
        try
        {
            // A held write of its own keeps the next three commands together.
            var holder = room.Actor.SendAsync(ActorHarness.Add(alice, "v0"), Ct);
            await redis.WaitUntilACommandIsHeldAsync();
            batch =
            [
                holder,
                room.Actor.SendAsync(ActorHarness.Add(alice, "v2"), Ct),
                // Removing a video that is not queued fails.
                room.Actor.SendAsync(new Sync.Rooms.RequestCommand(TestRoom.ActorOf(alice),
                    TestRoom.Parse("""{"type":6,"video":{"service":"direct","id":"nope"}}""")), Ct),
                room.Actor.SendAsync(ActorHarness.Add(alice, "v3"), Ct),
            ];
        }
        finally
        {
            await redis.UnpauseAsync();
        }

        var replies = await Task.WhenAll(batch);
        Assert.Null(replies[0]);
        Assert.Null(replies[1]);
        Assert.Equal(OttFailure.VideoNotFound().Name, replies[2]?.Name);
        Assert.Null(replies[3]);
        var after = await room.StoredAsync(Ct);
        Assert.Equal(before.Version + 2, after.Version);
        Assert.Equal(["v0", "v2", "v3"], after.Queue.Select(i => i.Id));
        var last = room.Fanout.Deliveries[^1];
        Assert.Equal(["event", "event", "sync"], CapturingFanout.Broadcasts(last).Select(f => f["action"]!.GetValue<string>()));
    }

    [Fact]
    public async Task ARetryOfARefusedRequestGetsTheSameAnswerEvenWhenItWouldNowSucceed()
    {
        var (patient, _) = redis.NewStores();
        await using var room = await ActorHarness.StartAsync(patient, patient, Ct);
        var alice = room.NewUser("alice");
        Assert.Null(await room.Actor.SendAsync(new Sync.Rooms.JoinCommand(alice), Ct));
        Assert.Null(await room.Actor.SendAsync(ActorHarness.Add(alice, "v0"), Ct)); // plays
        var remove = new Sync.Rooms.RequestCommand(TestRoom.ActorOf(alice),
            TestRoom.Parse("""{"type":6,"video":{"service":"direct","id":"v1"}}"""))
        { Id = new Sync.Rooms.RequestId("gateway-client", 1) };

        Assert.Equal(OttFailure.VideoNotFound().Name, (await room.Actor.SendAsync(remove, Ct))?.Name); // v1 is not queued yet
        Assert.Null(await room.Actor.SendAsync(ActorHarness.Add(alice, "v1"), Ct));
        // The first answer was lost on its way back: the gateway retries the same request.
        var retry = await room.Actor.SendAsync(remove, Ct);

        Assert.Equal(OttFailure.VideoNotFound().Name, retry?.Name);
        Assert.Equal(["v1"], (await room.StoredAsync(Ct)).Queue.Select(i => i.Id)); // not removed by a second judgement
    }

    public void Dispose() => _timeout.Dispose();
}
