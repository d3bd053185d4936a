using System.Buffers;
using System.Net.WebSockets;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Connections;

/// <summary>
/// One socket's two sides (house style #7). A receive loop hands each whole message to its session. The send
/// side is a bounded outbox with one sender at a time: whoever queues a frame into an idle outbox sends it
/// at once on its own thread, and a send that cannot complete synchronously carries on as the sender until the
/// outbox is empty (docs/architecture.md §12). So a delivery to an idle socket costs no task switch, and the
/// socket still has exactly one caller of SendAsync at any moment. A client that cannot keep up is closed with
/// 1013 and never stalls its room. The transport knows nothing of rooms or messages.
/// </summary>
internal sealed partial class SocketTransport(
    WebSocket socket, ConnectionsOptions options, TimeProvider time, OttMetrics metrics, ILogger logger, Func<bool>? forgive = null) : IDisposable
{
    // The outbox holds OutboxCapacity frames; only after this node's own stall may it hold up to
    // StallAllowance times as many, since the backlog is the node's doing, not the client's.
    private const int StallAllowance = 4;

    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(1);
    private const int InitialBuffer = 4 * 1024;
    // A queue that grew past this during a burst is trimmed back when it drains, so an idle socket keeps no big array.
    private const int TrimAbove = 64;

    // The outbox; also the lock for it, for _sender and for _close.
    private readonly Queue<ReadOnlyMemory<byte>> _outbox = new();
    // Completes when the send side is finished: its close frame sent, or sending failed or was cancelled.
    private readonly TaskCompletionSource _sent = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _closing = new();
    private CancellationTokenSource? _lifetime;
    private CancellationToken _sendToken;
    private (int Code, string Reason)? _close;
    private volatile bool _closeRequested;
    // True while someone is the sender: only that thread (or continuation) calls SendAsync or CloseOutputAsync.
    private bool _sender;
    private bool _started;

    /// <summary>Who this transport belongs to, for logs.</summary>
    public string Name { get; set; } = "";

    public bool IsClosing => _closeRequested;

    /// <summary>
    /// Queues a frame and, when no send is under way, sends it now on this thread; a full outbox closes the
    /// socket as too slow (1013) instead of waiting.
    /// </summary>
    public void Send(ReadOnlyMemory<byte> frame)
    {
        lock (_outbox)
        {
            if (_close is not null)
            {
                return;
            }
            var count = _outbox.Count;
            if (count < options.OutboxCapacity || (count < options.OutboxCapacity * StallAllowance && (forgive?.Invoke() ?? false)))
            {
                _outbox.Enqueue(frame);
                if (_sender || !_started)
                {
                    return; // the sender takes it in order; before RunAsync the frame waits
                }
                _sender = true;
            }
            else
            {
                frame = default;
            }
        }
        if (frame.IsEmpty)
        {
            Log.SlowConsumer(logger, Name);
            metrics.SlowConsumer();
            Close(1013, "Too slow", discard: true);
            return;
        }
        Pump();
    }

    public void Close(int code, string reason) => Close(code, reason, discard: false);

    private void Close(int code, string reason, bool discard)
    {
        bool pump;
        lock (_outbox)
        {
            if (_close is not null)
            {
                return;
            }
            _close = (code, reason);
            _closeRequested = true;
            if (discard)
            {
                // Queued frames are dropped and the close frame goes next.
                _outbox.Clear();
            }
            pump = _started && !_sender;
            _sender |= pump;
        }
        if (discard)
        {
            // A send stuck on a full TCP buffer gets 1 s to finish before it is cancelled, which aborts the
            // socket (docs/architecture.md §12).
            try
            {
                _closing.CancelAfter(CloseTimeout);
            }
            catch (ObjectDisposedException)
            {
            }
        }
        if (pump)
        {
            Pump();
        }
    }

    /// <summary>
    /// Runs both sides until the peer goes away, the socket is closed, or <paramref name="ct"/> ends; every
    /// whole text or binary message goes to <paramref name="onMessage"/>, strictly in order. Call
    /// <see cref="CompleteAsync"/> afterwards.
    /// </summary>
    public async Task RunAsync(Func<ReadOnlyMemory<byte>, WebSocketMessageType, CancellationToken, Task> onMessage, CancellationToken ct)
    {
        _lifetime = CancellationTokenSource.CreateLinkedTokenSource(ct, _closing.Token);
        _sendToken = _lifetime.Token;
        bool pump;
        lock (_outbox)
        {
            _started = true;
            // Frames queued before the start, or a close requested before it, go out now.
            pump = !_sender && (_outbox.Count > 0 || _close is not null);
            _sender |= pump;
        }
        if (pump)
        {
            Pump();
        }
        try
        {
            var receiving = ReceiveLoopAsync(onMessage, _lifetime.Token);
            if (await Task.WhenAny(receiving, _sent.Task) == _sent.Task && !receiving.IsCompleted
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

    /// <summary>Closes normally unless a close is already on its way, lets the sender send it (bounded), and ends.</summary>
    public async Task CompleteAsync()
    {
        Close(1000, "");
        if (_started)
        {
            try
            {
                await _sent.Task.WaitAsync(CloseTimeout * 3, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                socket.Abort();
            }
        }
        if (_lifetime is not null)
        {
            await _lifetime.CancelAsync();
        }
    }

    /// <summary>
    /// The sender's loop, entered by whoever set <see cref="_sender"/>: sends queued frames in order while each send
    /// completes synchronously (the usual case: the bytes only go into Kestrel's output pipe), hands over to
    /// <see cref="ContinueAsync"/> when one does not, and sends the close frame once a close is requested and
    /// the frames before it are out.
    /// </summary>
    private void Pump()
    {
        while (true)
        {
            ReadOnlyMemory<byte> frame;
            lock (_outbox)
            {
                if (!_outbox.TryDequeue(out frame))
                {
                    if (_close is null)
                    {
                        if (_outbox.EnsureCapacity(0) > TrimAbove)
                        {
                            _outbox.TrimExcess();
                        }
                        _sender = false;
                        return;
                    }
                    break;
                }
            }
            ValueTask sending;
            try
            {
                sending = socket.SendAsync(frame, WebSocketMessageType.Text, true, _sendToken);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
            {
                Stop();
                return;
            }
            if (!sending.IsCompletedSuccessfully)
            {
                _ = ContinueAsync(sending, frame.Length);
                return;
            }
            metrics.FrameSent(frame.Length);
        }
        _ = CloseOutputAsync();
    }

    private async Task ContinueAsync(ValueTask sending, int length)
    {
        try
        {
            await sending;
            metrics.FrameSent(length);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            Stop();
            return;
        }
        Pump();
    }

    // Sending failed or was cancelled (the peer went away, the node drains): nothing more is sent, and the
    // sender role is never released. A close already requested still gets its frame if the socket allows.
    private void Stop()
    {
        bool close;
        lock (_outbox)
        {
            _outbox.Clear();
            close = _close is not null;
        }
        if (close)
        {
            _ = CloseOutputAsync();
        }
        else
        {
            _sent.TrySetResult();
        }
    }

    private async Task CloseOutputAsync()
    {
        if (_close is { } close && socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            // Close frames get their own timeout, never an already-cancelled token (docs/architecture.md §12).
            using var timeout = new CancellationTokenSource(CloseTimeout);
            try
            {
                await socket.CloseOutputAsync((WebSocketCloseStatus)close.Code, close.Reason, timeout.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
            {
                socket.Abort();
            }
        }
        _sent.TrySetResult();
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
