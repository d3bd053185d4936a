using Ott.Sync.Protocol;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Unit;

// Self-fencing (docs/architecture.md §7.4) on fake time against a real Redis. The room's lease in Redis stays
// ours for a minute of real time, so Redis would accept a fenced write: only the actor's own local
// deadline, which the test moves past, stops it. Renews are made to fail by holding them with
// CLIENT PAUSE on an impatient connection, so each attempt ends in a timeout (an unknown outcome).
public sealed class SelfFencingTests(PausableRedis redis) : IClassFixture<PausableRedis>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

    private CancellationToken Ct => _timeout.Token;

    // With impatient, the actor's renews time out when held; otherwise it is as patient as the test.
    private async Task<ActorHarness> PastItsDeadlineAsync(bool impatient = true)
    {
        var stores = redis.NewStores();
        var room = await ActorHarness.StartAsync(impatient ? stores.Impatient : stores.Patient, stores.Patient, Ct);
        room.Time.Advance(room.ValidFor);
        Assert.False(room.Lease.IsValid);
        return room;
    }

    // Until the actor has made `count` retry delays: each one follows a renew attempt that failed.
    private static Task WaitForFailedAttemptsAsync(ActorHarness room, int count) =>
        WaitUntil.WaitUntilAsync(() => Task.FromResult(room.Time.TimersCreated >= count), TimeSpan.FromSeconds(10),
            $"the actor has failed {count} renew attempt(s)");

    [Fact]
    public async Task PastItsDeadlineTheNextBatchRenewsBeforeItWrites()
    {
        await using var room = await PastItsDeadlineAsync(impatient: false);
        var alice = room.NewUser("alice");

        Assert.Null(await room.Actor.SendAsync(new Sync.Rooms.JoinCommand(alice), Ct));
        Assert.Null(await room.Actor.SendAsync(ActorHarness.Add(alice, "v1"), Ct));

        // The renew was sent at the (frozen) fake now, so the deadline is a full term ahead again.
        Assert.True(room.Lease.IsValid);
        Assert.Equal(room.ValidFor, room.Lease.Remaining);
        Assert.Equal(1, (await room.StoredAsync(Ct)).Version);
        Assert.Empty(room.Fanout.OwnerLostCalls);
    }

    [Fact]
    public async Task AnActorThatCannotRenewWithinTheHoldDemotesWithoutWriting()
    {
        await using var room = await PastItsDeadlineAsync();
        var alice = room.NewUser("alice");

        Task<OttFailure?> add;
        await redis.PauseWritesAsync();
        try
        {
            add = room.Actor.SendAsync(ActorHarness.Add(alice, "v1"), Ct);

            // It keeps trying while the hold lasts: two failed attempts, half the hold gone, no answer.
            await WaitForFailedAttemptsAsync(room, 1);
            room.Time.Advance(room.Options.HoldOnExpiry / 2);
            await WaitForFailedAttemptsAsync(room, 2);
            Assert.False(add.IsCompleted);
            Assert.Empty(room.Fanout.OwnerLostCalls);

            // Past the hold it gives up and refuses the command, without applying it.
            room.Time.Advance(room.Options.HoldOnExpiry / 2 + TimeSpan.FromMilliseconds(100));
            Assert.Equal(OttFailure.RoomUnavailable().Name, (await add)?.Name);
        }
        finally
        {
            await redis.UnpauseAsync();
        }

        // Gateways are told the owner is gone; nothing was released.
        await room.Actor.Completion.WaitAsync(Ct);
        Assert.Equal([(room.Key, room.Lease.Token.Epoch)], room.Fanout.OwnerLostCalls);
        Assert.Empty(room.Fanout.Deliveries);
        Assert.True(room.Actor.IsStopped);
        Assert.Equal(OttFailure.RoomUnavailable().Name, (await room.Actor.SendAsync(new Sync.Rooms.JoinCommand(alice), Ct))?.Name);

        // A read on the actor's own connection is answered after everything the actor sent on it: the
        // stored record is as it was, though our lease in Redis would have let a write through until
        // the demotion released it. (Retried: that connection is impatient, and this machine busy.)
        string? stored = null;
        await WaitUntil.WaitUntilAsync(async () =>
        {
            try
            {
                stored = await room.Store.ReadStateAsync(room.Key, Ct);
                return true;
            }
            catch (StackExchange.Redis.RedisTimeoutException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(10), "the actor's connection answers a read");
        Assert.Equal(room.InitialJson, stored);
    }

    [Fact]
    public async Task ARenewThatSucceedsWithinTheHoldLetsTheBatchThrough()
    {
        await using var room = await PastItsDeadlineAsync();
        var alice = room.NewUser("alice");

        Task<OttFailure?> add;
        await redis.PauseWritesAsync();
        try
        {
            add = room.Actor.SendAsync(ActorHarness.Add(alice, "v1"), Ct);
            await WaitForFailedAttemptsAsync(room, 1);
            Assert.False(add.IsCompleted);
        }
        finally
        {
            await redis.UnpauseAsync();
        }

        // Redis answers again: time moves on in small steps, staying well within the hold, while the
        // actor retries (a busy machine may cost it a timeout or two more), renews and writes.
        var step = TimeSpan.FromMilliseconds(50);
        var advanced = TimeSpan.Zero;
        await WaitUntil.WaitUntilAsync(() =>
        {
            if (!add.IsCompleted && advanced + step < room.Options.HoldOnExpiry * 0.8)
            {
                room.Time.Advance(step);
                advanced += step;
            }
            return Task.FromResult(add.IsCompleted);
        }, TimeSpan.FromSeconds(15), "the held command is answered");

        Assert.Null(await add);
        Assert.True(room.Lease.IsValid);
        Assert.InRange(room.Lease.Remaining, room.ValidFor - advanced, room.ValidFor);
        Assert.Empty(room.Fanout.OwnerLostCalls);
        Assert.Single(room.Fanout.Deliveries);
        Assert.Equal("v1", (await room.StoredAsync(Ct)).CurrentSource?.Id);
    }

    public void Dispose() => _timeout.Dispose();
}
