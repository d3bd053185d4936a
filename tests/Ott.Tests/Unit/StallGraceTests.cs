using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Ott.Sync.Cluster;
using Ott.Sync.Connections;
using Ott.Sync.Telemetry;

namespace Ott.Tests.Unit;

// A node's own stall is not its clients' misbehaviour (docs/architecture.md §12).
public sealed class StallGraceTests
{
    [Fact]
    public void TheBudgetRefusesABurstButNotTheOneANodeStallCaused()
    {
        var time = new FakeTimeProvider();
        var stalls = new StallWatch(time, NullLogger<StallWatch>.Instance);
        var budget = new SocketBudget(perSecond: 1, burst: 2, time, () => stalls.InGrace);

        Assert.True(budget.TryTake());
        Assert.True(budget.TryTake());
        Assert.False(budget.TryTake()); // a real burst is refused

        stalls.Stalled(TimeSpan.FromSeconds(5)); // the node was stopped: what it reads now queued up meanwhile
        Assert.True(stalls.InGrace);
        Assert.All(Enumerable.Range(0, 50), _ => Assert.True(budget.TryTake()));

        time.Advance(TimeSpan.FromSeconds(5.1)); // the grace lasts as long as the stall
        Assert.False(stalls.InGrace);
        Assert.True(budget.TryTake());
        Assert.True(budget.TryTake());
        Assert.False(budget.TryTake());
    }

    [Fact]
    public void AShortStallStillGetsTheMinimumGrace()
    {
        var time = new FakeTimeProvider();
        var stalls = new StallWatch(time, NullLogger<StallWatch>.Instance);

        stalls.Stalled(TimeSpan.FromMilliseconds(1200));
        time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.True(stalls.InGrace);
        time.Advance(TimeSpan.FromSeconds(0.2));
        Assert.False(stalls.InGrace);
    }

    // The outbox tests run SocketTransport over a real WebSocket pair (in-memory pipes, no network): what the
    // client reads, close code included, is what the transport sent.
    private static ConnectionsOptions Outbox(int capacity) => new() { OutboxCapacity = capacity };

    private static ReadOnlyMemory<byte> Frame(int i) => Encoding.UTF8.GetBytes($$"""{"n":{{i}}}""");

    [Fact]
    public async Task FramesThatPiledUpOverTheNodesOwnStallAreSentNotClosedWith1013()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var time = new FakeTimeProvider();
        var stalls = new StallWatch(time, NullLogger<StallWatch>.Instance);
        using var meters = new TestMeterFactory();
        var (server, client) = InMemoryWebSocket.Pair();
        using var transport = new SocketTransport(server, Outbox(4), time, new OttMetrics(meters), NullLogger.Instance, () => stalls.InGrace);

        stalls.Stalled(TimeSpan.FromSeconds(3));
        // Nothing was sent while the node was stopped: all the frames queued for this healthy client meanwhile
        // wait in its outbox, four times its capacity.
        for (var i = 0; i < 16; i++)
        {
            transport.Send(Frame(i));
        }
        Assert.False(transport.IsClosing, "the client was closed as too slow (1013) for the frames the node's stall piled up");

        var running = transport.RunAsync((_, _, _) => Task.CompletedTask, cts.Token);
        var frames = new List<string>();
        var buffer = new byte[256];
        while (frames.Count < 16)
        {
            var result = await client.ReceiveAsync(buffer, cts.Token);
            Assert.True(result.MessageType == WebSocketMessageType.Text, $"got {result.MessageType} {result.CloseStatus} after {frames.Count} frames");
            frames.Add(Encoding.UTF8.GetString(buffer, 0, result.Count));
        }
        Assert.Equal(Enumerable.Range(0, 16).Select(i => Encoding.UTF8.GetString(Frame(i).Span)), frames);

        // The client leaves normally; the server's close is the normal one, not 1013.
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
        await running;
        await transport.CompleteAsync();
        var close = await client.ReceiveAsync(buffer, cts.Token);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, close.CloseStatus);
    }

    [Fact]
    public async Task TheOutboxAllowanceIsForTheGraceOnlyAndBounded()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var time = new FakeTimeProvider();
        var stalls = new StallWatch(time, NullLogger<StallWatch>.Instance);
        using var meters = new TestMeterFactory();

        // No stall: one frame over the capacity closes the client with 1013, its queued frames dropped.
        var (server, client) = InMemoryWebSocket.Pair();
        using (var transport = new SocketTransport(server, Outbox(4), time, new OttMetrics(meters), NullLogger.Instance, () => stalls.InGrace))
        {
            for (var i = 0; i < 4; i++)
            {
                transport.Send(Frame(i));
            }
            Assert.False(transport.IsClosing, "four frames fit an outbox of four");
            transport.Send(Frame(4));
            Assert.True(transport.IsClosing);

            var running = transport.RunAsync((_, _, _) => Task.CompletedTask, cts.Token);
            var first = await client.ReceiveAsync(new byte[256], cts.Token);
            Assert.Equal(WebSocketMessageType.Close, first.MessageType);
            Assert.Equal(1013, (int?)first.CloseStatus);
            var closing = client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
            await running;
            server.Dispose(); // the server ends the connection, which the client waits for
            await closing;
        }

        // During the grace the outbox holds four times its capacity, and not one frame more.
        stalls.Stalled(TimeSpan.FromSeconds(3));
        var (graceServer, _) = InMemoryWebSocket.Pair();
        using (var transport = new SocketTransport(graceServer, Outbox(4), time, new OttMetrics(meters), NullLogger.Instance, () => stalls.InGrace))
        {
            for (var i = 0; i < 16; i++)
            {
                transport.Send(Frame(i));
            }
            Assert.False(transport.IsClosing, "the client was closed as too slow (1013) within the stall's allowance");
            transport.Send(Frame(16));
            Assert.True(transport.IsClosing);
        }

        // Once the grace is over, the capacity is the capacity again.
        var (laterServer, _) = InMemoryWebSocket.Pair();
        using (var transport = new SocketTransport(laterServer, Outbox(4), time, new OttMetrics(meters), NullLogger.Instance, () => stalls.InGrace))
        {
            for (var i = 0; i < 4; i++)
            {
                transport.Send(Frame(i));
            }
            time.Advance(TimeSpan.FromSeconds(3.1));
            Assert.False(stalls.InGrace);
            transport.Send(Frame(4));
            Assert.True(transport.IsClosing);
        }
    }
}

// Two connected WebSockets over in-memory pipes: RFC 6455 framing both ways, no network.
internal static class InMemoryWebSocket
{
    public static (WebSocket Server, WebSocket Client) Pair()
    {
        var toClient = new Pipe();
        var toServer = new Pipe();
        var server = WebSocket.CreateFromStream(new DuplexStream(toServer.Reader.AsStream(), toClient.Writer.AsStream()),
            new WebSocketCreationOptions { IsServer = true });
        var client = WebSocket.CreateFromStream(new DuplexStream(toClient.Reader.AsStream(), toServer.Writer.AsStream()),
            new WebSocketCreationOptions { IsServer = false });
        return (server, client);
    }

    private sealed class DuplexStream(Stream input, Stream output) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            input.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            input.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer, offset, count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            output.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            output.WriteAsync(buffer, offset, count, cancellationToken);

        public override void Flush() => output.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => output.FlushAsync(cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                input.Dispose();
                output.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

