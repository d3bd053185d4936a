using Ott.Sync.Cluster;
using Ott.Sync.Storage;

namespace Ott.Sync.Rooms;

// One owned room's lease as this node holds it (docs/architecture.md §7.3): the token every fenced call carries,
// and the local deadline, a monotonic TimeProvider timestamp past which the owner must not write.
// The actor (past its deadline) and the lease keeper (every RenewInterval) both renew through it.
internal sealed class RoomLease
{
    private readonly TimeProvider _time;
    private readonly LeaseOptions _options;
    private long _deadline;

    private RoomLease(string room, LeaseToken token, TimeProvider time, LeaseOptions options)
    {
        Room = room;
        Token = token;
        _time = time;
        _options = options;
    }

    // The lease of a create or acquire sent at sentAt (a TimeProvider timestamp).
    public static RoomLease Start(string room, LeaseToken token, long sentAt, TimeProvider time, LeaseOptions options)
    {
        var lease = new RoomLease(room, token, time, options);
        lease.Extend(sentAt);
        return lease;
    }

    // The lower-cased room name.
    public string Room { get; }

    public LeaseToken Token { get; }

    public bool IsValid => _time.GetTimestamp() < Volatile.Read(ref _deadline);

    // Negative once the deadline has passed.
    public TimeSpan Remaining => _time.GetElapsedTime(_time.GetTimestamp(), Volatile.Read(ref _deadline));

    // After a successful renew or acquire sent at sentAt. The deadline counts from the send instant,
    // not the reply: Redis may have applied the command at any moment in between, and the margin
    // covers the drift between this node's clock and Redis's.
    public void Extend(long sentAt) =>
        Volatile.Write(ref _deadline, sentAt + (long)((_options.Ttl - _options.EffectiveMargin).TotalSeconds * _time.TimestampFrequency));

    // The lease is lost: the deadline is behind us from now on.
    public void Expire() => Volatile.Write(ref _deadline, 0);

    // One renew. True: renewed, and the deadline extended from this call's send instant. False:
    // another token holds the lease (or none does), and the deadline is expired. A failure whose
    // outcome is unknown (timeout, lost connection) throws and leaves the deadline as it was, so the
    // owner self-fences at it.
    public async Task<bool> RenewAsync(RoomStore store, TimeSpan? stateTtl, CancellationToken ct)
    {
        var sent = _time.GetTimestamp();
        if (await store.RenewAsync(Room, Token, _options.Ttl, stateTtl, ct))
        {
            Extend(sent);
            return true;
        }
        Expire();
        return false;
    }
}
