using StackExchange.Redis;

namespace Ott.Sync.Storage;

// Owns the process's one multiplexer and, in embedded mode, the Garnet server behind it. The
// connection is made once: by the host before any hosted service starts (StartingAsync), or by
// the first caller of ConnectAsync, whichever comes first.
internal sealed partial class RedisConnection : IHostedLifecycleService, IAsyncDisposable, IDisposable
{
    // Design.md §6.1: a stalled call must resolve before the owner's hold window ends.
    private const int DefaultAsyncTimeoutMs = 2000;

    // Embedded leases last minutes (§6.2), and SAVE at shutdown may take a while.
    private const int EmbeddedAsyncTimeoutMs = 30_000;

    private readonly string? _connectionString;
    private readonly StorageOptions _options;
    private readonly string _dataDir;
    private readonly RedisKeys _keys;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private Task? _connecting;
    private IConnectionMultiplexer? _multiplexer;
    private EmbeddedGarnet? _garnet;
    private Task? _disposal;

    public RedisConnection(string? connectionString, StorageOptions options, string contentRoot, RedisKeys keys, ILoggerFactory loggerFactory)
    {
        _connectionString = string.IsNullOrWhiteSpace(connectionString) ? null : connectionString;
        _options = options;
        _dataDir = Path.GetFullPath(Path.Combine(contentRoot, options.DataDir));
        _keys = keys;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<RedisConnection>();
    }

    public bool IsEmbedded => _connectionString is null;

    // For code that picks defaults before anything connects (the embedded lease timings, §6.2).
    public static bool UsesEmbedded(IConfiguration configuration) =>
        string.IsNullOrWhiteSpace(configuration.GetConnectionString("Redis"));

    public IConnectionMultiplexer Multiplexer =>
        Volatile.Read(ref _multiplexer)
        ?? throw new InvalidOperationException("Redis is not connected yet; await RedisConnection.ConnectAsync first (the host does so on start).");

    public IDatabase Database => Multiplexer.GetDatabase();

    // Called by SHA; a server that has not seen the script (first call, or a restarted Redis)
    // answers NOSCRIPT, and EVAL then runs it and caches it for the next EVALSHA.
    public async Task<RedisResult> EvaluateAsync(RoomScript script, RedisKey[] keys, RedisValue[] args, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        await ConnectAsync(ct);
        var db = Database;
        try
        {
            return await db.ScriptEvaluateAsync(script.Sha1, keys, args).WaitAsync(ct);
        }
        catch (RedisServerException ex) when (ex.Message.Contains("NOSCRIPT", StringComparison.OrdinalIgnoreCase))
        {
            return await db.ScriptEvaluateAsync(script.Text, keys, args).WaitAsync(ct);
        }
    }

    // Every key matching a SCAN glob, on every primary: on a Redis Cluster each master holds only its own
    // slots' keys. An explicit SCAN, as the embedded store wants it (see EmbeddedGarnet.ClearLeftoversAsync).
    public async Task<List<RedisKey>> ScanAsync(string pattern, CancellationToken ct)
    {
        await ConnectAsync(ct);
        return await ScanAsync(Multiplexer, pattern, ct);
    }

    // Every key matching the pattern on every connected master (each shard of a cluster).
    private static async Task<List<RedisKey>> ScanAsync(IConnectionMultiplexer multiplexer, string pattern, CancellationToken ct)
    {
        var found = new List<RedisKey>();
        foreach (var server in multiplexer.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            RedisValue cursor = "0";
            do
            {
                var page = (RedisResult[])(await server.ExecuteAsync("SCAN", cursor, "MATCH", pattern, "COUNT", 1000).WaitAsync(ct))!;
                cursor = (RedisValue)page[0];
                found.AddRange((RedisKey[])page[1]!);
            }
            while (cursor != "0");
        }
        return found;
    }

    // A Redis Cluster: SPUBLISH counts only the subscribers on the master that ran it, while a subscription may
    // sit on one of its replicas (where StackExchange.Redis resubscribes after a failover), so a count of 0 does
    // not mean nobody listens (docs/architecture.md §9.3).
    public bool IsCluster => Volatile.Read(ref _multiplexer) is { } m && m.GetServers().Any(s => s.ServerType == ServerType.Cluster);

    /// <summary>Connected now (false before the first connect and while the multiplexer reconnects).</summary>
    public bool IsConnected => Volatile.Read(ref _multiplexer) is { IsConnected: true };

    internal EmbeddedGarnet? Embedded => _garnet;

    // Whether a connection string names an option ("asyncTimeout" is not "syncTimeout").
    private static bool Sets(string connectionString, string option) =>
        connectionString.Split(',').Any(part => part.Split('=', 2)[0].Trim().Equals(option, StringComparison.OrdinalIgnoreCase));

    public Task ConnectAsync(CancellationToken ct)
    {
        Task connecting;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposal is not null, this);
            // A failed start may be retried by the next caller; a running or finished one is shared.
            if (_connecting is null || _connecting.IsFaulted || _connecting.IsCanceled)
            {
                _connecting = ConnectCoreAsync();
            }

            connecting = _connecting;
        }

        return connecting.IsCompletedSuccessfully ? connecting : connecting.WaitAsync(ct);
    }

    // Not tied to any caller's token: the connection is shared, and one caller giving up must not
    // leave a half-started Garnet for the next.
    private async Task ConnectCoreAsync()
    {
        if (_connectionString is not null)
        {
            var config = ConfigurationOptions.Parse(_connectionString);
            config.AbortOnConnectFail = false;
            if (!Sets(_connectionString, "asyncTimeout"))
            {
                config.AsyncTimeout = DefaultAsyncTimeoutMs;
            }
            // While the connection is down a call waits in the client's backlog for the sync timeout (5 s by
            // default), not the async one: the same bound, so a call made during a cut or a Redis restart also
            // resolves before the hold window ends (docs/architecture.md §6.1).
            if (!Sets(_connectionString, "syncTimeout"))
            {
                config.SyncTimeout = config.AsyncTimeout;
            }

            config.LoggerFactory ??= _loggerFactory;
            // Reconnect attempts every 250 ms after a Redis restart or a cut, rather than backing off
            // exponentially: a node offline for longer than the lease TTL loses its rooms.
            config.ReconnectRetryPolicy = new LinearRetry(250);
            config.HeartbeatInterval = TimeSpan.FromMilliseconds(250);
            var connected = await ConnectionMultiplexer.ConnectAsync(config);
            Log.Connected(_logger, config.ToString(includePassword: false));
            await MoveLegacyAccountKeysAsync(connected);
            Volatile.Write(ref _multiplexer, connected);
            return;
        }

        // Garnet's Start() is synchronous and takes most of a second.
        var garnet = await Task.Run(() => EmbeddedGarnet.Start(_options, _dataDir, _loggerFactory));
        try
        {
            var config = new ConfigurationOptions
            {
                EndPoints = { garnet.EndPoint },
                AllowAdmin = true,
                AbortOnConnectFail = true,
                AsyncTimeout = EmbeddedAsyncTimeoutMs,
                LoggerFactory = _loggerFactory,
            };
            var multiplexer = await ConnectionMultiplexer.ConnectAsync(config);
            try
            {
                await EmbeddedGarnet.ClearLeftoversAsync(multiplexer, _keys, CancellationToken.None);
                await MoveLegacyAccountKeysAsync(multiplexer);
            }
            catch
            {
                await multiplexer.DisposeAsync();
                throw;
            }

            _garnet = garnet;
            Volatile.Write(ref _multiplexer, multiplexer);
        }
        catch
        {
            garnet.Dispose();
            throw;
        }
    }

    // Accounts were stored under {p}user:… before they shared the {users} hash tag (docs/architecture.md §6.3). Each
    // such key moves to its {p}{users}:… name once (DUMP/RESTORE, as the two names may sit in different cluster
    // slots); a key whose new name exists already is left alone, so nodes starting together cannot clobber each
    // other. Best effort: a failure is logged and the next start tries again.
    private async Task MoveLegacyAccountKeysAsync(ConnectionMultiplexer multiplexer)
    {
        var legacy = _keys.Prefix + "user:";
        try
        {
            var db = multiplexer.GetDatabase();
            var moved = 0;
            foreach (var key in await ScanAsync(multiplexer, legacy + "*", CancellationToken.None))
            {
                RedisKey target = _keys.Users + key.ToString()[legacy.Length..];
                if (await db.KeyDumpAsync(key) is { } dump && !await db.KeyExistsAsync(target))
                {
                    await db.KeyRestoreAsync(target, dump, await db.KeyTimeToLiveAsync(key));
                    moved++;
                }
                await db.KeyDeleteAsync(key);
            }
            if (moved > 0)
            {
                Log.AccountKeysMoved(_logger, moved);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Log.AccountKeysNotMoved(_logger, e);
        }
    }

    Task IHostedLifecycleService.StartingAsync(CancellationToken cancellationToken) => ConnectAsync(cancellationToken);

    Task IHostedService.StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task IHostedLifecycleService.StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task IHostedLifecycleService.StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task IHostedService.StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // The checkpoint and disconnect happen at disposal, after every hosted service has stopped,
    // so rooms released during shutdown are in the checkpoint.
    Task IHostedLifecycleService.StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // Every call returns the one disposal, so no caller goes on while the checkpoint is still being
    // written: the host disposes this service twice (it is also the hosted service), and a caller that
    // stops an embedded app before starting another on its data dir must know Garnet is closed.
    public async ValueTask DisposeAsync()
    {
        TaskCompletionSource? first = null;
        Task? connecting;
        Task disposal;
        lock (_gate)
        {
            if (_disposal is null)
            {
                first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _disposal = first.Task;
            }

            disposal = _disposal;
            connecting = _connecting;
        }

        if (first is not null)
        {
            try
            {
                await DisposeCoreAsync(connecting);
                first.SetResult();
            }
            catch (Exception ex)
            {
                first.SetException(ex);
            }
        }

        await disposal;
    }

    private async Task DisposeCoreAsync(Task? connecting)
    {
        if (connecting is not null)
        {
            // Let an in-flight start finish so its Garnet is not leaked; its failure was reported
            // to whoever awaited it.
            try
            {
                await connecting;
            }
            catch (Exception ex)
            {
                Log.StartFailedAtDispose(_logger, ex);
            }
        }

        var multiplexer = _multiplexer;
        if (_garnet is not null && multiplexer is not null)
        {
            try
            {
                await _garnet.CheckpointAsync(multiplexer, CancellationToken.None);
                Log.Checkpointed(_logger, _garnet.DataDir);
            }
            catch (Exception ex)
            {
                // The AOF still holds every acknowledged write; recovery just replays more of it.
                Log.CheckpointFailed(_logger, ex);
            }
        }

        if (multiplexer is not null)
        {
            await multiplexer.DisposeAsync();
        }

        _garnet?.Dispose();
    }

    // Only for containers disposed synchronously; the host disposes asynchronously.
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Connected to Redis at {Configuration}")]
        public static partial void Connected(ILogger logger, string configuration);

        [LoggerMessage(2, LogLevel.Information, "Embedded store checkpointed in {DataDir}")]
        public static partial void Checkpointed(ILogger logger, string dataDir);

        [LoggerMessage(3, LogLevel.Warning, "Embedded store checkpoint at shutdown failed; the next start replays the AOF")]
        public static partial void CheckpointFailed(ILogger logger, Exception exception);

        [LoggerMessage(4, LogLevel.Debug, "Storage start had failed before dispose")]
        public static partial void StartFailedAtDispose(ILogger logger, Exception exception);

        [LoggerMessage(5, LogLevel.Information, "Moved {Count} account key(s) from {{p}}user:… to their {{p}}{{users}}:… names")]
        public static partial void AccountKeysMoved(ILogger logger, int count);

        [LoggerMessage(6, LogLevel.Warning, "Moving account keys to their {{p}}{{users}}:… names failed; the next start tries again")]
        public static partial void AccountKeysNotMoved(ILogger logger, Exception exception);
    }
}
