using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ott.Bench.Wire;

namespace Ott.Bench.Hosting;

internal enum ServerKind
{
    Ott,
    Baseline,
}

internal enum StoreKind
{
    Redis,
    Embedded,
}

// Ott or the baseline as a child process on a free loopback port, with Ott's store either a
// redis-server child or embedded Garnet in a fresh data directory. The generator never shares a
// process with the server it measures.
internal sealed class LocalServer : IBenchTarget
{
    private readonly ServerKind _kind;
    private readonly StoreKind _store;
    private readonly string _serverDll;
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "ott-bench-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly int _port = FreePort();
    private Process? _server;
    private Process? _redis;

    public LocalServer(ServerKind kind, StoreKind store, string serverDll)
    {
        _kind = kind;
        _store = store;
        _serverDll = Path.GetFullPath(serverDll);
        if (!File.Exists(_serverDll))
        {
            throw new FileNotFoundException($"{_serverDll} not found; build it with -c Release first", _serverDll);
        }
        BaseUrl = new Uri($"http://127.0.0.1:{_port}");
    }

    public string Name => _kind == ServerKind.Baseline ? "baseline" : _store == StoreKind.Redis ? "ott-redis" : "ott-embedded";

    public Uri BaseUrl { get; }

    public int? ServerPid => _server is { HasExited: false } p ? p.Id : null;

    public int? StorePid => _redis is { HasExited: false } p ? p.Id : null;

    public string? Redis { get; private set; }

    public string KeyPrefix => "ott:";

    public bool CanRestart => true;

    public async Task StartAsync(CancellationToken ct)
    {
        if (_kind == ServerKind.Ott && _store == StoreKind.Redis && _redis is null)
        {
            await StartRedisAsync(ct);
        }
        var psi = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { _serverDll, "--urls", BaseUrl.ToString().TrimEnd('/') },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // design.md §16: the bench drives thousands of sockets from 127.0.0.1.
        psi.Environment["Connections__MaxPerIp"] = "0";
        psi.Environment["RateLimit__Enabled"] = "false";
        psi.Environment["Storage__DataDir"] = _dataDir;
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment["ConnectionStrings__Redis"] = Redis ?? "";
        _server = Process.Start(psi) ?? throw new InvalidOperationException("could not start the server");
        // Drain the pipes so a chatty server never blocks on a full one.
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) { ServerErrors.Enqueue(line); } };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();
        using var api = new OttApi(BaseUrl);
        var deadline = Stopwatch.GetTimestamp();
        while (!await api.ReadyAsync(ct))
        {
            if (_server.HasExited || Stopwatch.GetElapsedTime(deadline) > TimeSpan.FromSeconds(60))
            {
                throw new InvalidOperationException($"{Name} did not become ready: {string.Join('\n', ServerErrors.TakeLast(20))}");
            }
            await Task.Delay(20, ct);
        }
    }

    // The server's stderr, kept to explain a failed start.
    private System.Collections.Concurrent.ConcurrentQueue<string> ServerErrors { get; } = new();

    public async Task StopAsync(CancellationToken ct)
    {
        if (_server is not { HasExited: false } server)
        {
            return;
        }
        using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString()]))
        {
            await kill.WaitForExitAsync(ct);
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        try
        {
            await server.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            server.Kill(entireProcessTree: true);
        }
        server.Dispose();
        _server = null;
    }

    private async Task StartRedisAsync(CancellationToken ct)
    {
        var port = FreePort();
        var psi = new ProcessStartInfo("redis-server")
        {
            ArgumentList = { "--bind", "127.0.0.1", "--port", port.ToString(), "--save", "", "--appendonly", "no", "--daemonize", "no" },
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        _redis = Process.Start(psi) ?? throw new InvalidOperationException("could not start redis-server");
        _redis.OutputDataReceived += (_, _) => { };
        _redis.BeginOutputReadLine();
        Redis = $"127.0.0.1:{port}";
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port, ct);
                return;
            }
            catch (SocketException) when (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(10) && !_redis.HasExited)
            {
                await Task.Delay(20, ct);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync(CancellationToken.None);
        }
        finally
        {
            if (_redis is { HasExited: false } redis)
            {
                redis.Kill();
                await redis.WaitForExitAsync();
            }
            _redis?.Dispose();
            try
            {
                Directory.Delete(_dataDir, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }
}
