using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Ott.Sync.Connections;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;
using Ott.Sync.Telemetry;
using Xunit.Abstractions;

namespace Ott.Tests.Unit;

// The counts are process-wide, so nothing else runs beside them.
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DeliveryCostCollection
{
    public const string Name = "Delivery cost";
}

/// <summary>
/// What one delivery costs on the fan-out path (docs/architecture.md §12): a room's released frame handed to N
/// sockets of a real Kestrel server in this process, through <see cref="GatewayRoom"/> and
/// <see cref="SocketTransport"/>, read by N real client sockets. Allocations are counted over the whole process
/// (senders, Kestrel and the readers), so the bound covers everything a delivery costs the heap; the thread-pool
/// work items per delivery are reported beside them (they are what CPU per delivery follows).
/// </summary>
[Collection(DeliveryCostCollection.Name)]
public sealed class DeliveryCostTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Sockets = 100;
    private const int Frames = 200;

    // Measured: about 5 bytes and 0.06 work items per delivery with inline sends; 103 bytes and 1.07 work items
    // when every frame woke its socket's send loop through a channel. The bounds leave room for the runtime's own
    // background work in this process, not for one more object or task switch per delivery.
    private const double MaxBytesPerDelivery = 48;
    private const double MaxWorkItemsPerDelivery = 0.5;

    private readonly List<SocketTransport> _transports = [];
    private readonly TaskCompletionSource _allConnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication? _app;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.UseWebSockets();
        var metrics = new OttMetrics(new TestMeterFactory());
        _app.Run(async context =>
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            using var transport = new SocketTransport(socket, new ConnectionsOptions(), TimeProvider.System, metrics, NullLogger.Instance);
            lock (_transports)
            {
                _transports.Add(transport);
                if (_transports.Count == Sockets)
                {
                    _allConnected.TrySetResult();
                }
            }
            await transport.RunAsync((_, _, _) => Task.CompletedTask, _app!.Lifetime.ApplicationStopping);
        });
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    [Fact]
    public async Task AFannedOutFrameCostsTheHeapOnlyAFewBytesPerSocket()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var url = _app!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var clients = new List<ClientWebSocket>();
        for (var i = 0; i < Sockets; i++)
        {
            var client = new ClientWebSocket();
            await client.ConnectAsync(new Uri(url.Replace("http", "ws", StringComparison.Ordinal)), timeout.Token);
            clients.Add(client);
        }
        await _allConnected.Task.WaitAsync(timeout.Token);

        var room = new GatewayRoom("r");
        var members = _transports.Select((t, i) => new Member($"c{i}", t)).ToList();
        foreach (var member in members)
        {
            room.TryAdd(member);
        }
        room.Apply(new RoomDelivery("r", 1, 1, [.. members.Select(m => (RoomOutput)new Attach(m.ClientId))]), "owner");

        // Every delivery is made before the count starts; a frame is the size of a typical chat event.
        var frame = Encoding.UTF8.GetBytes("""{"action":"chat","from":{"id":"0f8fad5b-d9cb-469f-a165-70867728950e","name":"viewer","isLoggedIn":false,"status":"none","role":0},"text":"hello everyone, this is a chat line of ordinary length","id":"e1"}""");
        var deliveries = Enumerable.Range(0, 2 * Frames)
            .Select(i => new RoomDelivery("r", 1, 2 + i, [new Broadcast(new WrittenFrame(frame))]))
            .ToList();
        var received = new int[Sockets];
        var readers = clients.Select((c, i) => ReadAsync(c, i, received, timeout.Token)).ToList();

        // Warm-up: JIT, pools and buffers reach their steady state.
        for (var i = 0; i < Frames; i++)
        {
            room.Apply(deliveries[i], "owner");
        }
        await WaitForAsync(received, Frames, timeout.Token);

        // Paced: each frame reaches every socket before the next is released, as a room's events usually do, so
        // every delivery finds its socket's send loop idle and must wake it. That is the expensive case.
        var (perDelivery, itemsPerDelivery) = await MeasureAsync(async () =>
        {
            for (var i = Frames; i < 2 * Frames; i++)
            {
                room.Apply(deliveries[i], "owner");
                await WaitForAsync(received, i + 1, timeout.Token);
            }
        });
        output.WriteLine($"paced: {perDelivery:0.0} bytes allocated and {itemsPerDelivery:0.00} thread-pool work items per delivery ({Sockets} sockets × {Frames} frames)");

        Assert.True(perDelivery <= MaxBytesPerDelivery,
            $"a delivery allocated {perDelivery:0.0} bytes on average (bound {MaxBytesPerDelivery}): something on the fan-out path now allocates per socket");
        Assert.True(itemsPerDelivery <= MaxWorkItemsPerDelivery,
            $"a delivery cost {itemsPerDelivery:0.00} thread-pool work items on average (bound {MaxWorkItemsPerDelivery}): frames to idle sockets are no longer sent inline");
        foreach (var client in clients)
        {
            client.Abort();
            client.Dispose();
        }
        await Task.WhenAll(readers.Select(r => r.ContinueWith(_ => { }, TaskScheduler.Default)));
    }

    private static async Task<(double Bytes, double WorkItems)> MeasureAsync(Func<Task> deliver)
    {
        var bytes = GC.GetTotalAllocatedBytes(precise: true);
        var workItems = ThreadPool.CompletedWorkItemCount;
        await deliver();
        return ((GC.GetTotalAllocatedBytes(precise: true) - bytes) / (double)(Frames * Sockets),
            (ThreadPool.CompletedWorkItemCount - workItems) / (double)(Frames * Sockets));
    }

    private static async Task ReadAsync(ClientWebSocket client, int index, int[] received, CancellationToken ct)
    {
        var buffer = new byte[1024];
        while (true)
        {
            var result = await client.ReceiveAsync(buffer.AsMemory(), ct);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }
            if (result.EndOfMessage)
            {
                Interlocked.Increment(ref received[index]);
            }
        }
    }

    private static async Task WaitForAsync(int[] received, int count, CancellationToken ct)
    {
        while (received.Min() < count)
        {
            await Task.Delay(1, ct);
        }
    }

    private sealed class Member(string id, SocketTransport transport) : IRoomClient
    {
        public string ClientId => id;

        public RoomUser? User => null;

        public bool IsClosing => transport.IsClosing;

        public void Send(ReadOnlyMemory<byte> frame) => transport.Send(frame);

        public void Close(int code, string reason) => transport.Close(code, reason);
    }
}
