using System.Globalization;
using StackExchange.Redis;

namespace Ott.Sync.Storage;

// Every key and channel name (docs/architecture.md §6.3). Room keys carry the hash tag {<lower-cased room>}
// so one script may touch them together, and so `Foo` and `foo` are the same room (I6). Every key a
// script touches shares one hash tag, so each script runs on one Redis Cluster slot; the account keys
// share the tag {users}, because registering claims several of them in one script. Channels are
// sharded (SSUBSCRIBE/SPUBLISH, Redis 7): on a cluster a room's events go only to the shard that holds its keys.
// The embedded Garnet is one node and answers SSUBSCRIBE only in cluster mode, so it keeps classic channels.
internal sealed class RedisKeys
{
    private readonly bool _sharded;

    public RedisKeys(string prefix, bool shardedChannels = true)
    {
        Prefix = prefix;
        _sharded = shardedChannels;
        ClusterNodes = prefix + "{cluster}:nodes";
        RoomsActive = prefix + "{rooms}:active";
        RoomsMeta = prefix + "{rooms}:meta";
        ClusterChannel = Channel(prefix + "cluster");
        RoomLeasePattern = prefix + @"room:\{*\}:lease";
    }

    public string Prefix { get; }

    public RedisKey ClusterNodes { get; }

    public RedisKey RoomsActive { get; }

    public RedisKey RoomsMeta { get; }

    public RedisChannel ClusterChannel { get; }

    // A SCAN MATCH glob for every room's lease; the braces are literal, hence escaped.
    public string RoomLeasePattern { get; }

    public static string Canonical(string room) => room.ToLowerInvariant();

    public RedisKey RoomState(string room) => RoomKey(room, "state");

    public RedisKey RoomLease(string room) => RoomKey(room, "lease");

    public RedisKey RoomEpoch(string room) => RoomKey(room, "epoch");

    // The room's audit log (docs/architecture.md §6.3): a capped sorted set, written only by the fenced write.
    public RedisKey RoomAudit(string room) => RoomKey(room, "audit");

    public RedisChannel RoomChannel(string room) => Channel(RoomName(room, "ev"));

    public RedisKey Session(string tokenHash) => Prefix + "auth:" + tokenHash;

    // Rate-limit counters: one hash tag per client IP, so one script may touch them together.
    public RedisKey RateLimit(string ip, string suffix) => $"{Prefix}ratelimit:{{{ip}}}:{suffix}";
    // Accounts (docs/architecture.md §6.3): the record, its three indexes, its owned permanent rooms, the id counter.
    // One hash tag for all of them: registering checks and claims the record and its indexes in one script.
    public RedisKey User(long id) => Users + id.ToString(CultureInfo.InvariantCulture);

    public RedisKey UserByName(string username) => Users + "byname:" + username.ToLowerInvariant();

    public RedisKey UserByEmail(string email) => Users + "byemail:" + email;

    public RedisKey UserByDiscord(string discordId) => Users + "bydiscord:" + discordId;

    public RedisKey UserRooms(long id) => Users + id.ToString(CultureInfo.InvariantCulture) + ":rooms";

    public RedisKey UserNextId => Users + "nextid";

    // Every account key starts with this (the {users} hash tag).
    public string Users => Prefix + "{users}:";

    // ASP.NET Core's data-protection key ring (the OAuth state and correlation cookie of Discord login), shared
    // by every node so a login that starts on one node can finish on another.
    public RedisKey DataProtectionKeys => Prefix + "dataprotection:keys";

    // Login limits (protocol §9): failures from one IP today, and consecutive failures for one
    // identifier from that IP. The IP is the hash tag, so both sit in one slot.
    public RedisKey LoginFailures(string ip) => $"{Prefix}ratelimit:{{{ip}}}:logins";

    public RedisKey LoginFailures(string ip, string identifierHash) => $"{Prefix}ratelimit:{{{ip}}}:login:{identifierHash}";

    // A SCAN MATCH glob for every IP's login-failure counters (both kinds above); braces escaped.
    public string LoginFailurePattern => Prefix + @"ratelimit:\{*\}:login*";

    // A node's channel; a reply goes to the channel a request names as replyTo, sharded as well.
    public RedisChannel NodeChannel(string nodeId) => Channel(Prefix + "node:" + nodeId);

    public RedisChannel Channel(string name) => _sharded ? RedisChannel.Sharded(name) : RedisChannel.Literal(name);

    // Media metadata caches (`{p}cache:*`, media issue). Ids of URL services are URLs; long ones
    // and free-text search queries are hashed so a key stays short and printable.
    public RedisKey MediaVideo(string service, string id) => $"{Prefix}cache:video:{service}:{CacheId(id)}";

    public RedisKey MediaCollection(string service, string id) => $"{Prefix}cache:collection:{service}:{CacheId(id)}";

    public RedisKey MediaSearch(string service, string query) =>
        $"{Prefix}cache:search:{service}:{Hash(query.Trim().ToLowerInvariant())}";

    private static string CacheId(string id) => id.Length <= 200 ? id : "sha256-" + Hash(id);

    private static string Hash(string text) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    private RedisKey RoomKey(string room, string suffix) => RoomName(room, suffix);

    private string RoomName(string room, string suffix) => $"{Prefix}room:{{{Canonical(room)}}}:{suffix}";
}
