using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Ott.Testing;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Web;
using static Ott.Tests.Infrastructure.Web.RoomFlow;

namespace Ott.Tests.Embedded;

// docs/architecture.md §6.2, §15.1 "Embedded": no connection string, a data dir, and rooms that survive restarts.
public sealed class EmbeddedRestartTests : IAsyncLifetime, IDisposable
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "ott-embedded-app-" + Guid.NewGuid().ToString("N"));
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));

    private CancellationToken Ct => _timeout.Token;

    public Task InitializeAsync() => Task.CompletedTask;

    public void Dispose() => _timeout.Dispose();

    public async Task DisposeAsync()
    {
        await DeleteDataDirAsync(_dataDir);
    }

    internal static readonly JsonObject Settings = new()
    {
        ["title"] = "Movie night",
        ["description"] = "kept",
        ["visibility"] = "public",
        ["queueMode"] = "loop",
    };

    private OttApplication EmbeddedApp() => new(new RedisServer(), ownsRedis: false, "ott:", new Dictionary<string, string?>
    {
        ["ConnectionStrings:Redis"] = "",
        ["Storage:DataDir"] = _dataDir,
    });

    [Fact]
    public async Task AnEmbeddedAppRestartedOnTheSameDataDirRestoresItsRoom()
    {
        string room;
        int firstStorePort;
        await using (var first = EmbeddedApp())
        {
            await first.InitializeAsync();
            var store = first.Services.GetService(typeof(Ott.Sync.Storage.RedisConnection)) as Ott.Sync.Storage.RedisConnection;
            Assert.True(store is { IsEmbedded: true });
            firstStorePort = store.Embedded!.Port;
            room = await first.CreateRoomAsync(permanent: true, extra: Settings, ct: Ct);
            await using var a = await first.JoinAsync(room, ct: Ct);
            await first.AddAsync(room, a.Token!, new JsonObject
            {
                ["videos"] = new JsonArray(Video(Direct("e0")), Video(Direct("e1")), Video(Direct("e2"))),
            }, Ct);
            await a.SyncAsync(s => s.CurrentId() == Direct("e0"), Ct);
            await a.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = 42.25 }, Ct);
            await a.SyncAsync(s => s.Has("playbackPosition") && s.Position() == 42.25, Ct);
        }

        // A restart never overlaps the old store: the first app's Garnet has written its checkpoint and closed
        // before the second opens the same data dir (it was still checkpointing while the second recovered from it).
        using (var probe = new TcpClient())
        {
            await Assert.ThrowsAnyAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, firstStorePort, Ct).AsTask());
        }

        await using var second = EmbeddedApp();
        await second.InitializeAsync();
        await using var b = await second.JoinAsync(room, ct: Ct);

        AssertIntact(b.Messages[0], "e", 42.25);
    }

    // Garnet may still be removing superseded checkpoint files just after it is disposed.
    internal static Task DeleteDataDirAsync(string dir) => WaitUntil.WaitUntilAsync(() =>
    {
        try
        {
            GarnetFixture.DeleteDirectory(dir);
            return Task.FromResult(true);
        }
        catch (IOException)
        {
            return Task.FromResult(false);
        }
    }, TimeSpan.FromSeconds(10), $"{dir} is deleted");

    internal static void AssertIntact(JsonObject full, string tag, double position)
    {
        Assert.Equal(Direct(tag + "0"), full.CurrentId());
        Assert.Equal([Direct(tag + "1"), Direct(tag + "2")], full.QueueIds());
        Assert.Equal(position, full.Position());
        Assert.False(full["isPlaying"]!.GetValue<bool>());
        foreach (var (key, value) in Settings)
        {
            Assert.True(JsonNode.DeepEquals(value, full[key]), $"{key}: {full[key]?.ToJsonString()}");
        }
    }
}

// docs/architecture.md §15.1 "Embedded": the built server as a child process, killed or stopped, then restarted on its data dir.
public sealed class ChildProcessRestartTests : IAsyncLifetime, IDisposable
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "ott-embedded-child-" + Guid.NewGuid().ToString("N"));
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));

    private CancellationToken Ct => _timeout.Token;

    private static JsonObject Settings => EmbeddedRestartTests.Settings;

    private static void AssertIntact(JsonObject full, string tag, double position) => EmbeddedRestartTests.AssertIntact(full, tag, position);

    public Task InitializeAsync() => Task.CompletedTask;

    public void Dispose() => _timeout.Dispose();

    public async Task DisposeAsync()
    {
        await EmbeddedRestartTests.DeleteDataDirAsync(_dataDir);
    }

    /// <summary>A permanent room with three items, sought to <paramref name="position"/>; returns once the seek's sync arrived.</summary>
    private async Task<(string Room, OttTestClient Client)> PrepareAsync(OttProcess node, string tag, double position)
    {
        var token = await node.GrantAsync(Ct);
        var room = OttApplication.NewRoomName();
        using (var api = node.ApiClient(token))
        {
            var body = Settings.DeepClone().AsObject();
            body["name"] = room;
            body["isTemporary"] = false;
            using var created = await api.PostAsync("/api/room/create", OttApplication.Json(body), Ct);
            Assert.Equal(201, (int)created.StatusCode);
        }
        var client = await node.JoinAsync(room, token, Ct);
        using (var api = node.ApiClient(token))
        {
            using var added = await api.PostAsync($"/api/room/{room}/queue", OttApplication.Json(new JsonObject
            {
                ["videos"] = new JsonArray(Video(Direct(tag + "0")), Video(Direct(tag + "1")), Video(Direct(tag + "2"))),
            }), Ct);
            Assert.Equal(200, (int)added.StatusCode);
        }
        await client.SyncAsync(s => s.Has("queue") && s.QueueIds().Count == 2, Ct);
        await client.RequestAsync(new JsonObject { ["type"] = 4, ["value"] = position }, Ct);
        await client.SyncAsync(s => s.Has("playbackPosition") && s.Position() == position, Ct);
        return (room, client);
    }

    [Fact]
    public async Task AChildKilledRightAfterAnAcknowledgedSeekServesTheRoomAtOnceWithEverythingIntact()
    {
        var position = 100 + Random.Shared.Next(1000) / 8.0;
        string room;
        await using (var first = await OttChildProcess.StartAsync(_dataDir, Ct))
        {
            var (name, client) = await PrepareAsync(first, "k", position);
            room = name;
            // SIGKILL straight after the delta sync: nothing is flushed or released.
            await first.KillAsync();
            await client.DisposeAsync();
        }

        await using var second = await OttChildProcess.StartAsync(_dataDir, Ct);
        var token = await second.GrantAsync(Ct);
        var joining = Stopwatch.StartNew();
        await using var again = await second.JoinAsync(room, token, Ct);

        // The old lease (embedded TTL 5 min) was cleared at start, so there is no wait for it.
        Assert.True(joining.Elapsed < TimeSpan.FromSeconds(5), $"join took {joining.Elapsed}\n{second.Output}");
        AssertIntact(again.Messages[0], "k", position);
    }

    [Fact]
    public async Task AChildRestartedInPlaceListensOnTheSamePortWithEverythingIntact()
    {
        var position = 300 + Random.Shared.Next(1000) / 8.0;
        await using var node = await OttChildProcess.StartAsync(_dataDir, Ct);
        var address = node.BaseAddress;
        var (room, client) = await PrepareAsync(node, "r", position);
        await using (client)
        {
            // SIGKILL, then the same dll and environment again on the port it had.
            await node.RestartAsync(Ct);
        }

        Assert.Equal(address, node.BaseAddress);
        var token = await node.GrantAsync(Ct);
        await using var again = await node.JoinAsync(room, token, Ct);
        AssertIntact(again.Messages[0], "r", position);
    }

    [Fact]
    public async Task AGracefullyStoppedChildClosesSocketsWith1001AndRestartsWithEverythingIntact()
    {
        var position = 200 + Random.Shared.Next(1000) / 8.0;
        string room;
        await using (var first = await OttChildProcess.StartAsync(_dataDir, Ct))
        {
            var (name, client) = await PrepareAsync(first, "g", position);
            room = name;
            await using var _ = client;
            await first.TerminateAsync(Ct);
            Assert.Equal((int)WebSocketCloseStatus.EndpointUnavailable, (int?)await client.Closed.WaitAsync(Ct));
            Assert.True(first.ExitCode == 0, $"exit code {first.ExitCode}\n{first.Output}");
        }

        await using var second = await OttChildProcess.StartAsync(_dataDir, Ct);
        var token = await second.GrantAsync(Ct);
        await using var again = await second.JoinAsync(room, token, Ct);

        AssertIntact(again.Messages[0], "g", position);
    }
}
