using StackExchange.Redis;

namespace Ott.Sync.Auth;

// The seam to the storage layer: the database sessions live in and the `{p}` key prefix.
// Once Ott.Sync.Storage lands this becomes one line in AddOttAuth:
//   services.AddSingleton(sp => new SessionStorage(sp.GetRequiredService<RedisConnection>().Database, prefix))
// and Key() should defer to RedisKeys.Session(tokenHash).
internal sealed record SessionStorage(IDatabase Database, string KeyPrefix)
{
    public RedisKey Key(string tokenHash) => KeyPrefix + "auth:" + tokenHash;
}

internal static class SessionStorageStopgap
{
    // Stopgap until the storage layer exists: connects to ConnectionStrings:Redis directly.
    // There is no embedded Garnet here, so an empty connection string fails at first use.
    public static WebApplicationBuilder AddOttAuthRedisStopgap(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IConnectionMultiplexer>(sp =>
        {
            var connection = sp.GetRequiredService<IConfiguration>().GetConnectionString("Redis");
            if (string.IsNullOrWhiteSpace(connection))
            {
                throw new InvalidOperationException(
                    "ConnectionStrings:Redis is empty; embedded storage is not wired into this branch yet.");
            }
            return ConnectionMultiplexer.Connect(connection);
        });
        builder.Services.AddSingleton(sp => new SessionStorage(
            sp.GetRequiredService<IConnectionMultiplexer>().GetDatabase(),
            sp.GetRequiredService<IConfiguration>()["Storage:KeyPrefix"] ?? "ott:"));
        return builder;
    }
}
