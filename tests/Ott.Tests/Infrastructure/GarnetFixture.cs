using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging.Abstractions;
using Ott.Sync.Storage;

namespace Ott.Tests.Infrastructure;

// Embedded Garnet in a temporary directory, reached through the same RedisConnection the app
// uses. Tests share it by giving each store its own key prefix.
[SuppressMessage("Design", "CA1001", Justification = "xunit disposes fixtures through IAsyncLifetime.DisposeAsync.")]
public sealed class GarnetFixture : IAsyncLifetime
{
    private RedisConnection? _connection;

    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "ott-garnet-" + Guid.NewGuid().ToString("N"));

    internal RedisConnection Connection => _connection ?? throw new InvalidOperationException("GarnetFixture is not started");

    internal static RedisConnection Open(string dataDir, string prefix = "ott:") =>
        new(connectionString: null, new StorageOptions { KeyPrefix = prefix, DataDir = dataDir }, contentRoot: dataDir, new RedisKeys(prefix), NullLoggerFactory.Instance);

    public async Task InitializeAsync()
    {
        _connection = Open(DataDir);
        await _connection.ConnectAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
        }

        DeleteDirectory(DataDir);
    }

    internal static void DeleteDirectory(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
