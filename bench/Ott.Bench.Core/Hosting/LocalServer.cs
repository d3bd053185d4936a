using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ott.Testing;

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
    // A Redis Cluster of three masters (no replicas) from the same redis-server binary.
    Cluster,
}

// Ott or the baseline as a child process (the shared OttProcess harness) on a free loopback port,
// with Ott's store either a redis-server child, a three-master Redis Cluster of redis-server children, or
// embedded Garnet in a fresh data directory. The
// generator never shares a process with the server it measures.
internal sealed class LocalServer : IBenchTarget
{
    private readonly ServerKind _kind;
    private readonly StoreKind _store;
    private readonly string _serverDll;
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "ott-bench-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Uri[] _urls;
    private readonly OttProcess?[] _servers;
    private readonly bool[] _stopped;
    private readonly IReadOnlyDictionary<string, string?> _environment;
    private Process? _redis;
    private readonly List<Process> _clusterNodes = [];

    // nodes > 1 (Ott on redis-server only): N Ott processes on one redis-server and one key prefix,
    // each on its own port with Node__Name=bench-<i>; node 1 is BaseUrl. `environment` is added to
    // every node's (failover's short lease and heartbeat timings).
    public LocalServer(ServerKind kind, StoreKind store, string serverDll, int nodes = 1, IReadOnlyDictionary<string, string?>? environment = null)
    {
        _kind = kind;
        _store = store;
        _environment = environment ?? new Dictionary<string, string?>();
        if (nodes < 1 || (nodes > 1 && (kind != ServerKind.Ott || store == StoreKind.Embedded)))
        {
            throw new ArgumentException("--nodes N > 1 needs the Ott target with --store redis or cluster", nameof(nodes));
        }
        _serverDll = Path.GetFullPath(serverDll);
        if (!File.Exists(_serverDll))
        {
            throw new FileNotFoundException($"{_serverDll} not found; build it with -c Release first", _serverDll);
        }
        _urls = Enumerable.Range(0, nodes).Select(_ => new Uri($"http://127.0.0.1:{LoopbackPort.Free()}")).ToArray();
        _servers = new OttProcess?[nodes];
        _stopped = new bool[nodes];
        BaseUrl = _urls[0];
    }

    public string Name => _kind == ServerKind.Baseline ? "baseline"
        : _store == StoreKind.Embedded ? "ott-embedded"
        : _store == StoreKind.Cluster ? (_urls.Length == 1 ? "ott-cluster" : $"ott-cluster-{_urls.Length}nodes")
        : _urls.Length == 1 ? "ott-redis" : $"ott-redis-{_urls.Length}nodes";

    public Uri BaseUrl { get; }

    public IReadOnlyList<Uri> NodeUrls => _urls;

    public int? ServerPid => _servers[0] is { HasExited: false } p ? p.Pid : null;

    public IReadOnlyList<int> ServerPids => _servers.Where(p => p is { HasExited: false }).Select(p => p!.Pid).ToList();

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
        if (_kind == ServerKind.Ott && _store == StoreKind.Cluster && _clusterNodes.Count == 0)
        {
            await StartClusterAsync(ct);
        }
        // One node after the other, node 1 first: each is ready (and heartbeating) before the next starts.
        for (var i = 0; i < _urls.Length; i++)
        {
            await StartNodeAsync(i, ct);
        }
    }

    // The first start launches the node; after StopAsync it is restarted on the same port and data dir.
    private async Task StartNodeAsync(int i, CancellationToken ct)
    {
        var node = _urls.Length == 1 ? Name : $"{Name} node {i + 1}";
        if (_servers[i] is { } stopped)
        {
            await stopped.RestartAsync(ct);
        }
        else
        {
            var environment = new Dictionary<string, string?>(StringComparer.Ordinal)
            {
                // docs/architecture.md §16: the bench drives thousands of sockets from 127.0.0.1.
                ["Connections__MaxPerIp"] = "0",
                ["RateLimit__Enabled"] = "false",
                ["Storage__DataDir"] = _urls.Length == 1 ? _dataDir : Path.Combine(_dataDir, $"node{i + 1}"),
                ["Logging__LogLevel__Default"] = "Warning",
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["ConnectionStrings__Redis"] = Redis ?? "",
            };
            if (_urls.Length > 1)
            {
                environment["Node__Name"] = $"bench-{i + 1}";
            }
            foreach (var (key, value) in _environment)
            {
                environment[key] = value;
            }
            _servers[i] = OttProcess.Launch(_serverDll, environment, _urls[i], node);
        }
        // /api/status, which the baseline serves too.
        await _servers[i]!.WaitReadyAsync("/api/status", TimeSpan.FromSeconds(60), ct);
    }

    // Stops every node gracefully (SIGTERM to all of them at once, SIGKILL after 30 s), keeping the store.
    // A node left stopped by SIGSTOP is continued first, or it could not act on the SIGTERM.
    public async Task StopAsync(CancellationToken ct)
    {
        for (var i = 0; i < _servers.Length; i++)
        {
            if (_stopped[i] && _servers[i] is { HasExited: false } frozen)
            {
                frozen.Continue();
            }
            _stopped[i] = false;
        }
        await Task.WhenAll(_servers.OfType<OttProcess>().Select(server => server.TerminateAsync(killAfter: TimeSpan.FromSeconds(30), ct)));
    }

    public async Task SignalNodeAsync(int node, NodeSignal signal)
    {
        var server = _servers[node] ?? throw new InvalidOperationException($"node {node + 1} was never started");
        switch (signal)
        {
            case NodeSignal.Kill:
                await server.KillAsync();
                _stopped[node] = false;
                break;
            case NodeSignal.Stop:
                server.Stop();
                _stopped[node] = true;
                break;
            case NodeSignal.Continue:
                server.Continue();
                _stopped[node] = false;
                break;
        }
    }

    private async Task StartRedisAsync(CancellationToken ct)
    {
        var port = LoopbackPort.Free();
        _redis = await LaunchRedisAsync(port, [], ct);
        Redis = $"127.0.0.1:{port}";
    }

    // Three masters on free ports, joined by redis-cli --cluster create; Redis names all three.
    private async Task StartClusterAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(_dataDir);
        var endpoints = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var port = LoopbackPort.Free();
            _clusterNodes.Add(await LaunchRedisAsync(port,
                ["--cluster-enabled", "yes", "--cluster-config-file", $"nodes-{port}.conf", "--dir", _dataDir], ct));
            endpoints.Add($"127.0.0.1:{port}");
        }
        var psi = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["--cluster", "create", .. endpoints, "--cluster-replicas", "0", "--cluster-yes"])
        {
            psi.ArgumentList.Add(arg);
        }
        using (var create = Process.Start(psi) ?? throw new InvalidOperationException("could not start redis-cli"))
        {
            var output = create.StandardOutput.ReadToEndAsync(ct);
            await create.WaitForExitAsync(ct);
            if (create.ExitCode != 0)
            {
                throw new InvalidOperationException($"redis-cli --cluster create failed: {await output}");
            }
        }
        Redis = string.Join(',', endpoints);
        // Every master agrees the cluster is ok before Ott connects.
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var ok = true;
            foreach (var endpoint in endpoints)
            {
                await using var probe = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(endpoint + ",connectTimeout=2000,allowAdmin=true");
                var info = (string?)await probe.GetServer(endpoint).ExecuteAsync("CLUSTER", "INFO");
                ok &= info?.Contains("cluster_state:ok", StringComparison.Ordinal) == true;
            }
            if (ok)
            {
                return;
            }
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(30))
            {
                throw new InvalidOperationException("the bench's Redis Cluster did not reach cluster_state:ok");
            }
            await Task.Delay(100, ct);
        }
    }

    private static async Task<Process> LaunchRedisAsync(int port, string[] extraArgs, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["--bind", "127.0.0.1", "--port", port.ToString(), "--save", "", "--appendonly", "no", "--daemonize", "no", .. extraArgs])
        {
            psi.ArgumentList.Add(arg);
        }
        var redis = Process.Start(psi) ?? throw new InvalidOperationException("could not start redis-server");
        redis.OutputDataReceived += (_, _) => { };
        redis.BeginOutputReadLine();
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port, ct);
                return redis;
            }
            catch (SocketException) when (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(10) && !redis.HasExited)
            {
                await Task.Delay(20, ct);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync(CancellationToken.None);
        }
        finally
        {
            foreach (var server in _servers.OfType<OttProcess>())
            {
                await server.DisposeAsync();
            }
            if (_redis is { HasExited: false } redis)
            {
                redis.Kill();
                await redis.WaitForExitAsync();
            }
            _redis?.Dispose();
            foreach (var node in _clusterNodes)
            {
                if (!node.HasExited)
                {
                    node.Kill();
                    await node.WaitForExitAsync();
                }
                node.Dispose();
            }
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
