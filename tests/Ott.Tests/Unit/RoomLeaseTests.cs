using Microsoft.Extensions.Time.Testing;
using Ott.Sync.Cluster;
using Ott.Sync.Rooms;
using Ott.Sync.Storage;

namespace Ott.Tests.Unit;

// RoomLease against a real Redis on fake time (docs/architecture.md §7.3): a deadline counts from the instant its
// command was sent, a lost lease expires it, and an answer that never came leaves it where it was.
public sealed class RoomLeaseTests(PausableRedis redis) : IClassFixture<PausableRedis>, IDisposable
{
    private static readonly TimeSpan RedisLeaseTtl = TimeSpan.FromMinutes(1);

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly LeaseOptions _options = ActorHarness.DefaultLease();

    private CancellationToken Ct => _timeout.Token;

    private TimeSpan ValidFor => _options.Ttl - _options.EffectiveMargin;

    private async Task<(RoomLease Lease, RoomStore Patient, RoomStore Impatient)> CreatedAsync(string room)
    {
        var (patient, impatient) = redis.NewStores();
        var sent = _time.GetTimestamp();
        var token = await patient.CreateAsync(room, "node-1", "{}", RedisLeaseTtl, null, Ct) ?? throw new InvalidOperationException("room exists");
        return (RoomLease.Start(room, token, sent, _time, _options), patient, impatient);
    }

    [Fact]
    public async Task StartCountsTheDeadlineFromTheAcquireSendInstant()
    {
        var (lease, _, _) = await CreatedAsync("start");

        Assert.True(lease.IsValid);
        Assert.Equal(ValidFor, lease.Remaining);

        _time.Advance(ValidFor - TimeSpan.FromTicks(1));
        Assert.True(lease.IsValid);

        _time.Advance(TimeSpan.FromTicks(1));
        Assert.False(lease.IsValid);
        Assert.Equal(TimeSpan.Zero, lease.Remaining);
    }

    [Fact]
    public async Task RenewExtendsTheDeadlineFromItsSendInstantNotFromTheReply()
    {
        var (lease, patient, _) = await CreatedAsync("renew");
        _time.Advance(TimeSpan.FromSeconds(3));

        await redis.PauseWritesAsync();
        Task<bool> renew;
        try
        {
            renew = lease.RenewAsync(patient, null, Ct);
            await redis.WaitUntilACommandIsHeldAsync();
            // The reply comes a second after the renew was sent.
            _time.Advance(TimeSpan.FromSeconds(1));
        }
        finally
        {
            await redis.UnpauseAsync();
        }

        Assert.True(await renew);
        Assert.True(lease.IsValid);
        Assert.Equal(ValidFor - TimeSpan.FromSeconds(1), lease.Remaining);
        var held = await patient.ReadLeaseAsync("renew", Ct);
        Assert.NotNull(held);
        Assert.True(held.Pttl <= _options.Ttl, $"Redis holds the lease for {held.Pttl}, renewed to {_options.Ttl}");
    }

    [Fact]
    public async Task AnUnknownOutcomeLeavesTheDeadlineWhereItWas()
    {
        var (lease, _, impatient) = await CreatedAsync("unknown");
        _time.Advance(TimeSpan.FromSeconds(2));
        var before = lease.Remaining;

        await redis.PauseWritesAsync();
        Exception? failure;
        try
        {
            // Sent, never answered in time: Redis may still apply it, so the deadline must not move.
            failure = await Record.ExceptionAsync(() => lease.RenewAsync(impatient, null, Ct));
        }
        finally
        {
            await redis.UnpauseAsync();
        }

        Assert.True(failure is TimeoutException or StackExchange.Redis.RedisException, $"expected a timeout, got {failure}");
        Assert.True(lease.IsValid);
        Assert.Equal(before, lease.Remaining);
    }

    [Fact]
    public async Task ALostLeaseExpiresTheDeadline()
    {
        var (lease, patient, _) = await CreatedAsync("lost");
        // Another node holds the room now (after this lease was released, e.g. by a stalled owner's peer).
        Assert.True(await patient.ReleaseAsync("lost", lease.Token, null, null, Ct));
        Assert.IsType<AcquireResult.Acquired>(await patient.AcquireAsync("lost", "node-2", RedisLeaseTtl, TimeSpan.FromHours(2), Ct));
        Assert.True(lease.IsValid);

        Assert.False(await lease.RenewAsync(patient, null, Ct));

        Assert.False(lease.IsValid);
        Assert.True(lease.Remaining < TimeSpan.Zero);
        Assert.Equal("node-2", (await patient.ReadLeaseAsync("lost", Ct))?.NodeId);
    }

    public void Dispose() => _timeout.Dispose();
}
