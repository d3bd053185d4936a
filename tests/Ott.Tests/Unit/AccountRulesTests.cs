using Ott.Sync.Auth;
using Ott.Sync.Endpoints;
using Ott.Sync.Limits;
using Ott.Sync.Storage;

namespace Ott.Tests.Unit;

public sealed class AccountRulesTests
{
    [Theory]
    [InlineData("Abcdefgh", true)]
    [InlineData("abcdefg1", true)]
    [InlineData("abcdefg!", true)]
    [InlineData("ABCDEFG1", true)]
    [InlineData("1234567!", true)]
    [InlineData("abcdefgh", false)]
    [InlineData("ABCDEFGH", false)]
    [InlineData("12345678", false)]
    [InlineData("!@#$%^&*", false)]
    [InlineData("Abcdef1", false)]
    [InlineData("abcdefg~", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void PasswordsNeedEightCharactersFromTwoCategories(string? password, bool strong) =>
        Assert.Equal(strong, AccountEndpoints.IsStrongPassword(password));

    [Theory]
    [InlineData("a@b.co", true)]
    [InlineData("first.last+tag@example.test", true)]
    [InlineData("no-at-sign", false)]
    [InlineData("a@b", false)]
    [InlineData("a b@example.test", false)]
    [InlineData("a@@example.test", false)]
    [InlineData("@example.test", false)]
    public void EmailsNeedALocalPartAndADottedDomain(string email, bool valid) =>
        Assert.Equal(valid, AccountEndpoints.IsEmail(email));

    [Fact]
    public void AccountAndLimitKeysFollowTheDesign()
    {
        var keys = new RedisKeys("ott:");
        Assert.Equal("ott:{users}:42", keys.User(42).ToString());
        Assert.Equal("ott:{users}:byname:alice", keys.UserByName("Alice").ToString());
        Assert.Equal("ott:{users}:byemail:Alice@Example.test", keys.UserByEmail("Alice@Example.test").ToString());
        Assert.Equal("ott:{users}:42:rooms", keys.UserRooms(42).ToString());
        Assert.Equal("ott:{users}:nextid", keys.UserNextId.ToString());
        Assert.Equal("ott:ratelimit:{203.0.113.7}:logins", keys.LoginFailures("203.0.113.7").ToString());
        Assert.Equal("ott:ratelimit:{203.0.113.7}:login:abc", keys.LoginFailures("203.0.113.7", "abc").ToString());
    }

    [Fact]
    public void TheLoginStreakIgnoresCaseAndStoresOnlyAHash()
    {
        Assert.Equal(LoginLimiter.HashOf("Alice"), LoginLimiter.HashOf("alice"));
        Assert.NotEqual(LoginLimiter.HashOf("alice"), LoginLimiter.HashOf("bob"));
        Assert.DoesNotContain("alice", LoginLimiter.HashOf("alice"), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void AnAccountRecordNeverPrintsItsHash()
    {
        var record = new AccountRecord(7, "alice", null, "AQAAAAIAAYagAAAAEHASHHASHHASH");
        Assert.DoesNotContain("HASH", record.ToString(), StringComparison.Ordinal);
        Assert.Contains("alice", record.ToString(), StringComparison.Ordinal);
    }
}
