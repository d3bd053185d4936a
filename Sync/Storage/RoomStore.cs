using System.Security.Cryptography;
using StackExchange.Redis;

namespace Ott.Sync.Storage;

internal readonly record struct LeaseToken(string Value, long Epoch);

internal abstract record AcquireResult
{
    private AcquireResult()
    {
    }

    public sealed record Acquired(LeaseToken Token, string StateJson) : AcquireResult;

    public sealed record Held(string HolderToken, TimeSpan Pttl) : AcquireResult;

    // Only when Redis answered and the state key is absent (docs/architecture.md §8).
    public sealed record NotFound : AcquireResult;
}

/// <summary>A lease token <c>{nodeId}|{epoch}|{nonce}</c> as read from Redis, with its remaining time.</summary>
internal sealed record LeaseHolder(string NodeId, long Epoch, TimeSpan Pttl)
{
    public static LeaseHolder Parse(string token, TimeSpan pttl)
    {
        var parts = token.Split('|');
        return new LeaseHolder(parts[0], parts.Length > 1 && long.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var epoch) ? epoch : 0, pttl);
    }
}

internal sealed record HeartbeatResult(long RedisTimeMs, bool Added, IReadOnlyList<string> LiveNodes);

// Room leases, fenced state and the room directory. Room names arrive in any case; RedisKeys
// canonicalises them. SE.Redis cannot cancel a command once written, so tokens only stop the
// wait (WaitAsync); the command itself completes or times out on the multiplexer.
internal sealed class RoomStore(RedisConnection connection, RedisKeys keys)
{
    public async Task<LeaseToken?> CreateAsync(string room, string nodeId, string stateJson, TimeSpan leaseTtl, TimeSpan? stateTtl, CancellationToken ct)
    {
        var result = await EvalAsync(
            RoomScripts.Create,
            [keys.RoomLease(room), keys.RoomEpoch(room), keys.RoomState(room)],
            [nodeId, NewNonce(), Ms(leaseTtl), stateJson, TtlMs(stateTtl)],
            ct);
        var reply = (RedisResult[])result!;
        return (long)reply[0] == 1 ? new LeaseToken((string)reply[1]!, (long)reply[2]) : null;
    }

    public async Task<AcquireResult> AcquireAsync(string room, string nodeId, TimeSpan leaseTtl, TimeSpan temporaryStateTtl, CancellationToken ct)
    {
        var result = await EvalAsync(
            RoomScripts.Acquire,
            [keys.RoomLease(room), keys.RoomEpoch(room), keys.RoomState(room)],
            [nodeId, NewNonce(), Ms(leaseTtl), Ms(temporaryStateTtl)],
            ct);
        var reply = (RedisResult[])result!;
        return (long)reply[0] switch
        {
            1 => new AcquireResult.Acquired(new LeaseToken((string)reply[1]!, (long)reply[2]), (string)reply[3]!),
            // PTTL is -1 for a lease without expiry, which no script writes; treat it as "now".
            0 => new AcquireResult.Held((string)reply[1]!, TimeSpan.FromMilliseconds(Math.Max(0, (long)reply[2]))),
            _ => new AcquireResult.NotFound(),
        };
    }

    public async Task<bool> RenewAsync(string room, LeaseToken token, TimeSpan leaseTtl, TimeSpan? stateTtl, CancellationToken ct) =>
        (long)await EvalAsync(
            RoomScripts.Renew,
            [keys.RoomLease(room), keys.RoomState(room), keys.RoomEpoch(room), keys.RoomAudit(room)],
            [token.Value, Ms(leaseTtl), TtlMs(stateTtl)],
            ct) == 1;

    public Task<bool> FencedWriteAsync(string room, LeaseToken token, string stateJson, TimeSpan? stateTtl, CancellationToken ct) =>
        FencedWriteAsync(room, token, stateJson, stateTtl, [], 1, ct);

    /// <summary>The state write, with the batch's audit entries (JSON) appended to the room's log in the same script.</summary>
    public async Task<bool> FencedWriteAsync(string room, LeaseToken token, string stateJson, TimeSpan? stateTtl,
        IReadOnlyList<string> auditEntries, int auditLength, CancellationToken ct)
    {
        var args = new RedisValue[4 + auditEntries.Count];
        args[0] = token.Value;
        args[1] = stateJson;
        args[2] = TtlMs(stateTtl);
        args[3] = auditLength;
        for (var i = 0; i < auditEntries.Count; i++)
        {
            args[4 + i] = auditEntries[i];
        }
        return (long)await EvalAsync(
            RoomScripts.FencedWrite,
            [keys.RoomLease(room), keys.RoomState(room), keys.RoomEpoch(room), keys.RoomAudit(room)],
            args,
            ct) == 1;
    }

    /// <summary>
    /// A page of the room's audit log, newest first: up to <paramref name="limit"/> entries with ids below
    /// <paramref name="before"/> (all when null), as (id, JSON); one more is read to tell whether a next page exists.
    /// </summary>
    public async Task<(IReadOnlyList<(long Id, string Json)> Entries, bool More)> ReadAuditAsync(string room, long? before, int limit, CancellationToken ct)
    {
        var db = await DatabaseAsync(ct);
        var members = await db.SortedSetRangeByScoreAsync(keys.RoomAudit(room), double.NegativeInfinity,
            before is { } b ? b : double.PositiveInfinity, before is null ? Exclude.None : Exclude.Stop,
            Order.Descending, 0, limit + 1).WaitAsync(ct);
        var entries = new List<(long, string)>(Math.Min(members.Length, limit));
        foreach (var member in members.Take(limit))
        {
            var text = (string)member!;
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            entries.Add((long.Parse(text.AsSpan(0, colon), System.Globalization.CultureInfo.InvariantCulture), text[(colon + 1)..]));
        }
        return (entries, members.Length > limit);
    }

    public async Task<bool> ReleaseAsync(string room, LeaseToken token, string? finalStateJson, TimeSpan? stateTtl, CancellationToken ct) =>
        (long)await EvalAsync(
            RoomScripts.Release,
            [keys.RoomLease(room), keys.RoomState(room), keys.RoomEpoch(room), keys.RoomAudit(room)],
            [token.Value, finalStateJson ?? string.Empty, TtlMs(stateTtl)],
            ct) == 1;

    public async Task<bool> DeleteAsync(string room, LeaseToken token, CancellationToken ct) =>
        (long)await EvalAsync(
            RoomScripts.Delete,
            [keys.RoomLease(room), keys.RoomState(room), keys.RoomEpoch(room), keys.RoomAudit(room)],
            [token.Value],
            ct) == 1;

    public async Task<HeartbeatResult> HeartbeatAsync(string nodeId, TimeSpan nodeTimeout, CancellationToken ct)
    {
        var result = await EvalAsync(RoomScripts.Heartbeat, [keys.ClusterNodes], [nodeId, Ms(nodeTimeout)], ct);
        var reply = (RedisResult[])result!;
        var live = (string[])reply[2]!;
        return new HeartbeatResult((long)reply[0], (long)reply[1] == 1, live);
    }

    /// <summary>The room's lease as held now: holder node, epoch and remaining time; null when nobody holds it.</summary>
    public async Task<LeaseHolder?> ReadLeaseAsync(string room, CancellationToken ct)
    {
        var db = await DatabaseAsync(ct);
        var key = keys.RoomLease(room);
        var tx = db.CreateBatch();
        var value = tx.StringGetAsync(key);
        var ttl = tx.KeyTimeToLiveAsync(key);
        tx.Execute();
        var token = await value.WaitAsync(ct);
        var remaining = await ttl.WaitAsync(ct);
        return token.IsNull ? null : LeaseHolder.Parse(token.ToString(), remaining ?? TimeSpan.Zero);
    }

    /// <summary>Leaves the live set at once (a drain, docs/architecture.md §10.4 step 1).</summary>
    public async Task RemoveNodeAsync(string nodeId, CancellationToken ct)
    {
        var db = await DatabaseAsync(ct);
        await db.SortedSetRemoveAsync(keys.ClusterNodes, nodeId).WaitAsync(ct);
    }

    public async Task<bool> StateExistsAsync(string room, CancellationToken ct)
    {
        var db = await DatabaseAsync(ct);
        return await db.KeyExistsAsync(keys.RoomState(room)).WaitAsync(ct);
    }

    public async Task<string?> ReadStateAsync(string room, CancellationToken ct)
    {
        var db = await DatabaseAsync(ct);
        return await db.StringGetAsync(keys.RoomState(room)).WaitAsync(ct);
    }

    // Null for a permanent room and for a missing one; StateExistsAsync tells them apart.
    public async Task<TimeSpan?> StateTtlAsync(string room, CancellationToken ct)
    {
        var db = await DatabaseAsync(ct);
        return await db.KeyTimeToLiveAsync(keys.RoomState(room)).WaitAsync(ct);
    }

    public async Task MarkActiveAsync(string room, DateTimeOffset until, string metaJson, CancellationToken ct)
    {
        var db = await DatabaseAsync(ct);
        var name = RedisKeys.Canonical(room);
        // Both keys share the {rooms} tag; pipelined, they cost one round trip.
        var active = db.SortedSetAddAsync(keys.RoomsActive, name, until.ToUnixTimeMilliseconds());
        var meta = db.HashSetAsync(keys.RoomsMeta, name, metaJson);
        await Task.WhenAll(active, meta).WaitAsync(ct);
    }

    public async Task RemoveActiveAsync(string room, CancellationToken ct)
    {
        var db = await DatabaseAsync(ct);
        var name = RedisKeys.Canonical(room);
        var active = db.SortedSetRemoveAsync(keys.RoomsActive, name);
        var meta = db.HashDeleteAsync(keys.RoomsMeta, name);
        await Task.WhenAll(active, meta).WaitAsync(ct);
    }

    public async Task<IReadOnlyList<string>> ActiveRoomsAsync(CancellationToken ct)
    {
        var db = await DatabaseAsync(ct);
        var members = await db.SortedSetRangeByRankAsync(keys.RoomsActive).WaitAsync(ct);
        return members.ToStringArray()!;
    }

    public async Task<IReadOnlyList<string>> ListMetaAsync(DateTimeOffset now, CancellationToken ct)
    {
        var db = await DatabaseAsync(ct);
        var live = await db.SortedSetRangeByScoreAsync(keys.RoomsActive, now.ToUnixTimeMilliseconds(), double.PositiveInfinity, Exclude.Start).WaitAsync(ct);
        if (live.Length == 0)
        {
            return [];
        }

        var meta = await db.HashGetAsync(keys.RoomsMeta, live).WaitAsync(ct);
        // A room between unload steps may have an active entry without meta; it is skipped.
        return meta.Where(m => m.HasValue).Select(m => (string)m!).ToArray();
    }

    private async ValueTask<IDatabase> DatabaseAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        await connection.ConnectAsync(ct);
        return connection.Database;
    }

    private Task<RedisResult> EvalAsync(RoomScript script, RedisKey[] scriptKeys, RedisValue[] args, CancellationToken ct) =>
        connection.EvaluateAsync(script, scriptKeys, args, ct);

    private static string NewNonce() => RandomNumberGenerator.GetHexString(16, lowercase: true);

    private static long Ms(TimeSpan value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.FromMilliseconds(1));
        return (long)value.TotalMilliseconds;
    }

    private static long TtlMs(TimeSpan? stateTtl) => stateTtl is { } ttl ? Ms(ttl) : 0;
}
