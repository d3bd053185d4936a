using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace Ott.Sync.Storage;

internal sealed class RoomScript
{
    [SuppressMessage("Security", "CA5350:Do Not Use Weak Cryptographic Algorithms", Justification = "SHA1 is how Redis names a cached script (EVALSHA), not a security use.")]
    public RoomScript(string name, string text)
    {
        Name = name;
        Text = text;
        Sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(text));
    }

    public string Name { get; }

    public string Text { get; }

    public byte[] Sha1 { get; }

    public override string ToString() => Name;
}

// The scripts of docs/architecture.md §8. Rules that keep them portable between Redis 7 (Lua 5.1) and
// Garnet (Lua 5.4, --lua-transaction-mode):
// - Garnet locks only the keys in KEYS[], so every key a script touches is passed there.
// - Lua 5.4 sends a computed number like 5000/2 as 2500.0, which PX rejects: TTLs are passed on
//   from ARGV unchanged, and computed integers go through math.floor.
// - Error texts differ between the servers, so nothing here relies on them.
internal static class RoomScripts
{
    // KEYS: lease, epoch, state. ARGV: nodeId, nonce, leaseMs, stateJson, stateTtlMs (0 = permanent).
    public static readonly RoomScript Create = new("CREATE", """
        if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[1]) == 1 then
          return {0}
        end
        local epoch = math.floor(redis.call('INCR', KEYS[2]))
        local token = ARGV[1] .. '|' .. string.format('%d', epoch) .. '|' .. ARGV[2]
        redis.call('SET', KEYS[1], token, 'PX', ARGV[3])
        if tonumber(ARGV[5]) > 0 then
          redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])
          redis.call('PEXPIRE', KEYS[2], ARGV[5])
        else
          redis.call('SET', KEYS[3], ARGV[4])
          redis.call('PERSIST', KEYS[2])
        end
        return {1, token, epoch}
        """);

    // KEYS: lease, epoch, state. ARGV: nodeId, nonce, leaseMs, stateTtlMs.
    // A state with a TTL is a temporary room: only then are the state and epoch TTLs refreshed.
    public static readonly RoomScript Acquire = new("ACQUIRE", """
        local holder = redis.call('GET', KEYS[1])
        if holder then
          return {0, holder, redis.call('PTTL', KEYS[1])}
        end
        local state = redis.call('GET', KEYS[3])
        if not state then
          return {-1}
        end
        local epoch = math.floor(redis.call('INCR', KEYS[2]))
        local token = ARGV[1] .. '|' .. string.format('%d', epoch) .. '|' .. ARGV[2]
        redis.call('SET', KEYS[1], token, 'PX', ARGV[3])
        if redis.call('PTTL', KEYS[3]) > 0 then
          redis.call('PEXPIRE', KEYS[3], ARGV[4])
          redis.call('PEXPIRE', KEYS[2], ARGV[4])
        end
        return {1, token, epoch, state}
        """);

    // KEYS: lease, state, epoch, audit. ARGV: token, leaseMs, stateTtlMs (0 = permanent).
    public static readonly RoomScript Renew = new("RENEW", """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then
          return 0
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        if tonumber(ARGV[3]) > 0 then
          redis.call('PEXPIRE', KEYS[2], ARGV[3])
          redis.call('PEXPIRE', KEYS[3], ARGV[3])
          redis.call('PEXPIRE', KEYS[4], ARGV[3])
        end
        return 1
        """);

    // KEYS: lease, state, epoch, audit. ARGV: token, stateJson, stateTtlMs (0 = permanent), auditLength,
    // then the batch's audit entries (JSON), if any.
    // A permanent write also clears the epoch's TTL, so a room made permanent keeps its epoch.
    // The audit log is a sorted set scored by a per-room sequence (docs/architecture.md §6.3): each entry is
    // written here, under the same token check as the state it belongs to, so an acknowledged action always
    // has its entry and a fenced-out owner writes neither. Members are "<seq>:<json>", unique even for equal JSON.
    // A retried write (its first outcome unknown) finds its own state already there and does not append again:
    // every write carries a new version, so equal JSON means the earlier attempt applied.
    public static readonly RoomScript FencedWrite = new("FENCED_WRITE", """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then
          return 0
        end
        local applied = redis.call('GET', KEYS[2]) == ARGV[2]
        if tonumber(ARGV[3]) > 0 then
          redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
          redis.call('PEXPIRE', KEYS[3], ARGV[3])
        else
          redis.call('SET', KEYS[2], ARGV[2])
          redis.call('PERSIST', KEYS[3])
        end
        if #ARGV >= 5 and not applied then
          local top = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
          local seq = 0
          if #top == 2 then
            seq = math.floor(tonumber(top[2]))
          end
          for i = 5, #ARGV do
            seq = seq + 1
            local id = string.format('%d', seq)
            redis.call('ZADD', KEYS[4], id, id .. ':' .. ARGV[i])
          end
          redis.call('ZREMRANGEBYRANK', KEYS[4], 0, math.floor(-1 - tonumber(ARGV[4])))
          if tonumber(ARGV[3]) > 0 then
            redis.call('PEXPIRE', KEYS[4], ARGV[3])
          else
            redis.call('PERSIST', KEYS[4])
          end
        end
        return 1
        """);

    // KEYS: lease, state, epoch, audit. ARGV: token, finalStateJson ('' = keep the stored state), stateTtlMs.
    public static readonly RoomScript Release = new("RELEASE", """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then
          return 0
        end
        if ARGV[2] ~= '' then
          if tonumber(ARGV[3]) > 0 then
            redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
            redis.call('PEXPIRE', KEYS[3], ARGV[3])
          else
            redis.call('SET', KEYS[2], ARGV[2])
            redis.call('PERSIST', KEYS[3])
          end
        elseif tonumber(ARGV[3]) > 0 then
          redis.call('PEXPIRE', KEYS[2], ARGV[3])
          redis.call('PEXPIRE', KEYS[3], ARGV[3])
          redis.call('PEXPIRE', KEYS[4], ARGV[3])
        end
        redis.call('DEL', KEYS[1])
        return 1
        """);

    // KEYS: lease, state, epoch, audit. ARGV: token.
    public static readonly RoomScript Delete = new("DELETE", """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then
          return 0
        end
        redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[1])
        return 1
        """);

    // KEYS: {cluster}:nodes. ARGV: nodeId, nodeTimeoutMs.
    // Scores are Redis TIME in ms, so every node prunes against the same clock.
    public static readonly RoomScript Heartbeat = new("HEARTBEAT", """
        local t = redis.call('TIME')
        local now = math.floor(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
        local added = redis.call('ZADD', KEYS[1], now, ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', math.floor(now - tonumber(ARGV[2])))
        return {now, added, redis.call('ZRANGE', KEYS[1], 0, -1)}
        """);
}
