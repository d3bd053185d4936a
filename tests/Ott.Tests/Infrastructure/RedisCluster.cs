using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;

namespace Ott.Tests.Infrastructure;

// A real Redis Cluster (docs/architecture.md §15.2): OTT_TEST_REDIS_CLUSTER (host:port,host:port,... as .ci/run
// exports it) when set, otherwise one this fixture starts: three masters and three replicas from the same
// redis-server binary, joined by `redis-cli --cluster create`. Server is what a test passes on as its Redis (its
// ConnectionString names every endpoint). Tests that fail a master over start a private cluster of their own.
public sealed class RedisCluster : IAsyncLifetime
{
    private readonly List<RedisServer> _nodes = [];
    private string? _dir;

    public RedisServer Server { get; private set; } = null!;

    public IReadOnlyList<RedisServer> Nodes => _nodes;

    public static async Task<RedisCluster> StartPrivateAsync()
    {
        var cluster = new RedisCluster();
        try
        {
            await cluster.StartProcessesAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async Task InitializeAsync()
    {
        var shared = Environment.GetEnvironmentVariable("OTT_TEST_REDIS_CLUSTER");
        if (!string.IsNullOrWhiteSpace(shared))
        {
            Server = RedisServer.Existing(shared.Trim());
            return;
        }
        await StartProcessesAsync();
    }

    // An admin connection to every node, with timeouts longer than a failover.
    public Task<ConnectionMultiplexer> ConnectAsync()
    {
        var options = ConfigurationOptions.Parse(Server.ConnectionString);
        options.AllowAdmin = true;
        options.SyncTimeout = 15_000;
        options.AsyncTimeout = 15_000;
        options.ReconnectRetryPolicy = new LinearRetry(250);
        return ConnectionMultiplexer.ConnectAsync(options);
    }

    // A planned failover of the master that serves key's slot (docs/architecture.md §6.3): CLUSTER FAILOVER on one
    // of its replicas, which waits until the replica has caught up with its master's replication offset before
    // it takes over. Returns "old master -> new master" once every node agrees on the new master and the
    // cluster is ok again.
    public async Task<string> FailOverMasterOfAsync(RedisKey key)
    {
        var any = _nodes.Count > 0 ? _nodes[0] : throw new InvalidOperationException("only a private cluster can be failed over");
        var slot = int.Parse(await any.RawCommandAsync("CLUSTER", "KEYSLOT", key.ToString()), CultureInfo.InvariantCulture);
        var lines = await ClusterNodesAsync(any);
        var master = lines.Single(f => ServesSlot(f, slot));
        var replica = lines.First(f => f[3] == master[0] && !f[2].Contains("fail", StringComparison.Ordinal));
        var (from, to) = (Endpoint(master), Endpoint(replica));
        var promoted = _nodes.Single(n => n.Endpoint == to);
        // A coordinated failover gives up by itself when the replica cannot catch up with its master or win the
        // election in time (5 s in Redis), which a loaded machine can cause; an operator would ask again, and so does
        // this, up to three times, before waiting for every node to agree.
        for (var attempt = 1; ; attempt++)
        {
            var answer = await promoted.RawCommandAsync("CLUSTER", "FAILOVER");
            if (answer != "OK")
            {
                throw new InvalidOperationException($"CLUSTER FAILOVER on {to}: {answer}");
            }
            try
            {
                await WaitUntil.WaitUntilAsync(async () => (await promoted.RawCommandAsync("INFO", "replication")).Contains("role:master", StringComparison.Ordinal),
                    TimeSpan.FromSeconds(10), $"{to} becomes a master");
                break;
            }
            catch (TimeoutException) when (attempt < 3)
            {
            }
        }
        await WaitUntil.WaitUntilAsync(async () =>
        {
            foreach (var node in _nodes)
            {
                var view = (await ClusterNodesAsync(node)).SingleOrDefault(f => ServesSlot(f, slot));
                if (view is null || Endpoint(view) != to
                    || !(await node.RawCommandAsync("CLUSTER", "INFO")).Contains("cluster_state:ok", StringComparison.Ordinal))
                {
                    return false;
                }
            }
            return true;
        }, TimeSpan.FromSeconds(30), $"every node sees {to} as the master of slot {slot}");
        return $"{from} -> {to} (slot {slot})";
    }

    // CLUSTER NODES as this node sees it, one array of fields per node.
    private static async Task<List<string[]>> ClusterNodesAsync(RedisServer node) =>
        [.. (await node.RawCommandAsync("CLUSTER", "NODES")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' '))];

    // A CLUSTER NODES line of a master that serves the slot.
    private static bool ServesSlot(string[] fields, int slot) =>
        fields[2].Contains("master", StringComparison.Ordinal) && fields.Skip(8).Any(range => Covers(range, slot));

    // "ip:port@cport" (or "ip:port@cport,hostname") as "ip:port".
    private static string Endpoint(string[] fields) => fields[1].Split('@')[0];

    private static bool Covers(string range, int slot)
    {
        if (range.StartsWith('['))
        {
            return false; // a slot being imported or migrated
        }
        var parts = range.Split('-');
        var first = int.Parse(parts[0], CultureInfo.InvariantCulture);
        var last = parts.Length > 1 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : first;
        return slot >= first && slot <= last;
    }

    private async Task StartProcessesAsync()
    {
        _dir = Directory.CreateTempSubdirectory("ott-cluster-").FullName;
        // A node timeout well above a loaded machine's stalls: no test here wants an unplanned failover.
        var starts = Enumerable.Range(0, 6).Select(i => RedisServer.StartPrivateAsync(
            "--cluster-enabled", "yes", "--cluster-node-timeout", "5000", "--dir", _dir,
            "--cluster-config-file", $"nodes-{i}.conf"));
        _nodes.AddRange(await Task.WhenAll(starts));
        var endpoints = _nodes.Select(n => n.Endpoint).ToList();
        await RunRedisCliAsync(["--cluster", "create", .. endpoints, "--cluster-replicas", "1", "--cluster-yes"]);
        Server = RedisServer.Existing(string.Join(',', endpoints));
        // Every node agrees that every slot is served, and every replica has synced with its master.
        await WaitUntil.WaitUntilAsync(async () =>
        {
            foreach (var node in _nodes)
            {
                var info = await node.RawCommandAsync("CLUSTER", "INFO");
                if (!info.Contains("cluster_state:ok", StringComparison.Ordinal)
                    || !info.Contains("cluster_known_nodes:6", StringComparison.Ordinal))
                {
                    return false;
                }
                var replication = await node.RawCommandAsync("INFO", "replication");
                if (replication.Contains("role:slave", StringComparison.Ordinal)
                    && !replication.Contains("master_link_status:up", StringComparison.Ordinal))
                {
                    return false;
                }
            }
            return true;
        }, TimeSpan.FromSeconds(30), "the Redis Cluster is ok on every node and every replica is in sync");
    }

    private static async Task RunRedisCliAsync(string[] args)
    {
        var start = new ProcessStartInfo("redis-cli")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("redis-cli did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            var text = await output + await error;
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"redis-cli {string.Join(' ', args)} exited with {process.ExitCode}: {text}"));
        }
    }

    public async Task DisposeAsync()
    {
        await Task.WhenAll(_nodes.Select(n => n.DisposeAsync()));
        _nodes.Clear();
        if (_dir is not null)
        {
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
