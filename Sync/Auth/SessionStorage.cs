using Ott.Sync.Storage;
using StackExchange.Redis;

namespace Ott.Sync.Auth;

// Where sessions live: the one multiplexer's database, under `{p}auth:<sha256(token)>`.
internal sealed class SessionStorage(RedisConnection connection, RedisKeys keys)
{
    public IDatabase Database => connection.Database;

    public RedisKey Key(string tokenHash) => keys.Session(tokenHash);
}
