using System.Text.Json.Nodes;
using Ott.Testing;

namespace Ott.Tests.Infrastructure.Cluster;

// One node of a multi-node cluster (docs/architecture.md §15.2): Ott.dll as an OttProcess on an external
// Redis shared with its siblings, with the fault-test timings of §15.3, plus what the tests ask a
// node (its id, /debug/ownership, clients). Launch and the wait are separate so a cluster can fork
// all its nodes within a few milliseconds and only then wait for them (T1).
internal sealed class ClusterNode : IAsyncDisposable
{
    public const string ApiKey = "test-api-key";

    private readonly OttProcess _process;

    private ClusterNode(string name, OttProcess process, string redisConnectionString)
    {
        Name = name;
        _process = process;
        RedisConnectionString = redisConnectionString;
    }

    // What every cluster node gets on top of OttChildProcess.BaseEnvironment; per-node overrides are applied on top.
    public static IReadOnlyDictionary<string, string> DefaultEnvironment { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Debug__Endpoints"] = "true",
        ["Api__Key"] = ApiKey,
        ["Lease__Ttl"] = "00:00:02",
        ["Lease__RenewInterval"] = "00:00:00.400",
        ["Cluster__HeartbeatInterval"] = "00:00:00.500",
        ["Cluster__NodeTimeout"] = "00:00:01.500",
        ["Lifecycle__DrainTimeout"] = "00:00:05",
    };

    public string Name { get; }

    // The node's own id (Node:Name plus a random suffix), known once WaitReadyAsync has returned.
    public string NodeId { get; private set; } = "";

    public Uri BaseAddress => _process.BaseAddress;

    public bool IsListening => _process.IsListening;

    public int Pid => _process.Pid;

    public DateTime LaunchedAt => _process.LaunchedAt;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    // The Redis connection string this node was given (the proxy's, when routed through one).
    public string RedisConnectionString { get; }

    public string Output => _process.Output;

    // Forks the process and returns at once; await WaitListeningAsync or WaitReadyAsync (or use StartAsync).
    public static ClusterNode Launch(string name, string redisConnectionString, string keyPrefix,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var merged = DefaultEnvironment.ToDictionary(e => e.Key, string? (e) => e.Value, StringComparer.Ordinal);
        merged["ConnectionStrings__Redis"] = redisConnectionString;
        merged["Storage__KeyPrefix"] = keyPrefix;
        merged["Node__Name"] = name;
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            merged[key] = value;
        }
        return new ClusterNode(name, OttChildProcess.Launch(merged, $"node {name}"), redisConnectionString);
    }

    public static async Task<ClusterNode> StartAsync(string name, string redisConnectionString, string keyPrefix,
        IReadOnlyDictionary<string, string?>? environment, CancellationToken ct)
    {
        var node = Launch(name, redisConnectionString, keyPrefix, environment);
        try
        {
            await node.WaitListeningAsync(ct);
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    public Task WaitListeningAsync(CancellationToken ct) => _process.WaitListeningAsync(ct);

    // Polls /health/ready until 200 (store answered, node settled, restore done), then learns the node id.
    public async Task WaitReadyAsync(CancellationToken ct, TimeSpan? timeout = null)
    {
        await _process.WaitReadyAsync("/health/ready", timeout ?? TimeSpan.FromSeconds(30), ct);
        NodeId = (await OwnershipAsync(ct))["nodeId"]!.GetValue<string>();
    }

    public Task<bool> IsReadyAsync(CancellationToken ct) => _process.IsReadyAsync(ct);

    // GET /debug/ownership: nodeId, liveNodes, clockOffsetMs, draining, rooms[{room, token, epoch, deadlineSeconds, ...}].
    public async Task<JsonObject> OwnershipAsync(CancellationToken ct)
    {
        var text = await _process.Http.GetStringAsync(new Uri("/debug/ownership", UriKind.Relative), ct);
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task<IReadOnlyList<string>> LiveNodesAsync(CancellationToken ct) =>
        [.. (await OwnershipAsync(ct))["liveNodes"]!.AsArray().Select(n => n!.GetValue<string>())];

    public HttpClient ApiClient(string? token = null) => _process.ApiClient(token);

    public HttpClient AdminClient()
    {
        var client = ApiClient();
        client.DefaultRequestHeaders.Add("apikey", ApiKey);
        return client;
    }

    public Task<string> GrantAsync(CancellationToken ct) => _process.GrantAsync(ct);

    // A real ClientWebSocket that authenticates (minting a token unless given) and waits for `you`.
    public Task<OttTestClient> JoinAsync(string room, string? token, CancellationToken ct) => _process.JoinAsync(room, token, ct);

    // SIGKILL: no shutdown code runs; the node's clients see no close frame.
    public Task KillAsync() => _process.KillAsync();

    // SIGTERM: the host's graceful shutdown (docs/architecture.md §10.4), awaited to the process's exit.
    public Task TerminateAsync(CancellationToken ct) => _process.TerminateAsync(ct);

    // SIGSTOP: the process freezes mid-flight, sockets and leases and all (T4, T8).
    public void Stop() => _process.Stop();

    public void Continue() => _process.Continue();

    public override string ToString() => $"{Name} ({NodeId}, pid {Pid}, {(_process.IsListening ? BaseAddress : "not listening")})";

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
