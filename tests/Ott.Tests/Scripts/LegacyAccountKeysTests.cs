using Microsoft.Extensions.Logging.Abstractions;
using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Scripts;

// Accounts stored before they shared the {users} hash tag (docs/architecture.md §6.3) move to their new names when
// a node connects, with their values and TTLs; a new name that exists already is kept.
public sealed class LegacyAccountKeysTests(RedisServer redis) : IClassFixture<RedisServer>
{
    [Fact]
    public async Task LegacyAccountKeysMoveToTheUsersHashTagWhenANodeConnects()
    {
        var prefix = $"legacy-{Guid.NewGuid():N}:";
        var keys = new RedisKeys(prefix);
        await using (var admin = await redis.ConnectAsync())
        {
            var db = admin.GetDatabase();
            await db.StringSetAsync(prefix + "user:7", "{\"id\":7}");
            await db.StringSetAsync(prefix + "user:byname:alice", "7");
            await db.SetAddAsync(prefix + "user:7:rooms", "room-a");
            await db.StringSetAsync(prefix + "user:nextid", "7");
            await db.StringSetAsync(prefix + "user:byemail:a@example.com", "7", TimeSpan.FromHours(1));
            await db.StringSetAsync(keys.UserByDiscord("42"), "8"); // already under its new name: kept
            await db.StringSetAsync(prefix + "user:bydiscord:42", "7");
        }

        await using var connection = new RedisConnection(redis.ConnectionString, new StorageOptions(), Path.GetTempPath(), keys, NullLoggerFactory.Instance);
        await connection.ConnectAsync(CancellationToken.None);
        var store = connection.Database;

        Assert.Equal("{\"id\":7}", await store.StringGetAsync(keys.User(7)));
        Assert.Equal("7", await store.StringGetAsync(keys.UserByName("Alice")));
        Assert.Equal(["room-a"], (await store.SetMembersAsync(keys.UserRooms(7))).Select(v => v.ToString()));
        Assert.Equal("7", await store.StringGetAsync(keys.UserNextId));
        Assert.InRange((await store.KeyTimeToLiveAsync(keys.UserByEmail("a@example.com")))!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
        Assert.Equal("8", await store.StringGetAsync(keys.UserByDiscord("42")));
        Assert.Empty(await connection.ScanAsync(prefix + "user:*", CancellationToken.None));
    }
}
