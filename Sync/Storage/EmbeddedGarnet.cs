using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Garnet;
using StackExchange.Redis;

namespace Ott.Sync.Storage;

// The in-process store used when no ConnectionStrings:Redis is set (docs/architecture.md §6.2).
internal sealed partial class EmbeddedGarnet : IDisposable
{
    private readonly GarnetServer _server;
    private bool _disposed;

    private EmbeddedGarnet(GarnetServer server, int port, string dataDir)
    {
        _server = server;
        Port = port;
        DataDir = dataDir;
    }

    public int Port { get; }

    public string DataDir { get; }

    public EndPoint EndPoint => new IPEndPoint(IPAddress.Loopback, Port);

    public static EmbeddedGarnet Start(StorageOptions options, string dataDir, ILoggerFactory loggerFactory)
    {
        Directory.CreateDirectory(dataDir);
        var logger = loggerFactory.CreateLogger<EmbeddedGarnet>();
        for (var attempt = 1; ; attempt++)
        {
            // --port 0 binds but the bound port cannot be read back, so pick one and accept that
            // another process may take it before Garnet binds: retry once on that race.
            var port = FreeLoopbackPort();
            GarnetServer? server = null;
            try
            {
                server = new GarnetServer(Arguments(port, dataDir, options), loggerFactory, cleanupDir: false);
                server.Start();
                Log.Started(logger, port, dataDir);
                return new EmbeddedGarnet(server, port, dataDir);
            }
            catch (Exception ex) when (attempt == 1 && IsBindFailure(ex))
            {
                server?.Dispose(deleteDir: false);
                Log.BindRace(logger, port, ex);
            }
            catch
            {
                server?.Dispose(deleteDir: false);
                throw;
            }
        }
    }

    // Exactly the verified list of docs/architecture.md §6.2; each flag's reason is written there.
    internal static string[] Arguments(int port, string dataDir, StorageOptions options) =>
    [
        "--bind", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture), "-q",
        "--lua", "true", "--lua-transaction-mode", "true",
        "--device-type", "RandomAccess",
        "--checkpointdir", dataDir, "--recover", "true",
        "--storage-tier", "true", "--logdir", Path.Combine(dataDir, "log"),
        "--memory", options.EmbeddedMemory, "--page", "1m", "--segment", "64m", "--index", options.EmbeddedIndex,
        "--compaction-type", "Lookup", "--compaction-freq", "30", "--compaction-max-segments", "8",
        "--aof", "true", "--aof-commit-freq", "0", "--aof-memory", "8m", "--aof-page-size", "2m",
        "--aof-commit-wait", "true",
        "--aof-segment-size", "32m",
        "--aof-size-limit", "128m", "--aof-size-limit-enforce-frequency", "1",
        "--checkpoint-freq", ((long)options.CheckpointInterval.TotalSeconds).ToString(CultureInfo.InvariantCulture),
    ];

    // Embedded mode is single-node by construction: only this process's previous incarnation can
    // have left leases or membership behind, so a restart must neither wait for its own old
    // leases nor forward to its own dead node id.
    public static async Task ClearLeftoversAsync(IConnectionMultiplexer multiplexer, RedisKeys keys, CancellationToken ct)
    {
        var db = multiplexer.GetDatabase();
        // Explicit SCAN rather than KEYS (which Garnet has been seen to answer by closing the
        // connection) or IServer.KeysAsync (which picks the command from the reported version).
        RedisValue cursor = "0";
        do
        {
            var page = (RedisResult[])(await db.ExecuteAsync("SCAN", cursor, "MATCH", keys.RoomLeasePattern, "COUNT", 1000).WaitAsync(ct))!;
            cursor = (RedisValue)page[0];
            var found = (RedisKey[])page[1]!;
            if (found.Length > 0)
            {
                await db.KeyDeleteAsync(found).WaitAsync(ct);
            }
        }
        while (cursor != "0");
        await db.KeyDeleteAsync(keys.ClusterNodes).WaitAsync(ct);
    }

    // SAVE takes a Garnet checkpoint, so the next start recovers from it instead of replaying
    // the whole AOF. Needs the embedded connection's allowAdmin.
    public async Task CheckpointAsync(IConnectionMultiplexer multiplexer, CancellationToken ct)
    {
        var server = multiplexer.GetServer(EndPoint);
        await server.ExecuteAsync("SAVE").WaitAsync(ct);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        // A plain Dispose() deletes the data directory.
        _server.Dispose(deleteDir: false);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool IsBindFailure(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is SocketException)
            {
                return true;
            }
        }

        return false;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Embedded Garnet listening on 127.0.0.1:{Port}, data in {DataDir}")]
        public static partial void Started(ILogger logger, int port, string dataDir);

        [LoggerMessage(2, LogLevel.Warning, "Embedded Garnet could not bind port {Port}; retrying on another port")]
        public static partial void BindRace(ILogger logger, int port, Exception exception);
    }
}
