using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Ott.Sync.Storage;
using StackExchange.Redis;

namespace Ott.Tests.Infrastructure.Cluster;

// Several child nodes on one Redis and one key prefix (docs/architecture.md §15.1 multi-node, §15.3 fault
// tests). By default the cluster owns a private redis-server, which fault tests may stall, pause
// or shut down; Redis is an admin connection to it for assertions and fault injection.
internal sealed class TestCluster : IAsyncDisposable
{
    private readonly RedisServer _server;
    private readonly bool _ownsServer;
    private readonly List<ClusterNode> _nodes = [];
    private readonly Dictionary<string, ChaosProxy> _proxies = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyDictionary<string, string?>?> _nodeEnvironment = new(StringComparer.Ordinal);
    private ConnectionMultiplexer? _redis;
    private RedisCluster? _redisCluster;
    private int _named;

    // A cluster on an existing Redis (the shared one, say); it is left running on dispose.
    public TestCluster(RedisServer server, string? keyPrefix = null)
        : this(server, ownsServer: false, keyPrefix)
    {
    }

    private TestCluster(RedisServer server, bool ownsServer, string? keyPrefix)
    {
        _server = server;
        _ownsServer = ownsServer;
        KeyPrefix = keyPrefix ?? $"cluster-{Guid.NewGuid():N}:";
        Keys = new RedisKeys(KeyPrefix);
    }

    // A cluster with its own redis-server, started with extraRedisArgs (e.g. "--appendonly", "yes").
    public static async Task<TestCluster> CreateAsync(params string[] extraRedisArgs)
    {
        var server = await RedisServer.StartPrivateAsync(extraRedisArgs);
        return await ConnectedAsync(new TestCluster(server, ownsServer: true, keyPrefix: null));
    }

    // Nodes on a Redis Cluster (docs/architecture.md §6.3): the shared one (OTT_TEST_REDIS_CLUSTER, as .ci/run
    // exports it), or a private one of three masters and three replicas when there is none or the test fails a
    // master over (RedisCluster is then that cluster, disposed with this one).
    public static async Task<TestCluster> OnRedisClusterAsync(bool privateCluster = false)
    {
        var shared = System.Environment.GetEnvironmentVariable("OTT_TEST_REDIS_CLUSTER");
        var owned = privateCluster || string.IsNullOrWhiteSpace(shared) ? await RedisCluster.StartPrivateAsync() : null;
        var server = owned?.Server ?? RedisServer.Existing(shared!.Trim());
        return await ConnectedAsync(new TestCluster(server, ownsServer: false, keyPrefix: null) { _redisCluster = owned });
    }

    // The new cluster with its admin connection up; disposed (with what it owns) when that fails.
    private static async Task<TestCluster> ConnectedAsync(TestCluster cluster)
    {
        try
        {
            await cluster.ConnectAdminAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public RedisCluster? RedisCluster => _redisCluster;

    public RedisServer Server => _server;

    public string KeyPrefix { get; }

    public RedisKeys Keys { get; }

    // Applied to every node started from now on, under any per-node environment.
    public Dictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<ClusterNode> Nodes
    {
        get
        {
            lock (_nodes)
            {
                return [.. _nodes];
            }
        }
    }

    public ClusterNode this[int index] => Nodes[index];

    // allowAdmin, with timeouts longer than any stall a test injects (DEBUG SLEEP, CLIENT PAUSE).
    public ConnectionMultiplexer Redis => _redis ?? throw new InvalidOperationException("call ConnectAdminAsync (CreateAsync does) first");

    public IDatabase Db => Redis.GetDatabase();

    public IServer RedisAdmin => Redis.GetServer(Redis.GetEndPoints()[0]);

    public async Task ConnectAdminAsync()
    {
        if (_redis is not null)
        {
            return;
        }
        var options = ConfigurationOptions.Parse(_server.ConnectionString);
        options.AllowAdmin = true;
        options.SyncTimeout = 15_000;
        options.AsyncTimeout = 15_000;
        // Back within a quarter second of a Redis restart, as the nodes are (RedisConnection): the
        // default exponential backoff left the test blind, and its reads blocked, for ~8 s.
        options.ReconnectRetryPolicy = new LinearRetry(250);
        _redis = await ConnectionMultiplexer.ConnectAsync(options);
    }

    // Launches count nodes back to back (all forked within milliseconds, before any is waited on),
    // then waits until each listens and answers ready.
    public async Task<IReadOnlyList<ClusterNode>> StartAsync(int count, CancellationToken ct, bool viaProxy = false)
    {
        await ConnectAdminAsync();
        var launched = new List<ClusterNode>(count);
        for (var i = 0; i < count; i++)
        {
            launched.Add(Launch(NextName(), viaProxy, environment: null));
        }
        await Task.WhenAll(launched.Select(n => n.WaitReadyAsync(ct)));
        return launched;
    }

    // One more node; viaProxy routes its Redis through a ChaosProxy (see ProxyOf).
    public async Task<ClusterNode> AddNodeAsync(CancellationToken ct, bool viaProxy = false,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        await ConnectAdminAsync();
        var node = Launch(NextName(), viaProxy, environment);
        await node.WaitReadyAsync(ct);
        return node;
    }

    // Kills the node (unless it has exited) and starts a new process under the same name, proxy
    // and environment in its place. The new process has a new node id.
    public async Task<ClusterNode> RestartAsync(ClusterNode node, CancellationToken ct)
    {
        await node.KillAsync();
        bool viaProxy;
        IReadOnlyDictionary<string, string?>? environment;
        lock (_nodes)
        {
            viaProxy = _proxies.ContainsKey(node.Name);
            environment = _nodeEnvironment.GetValueOrDefault(node.Name);
        }
        var next = Launch(node.Name, viaProxy, environment, replacing: node);
        await node.DisposeAsync();
        await next.WaitReadyAsync(ct);
        return next;
    }

    public ChaosProxy ProxyOf(ClusterNode node)
    {
        lock (_nodes)
        {
            return _proxies.TryGetValue(node.Name, out var proxy)
                ? proxy
                : throw new InvalidOperationException($"node {node.Name} was not started via a proxy");
        }
    }

    public ClusterNode NodeById(string nodeId) =>
        Nodes.SingleOrDefault(n => n.NodeId == nodeId)
        ?? throw new InvalidOperationException($"no running node has id {nodeId}; nodes: {string.Join(", ", Nodes)}");

    public ClusterNode? FindNodeById(string nodeId) => Nodes.SingleOrDefault(n => n.NodeId == nodeId);

    // The lease token `nodeId|epoch|nonce` of a room, or null when nobody holds it.
    public async Task<string?> LeaseTokenAsync(string room)
    {
        var value = await Db.StringGetAsync(Keys.RoomLease(room));
        return value.IsNull ? null : value.ToString();
    }

    public async Task<(string NodeId, long Epoch)?> LeaseOwnerAsync(string room)
    {
        var token = await LeaseTokenAsync(room);
        if (token is null)
        {
            return null;
        }
        var parts = token.Split('|');
        if (parts.Length != 3 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var epoch))
        {
            throw new InvalidOperationException($"lease of {room} is not nodeId|epoch|nonce: {token}");
        }
        return (parts[0], epoch);
    }

    // The node that holds the room's lease, waiting until some running node does.
    public async Task<ClusterNode> WaitForOwnerAsync(string room, CancellationToken ct, TimeSpan? timeout = null)
    {
        ClusterNode? owner = null;
        await WaitUntil.WaitUntilAsync(async () =>
        {
            ct.ThrowIfCancellationRequested();
            owner = await LeaseOwnerAsync(room) is { } lease ? FindNodeById(lease.NodeId) : null;
            return owner is not null;
        }, timeout ?? TimeSpan.FromSeconds(20), $"a running node holds the lease of {room}");
        return owner!;
    }

    // Until every running node's live set is exactly the running nodes' ids.
    public Task WaitForMembershipAsync(CancellationToken ct, TimeSpan? timeout = null, IReadOnlyCollection<ClusterNode>? nodes = null)
    {
        var members = nodes ?? Nodes.Where(n => !n.HasExited).ToList();
        var expected = members.Select(n => n.NodeId).Order(StringComparer.Ordinal).ToList();
        return WaitUntil.WaitUntilAsync(async () =>
        {
            ct.ThrowIfCancellationRequested();
            foreach (var node in members)
            {
                IReadOnlyList<string> live;
                try
                {
                    live = await node.LiveNodesAsync(ct);
                }
                catch (HttpRequestException)
                {
                    return false;
                }
                if (!live.Order(StringComparer.Ordinal).SequenceEqual(expected, StringComparer.Ordinal))
                {
                    return false;
                }
            }
            return true;
        }, timeout ?? TimeSpan.FromSeconds(20), $"every node sees live nodes [{string.Join(", ", expected)}]");
    }

    // POST /api/room/create through the given node, with a token granted by that node.
    public async Task<string> CreateRoomAsync(ClusterNode node, string? name, bool temporary, CancellationToken ct, string? token = null)
    {
        if (!Nodes.Contains(node))
        {
            throw new ArgumentException($"node {node} is not (or no longer) part of this cluster", nameof(node));
        }
        name ??= NewRoomName();
        token ??= await node.GrantAsync(ct);
        using var client = node.ApiClient(token);
        var body = new JsonObject { ["name"] = name, ["isTemporary"] = temporary };
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("/api/room/create", content, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"create {name} on {node.Name} failed: {(int)response.StatusCode} {text}");
        }
        return name;
    }

    public static string NewRoomName() => "r" + Guid.NewGuid().ToString("N")[..20];

    // Every node's captured output, for failure messages.
    public string Logs() =>
        string.Join("\n", Nodes.Select(n => $"----- {n} exited={n.HasExited}\n{n.Output}"));

    public async ValueTask DisposeAsync()
    {
        // Nodes first, so none of them logs a lost Redis on its way out.
        await Task.WhenAll(Nodes.Select(n => n.DisposeAsync().AsTask()));
        ChaosProxy[] proxies;
        lock (_nodes)
        {
            proxies = [.. _proxies.Values];
            _proxies.Clear();
        }
        foreach (var proxy in proxies)
        {
            proxy.Dispose();
        }
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
        if (_ownsServer)
        {
            await _server.DisposeAsync();
        }
        if (_redisCluster is not null)
        {
            await _redisCluster.DisposeAsync();
        }
    }

    private string NextName() => "n" + Interlocked.Increment(ref _named).ToString(CultureInfo.InvariantCulture);

    // Under the nodes' lock: tests may add nodes concurrently, and the maps below go with the list.
    private ClusterNode Launch(string name, bool viaProxy, IReadOnlyDictionary<string, string?>? environment, ClusterNode? replacing = null)
    {
        lock (_nodes)
        {
            var connection = _server.ConnectionString;
            if (viaProxy)
            {
                if (!_proxies.TryGetValue(name, out var proxy))
                {
                    proxy = new ChaosProxy(_server.Endpoint);
                    _proxies[name] = proxy;
                }
                connection = proxy.ConnectionString;
            }
            _nodeEnvironment[name] = environment;
            var merged = new Dictionary<string, string?>(Environment, StringComparer.Ordinal);
            foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
            {
                merged[key] = value;
            }
            var node = ClusterNode.Launch(name, connection, KeyPrefix, merged);
            var at = replacing is null ? -1 : _nodes.IndexOf(replacing);
            if (at >= 0)
            {
                _nodes[at] = node;
            }
            else
            {
                _nodes.Add(node);
            }
            return node;
        }
    }
}
