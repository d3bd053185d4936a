using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Ott.Tests.Infrastructure;

// The shared Redis of design.md §15.2: OTT_TEST_REDIS (host:port, exported by .ci/run) when set,
// otherwise a redis-server this fixture starts on a free port. Fault tests call StartPrivateAsync
// for a server of their own that they may stall, pause or shut down.
public sealed class RedisServer : IAsyncLifetime
{
    private const string Missing = "redis-server was not found on PATH: install redis-server (or run bash .ci/run)";

    private Process? _process;

    public string Endpoint { get; private set; } = "";

    // What a test passes as ConnectionStrings:Redis.
    public string ConnectionString => $"{Endpoint},abortConnect=false";

    public bool IsPrivate => _process is not null;

    public static async Task<RedisServer> StartPrivateAsync(params string[] extraArgs)
    {
        var server = new RedisServer();
        await server.StartProcessAsync(extraArgs);
        return server;
    }

    public async Task InitializeAsync()
    {
        var shared = Environment.GetEnvironmentVariable("OTT_TEST_REDIS");
        if (!string.IsNullOrWhiteSpace(shared))
        {
            Endpoint = shared.Trim();
            return;
        }

        await StartProcessAsync([]);
    }

    public Task<ConnectionMultiplexer> ConnectAsync(bool allowAdmin = false)
    {
        var options = ConfigurationOptions.Parse(ConnectionString);
        options.AllowAdmin = allowAdmin;
        return ConnectionMultiplexer.ConnectAsync(options);
    }

    public async Task DisposeAsync()
    {
        if (_process is { } process)
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }

            process.Dispose();
            _process = null;
        }
    }

    private async Task StartProcessAsync(string[] extraArgs)
    {
        var binary = FindOnPath("redis-server") ?? throw new InvalidOperationException(Missing);
        // The port is free when probed but may be taken before redis-server binds; one retry.
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var start = new ProcessStartInfo(binary)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in (string[])["--bind", "127.0.0.1", "--port", port.ToString(), "--save", "", "--appendonly", "no", "--enable-debug-command", "local", .. extraArgs])
            {
                start.ArgumentList.Add(arg);
            }

            var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await WaitUntil.WaitUntilAsync(
                    async () => process.HasExited || await AcceptsAsync(port),
                    TimeSpan.FromSeconds(10),
                    $"redis-server accepts connections on port {port}");
            }
            catch
            {
                process.Kill();
                process.Dispose();
                throw;
            }

            if (!process.HasExited)
            {
                _process = process;
                Endpoint = $"127.0.0.1:{port}";
                return;
            }

            process.Dispose();
            if (attempt > 1)
            {
                throw new InvalidOperationException($"redis-server exited at start on port {port}");
            }
        }
    }

    private static async Task<bool> AcceptsAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
