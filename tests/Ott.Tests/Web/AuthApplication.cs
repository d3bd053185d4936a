using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Ott.Sync.Auth;
using StackExchange.Redis;

namespace Ott.Tests.Web;

// A throwaway redis-server on a free port, or the shared one from OTT_TEST_REDIS (design §15.2).
public sealed class TestRedisServer : IDisposable
{
    private readonly Process? _process;
    private readonly Task? _drain;

    public string Endpoint { get; }

    public TestRedisServer()
    {
        var shared = Environment.GetEnvironmentVariable("OTT_TEST_REDIS");
        if (!string.IsNullOrEmpty(shared))
        {
            Endpoint = shared;
            return;
        }
        if (!File.Exists("/usr/bin/redis-server") && !OnPath("redis-server"))
        {
            throw new InvalidOperationException("install redis-server (or run bash .ci/run)");
        }
        var port = FreePort();
        var start = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--bind", "127.0.0.1", "--port", port.ToString(), "--save", "", "--appendonly", "no" })
        {
            start.ArgumentList.Add(arg);
        }
        _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
        // Ready when it says so; no polling or sleeping.
        string? line;
        while ((line = _process.StandardOutput.ReadLine()) is not null)
        {
            if (line.Contains("Ready to accept connections", StringComparison.Ordinal))
            {
                break;
            }
        }
        if (line is null)
        {
            _process.Dispose();
            throw new InvalidOperationException($"redis-server exited before it was ready on port {port}");
        }
        // Keep draining stdout so the server never blocks on a full pipe; ends when it exits.
        _drain = _process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        Endpoint = $"127.0.0.1:{port}";
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }
        _drain?.GetAwaiter().GetResult();
        _process?.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, name)));
}

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
}

// The app with only auth wired, against its own Redis and a unique key prefix.
public sealed class AuthApplication : WebApplicationFactory<Program>
{
    public const string ApiKey = "test-api-key";

    private readonly TestRedisServer _redis = new();

    public string KeyPrefix { get; } = $"test-auth-{Guid.NewGuid():N}:";

    internal RecordingSessionChangeListener SessionChanges { get; } = new();

    internal FakeAccounts Accounts { get; } = new();

    internal SessionStore Sessions => Services.GetRequiredService<SessionStore>();

    internal IDatabase Redis => Services.GetRequiredService<SessionStorage>().Database;

    internal RedisKey SessionRedisKey(string token) => KeyPrefix + "auth:" + SessionStore.KeyOf(token);

    public HttpClient CreateApiClient() =>
        CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("ConnectionStrings:Redis", _redis.Endpoint);
        builder.UseSetting("Storage:KeyPrefix", KeyPrefix);
        builder.UseSetting("Api:Key", ApiKey);
        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<ISessionChangeListener>(SessionChanges);
            services.AddSingleton<IAccountDirectory>(Accounts);
        });
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _redis.Dispose();
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        _redis.Dispose();
    }
}
