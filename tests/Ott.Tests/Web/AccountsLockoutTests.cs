using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Limits;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;

namespace Ott.Tests.Web;

// The app with rate limiting on (test factories turn it off, docs/architecture.md §17).
public sealed class RateLimitedApplication : OttApplication
{
    public RateLimitedApplication() => Settings["RateLimit:Enabled"] = "true";

    internal LoginLimiter Limiter => Services.GetRequiredService<LoginLimiter>();
}

// Protocol §9 login limits over HTTP and on the limiter itself, against real Redis.
public sealed class AccountsLockoutTests(RateLimitedApplication app) : IClassFixture<RateLimitedApplication>
{
    private async Task<(HttpStatusCode Status, JsonObject Body, TimeSpan? RetryAfter)> LoginAsync(string user, string password)
    {
        using var client = app.ApiClient(await app.GrantAsync());
        using var response = await client.PostAsync("/api/user/login",
            OttApplication.Json(new JsonObject { ["user"] = user, ["password"] = password }));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonNode.Parse(text)!.AsObject(), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task TenConsecutiveFailuresLockTheIdentifierForAnHour()
    {
        var account = await app.RegisterAsync();
        for (var i = 0; i < LoginLimiter.MaxConsecutiveFailures; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(account.Username, "Wrong-pass" + i)).Status);
        }

        // Even the right password is refused now, under any case of the name.
        var (status, body, retryAfter) = await LoginAsync(account.Username.ToUpperInvariant(), account.Password);

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("""{"error":{"name":"TooManyRequests","message":"Too many attempts."}}""", body.ToJsonString());
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
        // Another identifier from the same IP is unaffected.
        var other = await app.RegisterAsync();
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(other.Username, other.Password)).Status);
    }

    [Fact]
    public async Task ASuccessEndsTheStreak()
    {
        var account = await app.RegisterAsync();
        for (var i = 0; i < LoginLimiter.MaxConsecutiveFailures - 1; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(account.Email, "Wrong-pass" + i)).Status);
        }
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(account.Email, account.Password)).Status);
        for (var i = 0; i < LoginLimiter.MaxConsecutiveFailures - 1; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(account.Email, "Wrong-pass" + i)).Status);
        }

        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(account.Email, account.Password)).Status);
    }

    [Fact]
    public async Task AHundredFailuresFromOneIpBlockItForADayWhateverTheIdentifier()
    {
        var ip = "203.0.113." + Random.Shared.Next(1, 255);
        for (var i = 0; i < LoginLimiter.MaxFailuresPerIp; i++)
        {
            Assert.Null(await app.Limiter.BlockedForAsync(ip, "someone" + i, CancellationToken.None));
            await app.Limiter.RecordFailureAsync(ip, "someone" + i, CancellationToken.None);
        }

        var blocked = await app.Limiter.BlockedForAsync(ip, "anyone-else", CancellationToken.None);
        var withoutIdentifier = await app.Limiter.BlockedForAsync(ip, null, CancellationToken.None);

        Assert.NotNull(blocked);
        Assert.InRange(blocked!.Value, TimeSpan.FromDays(1) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(1));
        Assert.NotNull(withoutIdentifier);
        Assert.Null(await app.Limiter.BlockedForAsync("198.51.100.1", "anyone-else", CancellationToken.None));
    }
}
