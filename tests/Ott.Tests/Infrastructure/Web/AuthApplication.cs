using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Auth;
using StackExchange.Redis;

namespace Ott.Tests.Infrastructure.Web;

// Records session changes so tests can see the room engine would have been told.
internal sealed class RecordingSessionChangeListener : ISessionChangeListener
{
    public ConcurrentQueue<string> Changed { get; } = new();

    public Task SessionChangedAsync(string sessionKey, CancellationToken ct)
    {
        Changed.Enqueue(sessionKey);
        return Task.CompletedTask;
    }
}

// Stands in for AccountStore until accounts exist.
internal sealed class FakeAccounts : IAccountDirectory
{
    public ConcurrentDictionary<long, string> Usernames { get; } = new();

    public Task<string?> FindUsernameAsync(long userId, CancellationToken ct) =>
        Task.FromResult(Usernames.TryGetValue(userId, out var name) ? name : null);

    public Task<AccountRecord?> FindAsync(long userId, CancellationToken ct) =>
        Task.FromResult(Usernames.TryGetValue(userId, out var name) ? new AccountRecord(userId, name, null, null) : null);
}

// The app with recording fakes for the session-change hook and the account lookup, and the
// default (secure) cookie setting.
public sealed class AuthApplication : OttApplication
{
    internal RecordingSessionChangeListener SessionChanges { get; } = new();

    internal FakeAccounts Accounts { get; } = new();

    internal SessionStore Sessions => Services.GetRequiredService<SessionStore>();

    internal IDatabase Redis => Database;

    internal RedisKey SessionRedisKey(string token) => KeyPrefix + "auth:" + SessionStore.KeyOf(token);

    public HttpClient CreateApiClient() => ApiClient();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Http:InsecureCookies", "false");
        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<ISessionChangeListener>(SessionChanges);
            services.AddSingleton<IAccountDirectory>(Accounts);
        });
    }
}
