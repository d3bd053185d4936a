using Ott.Sync.Auth;
using Ott.Sync.Limits;
using Ott.Sync.Storage;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Scripts;

// The account and login-limit scripts on both backends (docs/architecture.md §8: every script has a contract
// test on redis-server and embedded Garnet).
[Collection(BackendsCollection.Name)]
public sealed class AccountScriptTests(StoreBackends backends) : StoreTest(backends)
{
    private (AccountStore Accounts, RedisKeys Keys, RedisConnection Connection) NewAccounts(Backend backend)
    {
        var (rooms, keys) = Backends.NewStore(backend);
        var connection = Backends.Connection(backend);
        return (new AccountStore(connection, keys, rooms), keys, connection);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task UsernamesAreUniqueIgnoringCaseAndEmailsExactly(Backend backend)
    {
        var (accounts, _, _) = NewAccounts(backend);

        var alice = await accounts.RegisterAsync("Alice", "alice@example.test", "Abcdefgh", Ct);
        var sameName = await accounts.RegisterAsync("ALICE", null, "Abcdefgh", Ct);
        var sameEmail = await accounts.RegisterAsync("Alicia", "alice@example.test", "Abcdefgh", Ct);
        var otherCaseEmail = await accounts.RegisterAsync("Alicia", "Alice@example.test", "Abcdefgh", Ct);

        Assert.NotNull(alice.Account);
        Assert.Equal("username", sameName.TakenField);
        Assert.Equal("email", sameEmail.TakenField);
        Assert.NotNull(otherCaseEmail.Account);
        Assert.NotEqual(alice.Account!.Id, otherCaseEmail.Account!.Id);
        Assert.Equal(alice.Account.Id, (await accounts.FindByIdentifierAsync("alice", Ct))!.Id);
        Assert.Equal(alice.Account.Id, (await accounts.FindByIdentifierAsync("alice@example.test", Ct))!.Id);
        Assert.Equal(otherCaseEmail.Account.Id, (await accounts.FindByIdentifierAsync("Alice@example.test", Ct))!.Id);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task ConcurrentRegistrationsOfOneNameHaveExactlyOneWinner(Backend backend)
    {
        var (accounts, _, _) = NewAccounts(backend);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            accounts.RegisterAsync(i % 2 == 0 ? "race" : "RACE", null, "Abcdefgh", Ct)));

        Assert.Single(results, r => r.Account is not null);
        Assert.All(results.Where(r => r.Account is null), r => Assert.Equal("username", r.TakenField));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task RenameMovesTheNameIndexAndRefusesATakenName(Backend backend)
    {
        var (accounts, keys, connection) = NewAccounts(backend);
        var a = (await accounts.RegisterAsync("first", null, "Abcdefgh", Ct)).Account!;
        var b = (await accounts.RegisterAsync("second", null, "Abcdefgh", Ct)).Account!;

        Assert.Equal(AccountChange.Taken, await accounts.RenameAsync(a.Id, "SECOND", Ct));
        Assert.Equal(AccountChange.Done, await accounts.RenameAsync(a.Id, "renamed", Ct));
        Assert.Equal(AccountChange.Done, await accounts.RenameAsync(a.Id, "ReNamed", Ct));
        Assert.Equal(AccountChange.NotFound, await accounts.RenameAsync(987654, "nobody", Ct));

        Assert.Equal("ReNamed", await accounts.FindUsernameAsync(a.Id, Ct));
        Assert.Equal("second", await accounts.FindUsernameAsync(b.Id, Ct));
        Assert.False(await connection.Database.KeyExistsAsync(keys.UserByName("first")));
        Assert.Equal(a.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            (string?)await connection.Database.StringGetAsync(keys.UserByName("renamed")));
        Assert.NotNull((await accounts.RegisterAsync("First", null, "Abcdefgh", Ct)).Account);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task UpdateSwapsTheEmailIndexAndChangesNothingWhenTheEmailIsTaken(Backend backend)
    {
        var (accounts, keys, connection) = NewAccounts(backend);
        var a = (await accounts.RegisterAsync("a", "a@example.test", "Abcdefgh", Ct)).Account!;
        _ = (await accounts.RegisterAsync("b", "b@example.test", "Abcdefgh", Ct)).Account!;
        var none = (await accounts.RegisterAsync("c", null, "Abcdefgh", Ct)).Account!;

        Assert.Equal(AccountChange.Taken, await accounts.UpdateAsync(a.Id, "b@example.test", "Zyxwvut1", Ct));
        var unchanged = (await accounts.FindAsync(a.Id, Ct))!;
        Assert.Equal(a, unchanged);

        Assert.Equal(AccountChange.Done, await accounts.UpdateAsync(a.Id, "new@example.test", "Zyxwvut1", Ct));
        Assert.Equal(AccountChange.Done, await accounts.UpdateAsync(none.Id, "c@example.test", null, Ct));

        var changed = (await accounts.FindAsync(a.Id, Ct))!;
        Assert.Equal("new@example.test", changed.Email);
        Assert.True(AccountStore.VerifyPassword(changed, "Zyxwvut1"));
        Assert.False(AccountStore.VerifyPassword(changed, "Abcdefgh"));
        Assert.False(await connection.Database.KeyExistsAsync(keys.UserByEmail("a@example.test")));
        Assert.Equal(none.Id, await accounts.EmailOwnerAsync("c@example.test", Ct));
        Assert.Equal(a.Id, (await accounts.VerifyCredentialsAsync("new@example.test", "Zyxwvut1", Ct))!.Id);
        Assert.Null(await accounts.VerifyCredentialsAsync("new@example.test", "Abcdefgh", Ct));
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task LimitCounterGetsItsWindowAndIsReArmedToTheBlockAtTheLimit(Backend backend)
    {
        var (_, keys, connection) = NewAccounts(backend);
        var db = connection.Database;
        var key = keys.LoginFailures("192.0.2.1", "abc");

        var first = (long)await db.EvaluateAsync(LoginLimiter.Count, [key], [60_000, 3, 3_600_000], Ct);
        var firstTtl = await db.KeyTimeToLiveAsync(key);
        var second = (long)await db.EvaluateAsync(LoginLimiter.Count, [key], [60_000, 3, 3_600_000], Ct);
        var third = (long)await db.EvaluateAsync(LoginLimiter.Count, [key], [60_000, 3, 3_600_000], Ct);
        var blockTtl = await db.KeyTimeToLiveAsync(key);

        Assert.Equal([1L, 2L, 3L], new[] { first, second, third });
        Assert.InRange(firstTtl!.Value, TimeSpan.FromSeconds(50), TimeSpan.FromSeconds(60));
        Assert.InRange(blockTtl!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
    }
    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task SocialAccountsHaveNoPasswordAndOneAccountPerDiscordId(Backend backend)
    {
        var (accounts, keys, connection) = NewAccounts(backend);
        var discord = "d" + Guid.NewGuid().ToString("N")[..12];

        var social = (await accounts.RegisterSocialAsync("Social", discord, Ct)).Account!;
        var sameName = await accounts.RegisterSocialAsync("SOCIAL", "other" + discord, Ct);
        var sameDiscord = await accounts.RegisterSocialAsync("Social2", discord, Ct);

        Assert.False(social.HasPassword);
        Assert.Equal("username", sameName.TakenField);
        Assert.Equal("discordId", sameDiscord.TakenField);
        Assert.Equal(social.Id, (await accounts.FindByDiscordIdAsync(discord, Ct))!.Id);
        Assert.Equal(social.Id, (await accounts.FindByUsernameAsync("social", Ct))!.Id);
        // No password matches an account without one.
        Assert.Null(await accounts.VerifyCredentialsAsync("Social", "", Ct));
        Assert.False(AccountStore.VerifyPassword(social, "Abcdefgh"));
        // The stored record has no hash at all.
        var stored = (string)(await connection.Database.StringGetAsync(keys.User(social.Id)))!;
        Assert.DoesNotContain("passwordHash", stored, StringComparison.Ordinal);
        Assert.Contains(discord, stored, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task DiscordLinksMoveTheirIndexAndAreClearedWithIt(Backend backend)
    {
        var (accounts, keys, connection) = NewAccounts(backend);
        var db = connection.Database;
        var a = (await accounts.RegisterAsync("linker", null, "Abcdefgh", Ct)).Account!;
        var b = (await accounts.RegisterSocialAsync("holder", "held", Ct)).Account!;

        Assert.Equal(AccountChange.Taken, await accounts.SetDiscordIdAsync(a.Id, "held", Ct));
        Assert.Equal(AccountChange.Done, await accounts.SetDiscordIdAsync(a.Id, "first", Ct));
        Assert.Equal(AccountChange.Done, await accounts.SetDiscordIdAsync(a.Id, "first", Ct));
        Assert.Equal(AccountChange.Done, await accounts.SetDiscordIdAsync(a.Id, "second", Ct));
        Assert.False(await db.KeyExistsAsync(keys.UserByDiscord("first")));
        Assert.Equal(a.Id, (await accounts.FindByDiscordIdAsync("second", Ct))!.Id);
        Assert.Equal("second", (await accounts.FindAsync(a.Id, Ct))!.DiscordId);

        Assert.Equal(AccountChange.Done, await accounts.SetDiscordIdAsync(a.Id, null, Ct));
        Assert.Null((await accounts.FindAsync(a.Id, Ct))!.DiscordId);
        Assert.False(await db.KeyExistsAsync(keys.UserByDiscord("second")));
        Assert.Equal(b.Id, (await accounts.FindByDiscordIdAsync("held", Ct))!.Id);
        Assert.Equal(AccountChange.NotFound, await accounts.SetDiscordIdAsync(987654, "x", Ct));
        // The password still logs in.
        Assert.Equal(a.Id, (await accounts.VerifyCredentialsAsync("linker", "Abcdefgh", Ct))!.Id);
    }

    [Theory]
    [InlineData(Backend.Redis)]
    [InlineData(Backend.Garnet)]
    [InlineData(Backend.Cluster)]
    public async Task LoginLimitResetForgetsEveryIpsFailures(Backend backend)
    {
        var (_, keys, connection) = NewAccounts(backend);
        var limiter = new LoginLimiter(connection, keys);
        await limiter.RecordFailureAsync("192.0.2.1", "alice", Ct);
        await limiter.RecordFailureAsync("198.51.100.2", "bob", Ct);
        var other = keys.RateLimit("192.0.2.1", "points");
        await connection.Database.StringSetAsync(other, "5");

        await limiter.ResetAllAsync(Ct);

        Assert.False(await connection.Database.KeyExistsAsync(keys.LoginFailures("192.0.2.1")));
        Assert.False(await connection.Database.KeyExistsAsync(keys.LoginFailures("198.51.100.2", LoginLimiter.HashOf("bob"))));
        // The points budget is not a login limit.
        Assert.True(await connection.Database.KeyExistsAsync(other));
    }
}
