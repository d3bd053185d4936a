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
    private readonly Uri[] _urls;
    private readonly Process?[] _servers;
    private Process? _redis;

    // nodes > 1 (Ott on redis-server only): N Ott processes on one redis-server and one key prefix,
    // each on its own port with Node__Name=bench-<i>; node 1 is BaseUrl.
    public LocalServer(ServerKind kind, StoreKind store, string serverDll, int nodes = 1)
    {
        _kind = kind;
        _store = store;
        if (nodes < 1 || (nodes > 1 && (kind != ServerKind.Ott || store != StoreKind.Redis)))
        {
            throw new ArgumentException("--nodes N > 1 needs the Ott target with --store redis", nameof(nodes));
        }
        _serverDll = Path.GetFullPath(serverDll);
        if (!File.Exists(_serverDll))
        {
            throw new FileNotFoundException($"{_serverDll} not found; build it with -c Release first", _serverDll);
        }
        _urls = Enumerable.Range(0, nodes).Select(_ => new Uri($"http://127.0.0.1:{FreePort()}")).ToArray();
        _servers = new Process?[nodes];
        BaseUrl = _urls[0];
    }

    public string Name => _kind == ServerKind.Baseline ? "baseline"
        : _store == StoreKind.Embedded ? "ott-embedded"
        : _urls.Length == 1 ? "ott-redis" : $"ott-redis-{_urls.Length}nodes";

    public Uri BaseUrl { get; }

    public IReadOnlyList<Uri> NodeUrls => _urls;

    public int? ServerPid => _servers[0] is { HasExited: false } p ? p.Id : null;

    public IReadOnlyList<int> ServerPids => _servers.Where(p => p is { HasExited: false }).Select(p => p!.Id).ToList();

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
        // One node after the other, node 1 first: each is ready (and heartbeating) before the next starts.
        for (var i = 0; i < _urls.Length; i++)
        {
            _servers[i] = await StartNodeAsync(i, ct);
        }
    }

    private async Task<Process> StartNodeAsync(int i, CancellationToken ct)
    {
        var url = _urls[i];
        var psi = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { _serverDll, "--urls", url.ToString().TrimEnd('/') },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // design.md §16: the bench drives thousands of sockets from 127.0.0.1.
        psi.Environment["Connections__MaxPerIp"] = "0";
        psi.Environment["RateLimit__Enabled"] = "false";
        psi.Environment["Storage__DataDir"] = _urls.Length == 1 ? _dataDir : Path.Combine(_dataDir, $"node{i + 1}");
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment["ConnectionStrings__Redis"] = Redis ?? "";
        if (_urls.Length > 1)
        {
            psi.Environment["Node__Name"] = $"bench-{i + 1}";
        }
        var server = Process.Start(psi) ?? throw new InvalidOperationException("could not start the server");
        var node = _urls.Length == 1 ? Name : $"{Name} node {i + 1}";
        // Drain the pipes so a chatty server never blocks on a full one.
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) { ServerErrors.Enqueue($"[{node}] {line}"); } };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        using var api = new OttApi(url);
        var deadline = Stopwatch.GetTimestamp();
        while (!await api.ReadyAsync(ct))
        {
            if (server.HasExited || Stopwatch.GetElapsedTime(deadline) > TimeSpan.FromSeconds(60))
            {
                throw new InvalidOperationException($"{node} did not become ready: {string.Join('\n', ServerErrors.TakeLast(20))}");
            }
            await Task.Delay(20, ct);
        }
        return server;
    }

    // The servers' stderr, kept to explain a failed start.
    private System.Collections.Concurrent.ConcurrentQueue<string> ServerErrors { get; } = new();

    // Stops every node gracefully (SIGTERM to all of them at once), keeping the store.
    public async Task StopAsync(CancellationToken ct)
    {
        var stops = new List<Task>();
        for (var i = _servers.Length - 1; i >= 0; i--)
        {
            if (_servers[i] is { } server)
            {
                _servers[i] = null;
                stops.Add(StopNodeAsync(server, ct));
            }
        }
        await Task.WhenAll(stops);
    }

    private static async Task StopNodeAsync(Process server, CancellationToken ct)
    {
        if (server.HasExited)
        {
            server.Dispose();
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
