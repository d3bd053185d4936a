using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Channels;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Connections;

/// <summary>
/// One socket's two loops (house style #7): a receive loop that hands each whole message to its session,
/// and a send loop, the only caller of SendAsync, fed by a bounded outbox. A client that cannot keep up is
/// closed with 1013 and never stalls its room. The transport knows nothing of rooms or messages.
/// </summary>
internal sealed partial class SocketTransport(
    WebSocket socket, ConnectionsOptions options, TimeProvider time, OttMetrics metrics, ILogger logger, Func<bool>? forgive = null) : IDisposable
{
    // The outbox holds OutboxCapacity frames; only after this node's own stall may it hold up to
    // StallAllowance times as many, since the backlog is the node's doing, not the client's.
    private const int StallAllowance = 4;

    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(1);
    private const int InitialBuffer = 4 * 1024;

    private readonly Channel<ReadOnlyMemory<byte>> _outbox = Channel.CreateBounded<ReadOnlyMemory<byte>>(new BoundedChannelOptions(options.OutboxCapacity * StallAllowance)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
    });
    private readonly CancellationTokenSource _closing = new();
    private CancellationTokenSource? _lifetime;
    private readonly object _closeLock = new();
    private (int Code, string Reason)? _close;
    private volatile bool _closeRequested;
    private volatile bool _discard;
    private Task _sending = Task.CompletedTask;
    private int _queued;

    /// <summary>Who this transport belongs to, for logs.</summary>
    public string Name { get; set; } = "";

    public bool IsClosing => _closeRequested;

    /// <summary>Queues a frame; a full outbox closes the socket as too slow (1013) instead of waiting.</summary>
    public void Send(ReadOnlyMemory<byte> frame)
    {
        var full = Interlocked.Increment(ref _queued) > options.OutboxCapacity && !(forgive?.Invoke() ?? false);
        if (full || !_outbox.Writer.TryWrite(frame))
        {
            Interlocked.Decrement(ref _queued);
        }
        else
        {
            return;
        }
        if (_close is null)
        {
            Log.SlowConsumer(logger, Name);
            metrics.SlowConsumer();
            Close(1013, "Too slow", discard: true);
        }
    }

    public void Close(int code, string reason) => Close(code, reason, discard: false);

    private void Close(int code, string reason, bool discard)
    {
        lock (_closeLock)
        {
            if (_close is not null)
            {
                return;
            }
            _close = (code, reason);
            _closeRequested = true;
        }
        _outbox.Writer.TryComplete();
        if (discard)
        {
            // Queued frames are dropped and the close frame goes next; a send stuck on a full TCP
            // buffer gets 1 s to finish before it is cancelled, which aborts the socket (docs/architecture.md §12).
            _discard = true;
            try
            {
                _closing.CancelAfter(CloseTimeout);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>
    /// Runs both loops until the peer goes away, the socket is closed, or <paramref name="ct"/> ends; every
    /// whole text or binary message goes to <paramref name="onMessage"/>, strictly in order. Call
    /// <see cref="CompleteAsync"/> afterwards.
    /// </summary>
    public async Task RunAsync(Func<ReadOnlyMemory<byte>, WebSocketMessageType, CancellationToken, Task> onMessage, CancellationToken ct)
    {
        _lifetime = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _sending = SendLoopAsync(_lifetime.Token);
        try
        {
            var receiving = ReceiveLoopAsync(onMessage, _lifetime.Token);
            if (await Task.WhenAny(receiving, _sending) == _sending && !receiving.IsCompleted
                && await Task.WhenAny(receiving, Task.Delay(CloseTimeout, time, CancellationToken.None)) != receiving)
            {
                // The server closed the socket (kick, unload, slow consumer) and the peer has not
                // answered within CloseTimeout: abort, so the receive ends and the room gets the
                // Leave now rather than whenever the peer (or the keepalive) gives up.
                socket.Abort();
            }
            await receiving;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            // The peer went away or the node is draining; the session cleans up.
        }
    }

    /// <summary>Closes normally unless a close is already on its way, lets the send loop send it (bounded), and ends.</summary>
    public async Task CompleteAsync()
    {
        Close(1000, "");
        try
        {
            await _sending.WaitAsync(CloseTimeout * 3, CancellationToken.None);
        }
        catch (TimeoutException)
        {
            socket.Abort();
        }
        if (_lifetime is not null)
        {
            await _lifetime.CancelAsync();
        }
    }

    private async Task SendLoopAsync(CancellationToken ct)
    {
        try
        {
            using var both = CancellationTokenSource.CreateLinkedTokenSource(ct, _closing.Token);
            await foreach (var frame in _outbox.Reader.ReadAllAsync(both.Token))
            {
                Interlocked.Decrement(ref _queued);
                if (_discard)
                {
                    break;
                }
                await socket.SendAsync(frame, WebSocketMessageType.Text, true, both.Token);
                metrics.FrameSent(frame.Length);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
        }
        if (_close is { } close && socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            // Close frames get their own timeout, never an already-cancelled token (docs/architecture.md §12).
            using var timeout = new CancellationTokenSource(CloseTimeout);
            try
            {
                await socket.CloseOutputAsync((WebSocketCloseStatus)close.Code, close.Reason, timeout.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
            {
                socket.Abort();
            }
        }
    }

    private async Task ReceiveLoopAsync(Func<ReadOnlyMemory<byte>, WebSocketMessageType, CancellationToken, Task> onMessage, CancellationToken ct)
    {
        while (_close is null)
        {
            // A zero-byte read waits for the next message without holding a buffer, so an idle socket
            // keeps none (as ASP.NET Core's own WebSocket transport does).
            var peek = await socket.ReceiveAsync(Memory<byte>.Empty, ct);
            if (peek.MessageType == WebSocketMessageType.Close)
            {
                return;
            }
            var buffer = ArrayPool<byte>.Shared.Rent(InitialBuffer);
            try
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, options.MaxMessageBytes + 1));
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    result = await socket.ReceiveAsync(buffer.AsMemory(length), ct);
                    length += result.Count;
                    if (length > options.MaxMessageBytes)
                    {
                        Close(1009, "Message too big", discard: false);
                        return;
                    }
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                await onMessage(buffer.AsMemory(0, length), result.MessageType, ct);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    public void Dispose()
    {
        _closing.Dispose();
        _lifetime?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "Client {Client} cannot keep up; closing with 1013")]
        public static partial void SlowConsumer(ILogger logger, string client);
    }
}
