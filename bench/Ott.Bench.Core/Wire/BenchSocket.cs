using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;

namespace Ott.Bench.Wire;

// One generator-side socket: a single receive loop with a pooled buffer, frames parsed in place and
// handed to OnFrame with the receive timestamp. Sends are never concurrent for one socket because each
// scenario gives a socket at most one sender.
internal sealed class BenchSocket : IAsyncDisposable
{
    private readonly ClientWebSocket _ws;
    private readonly TaskCompletionSource<long> _you = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private Task _receiving = Task.CompletedTask;

    private BenchSocket(ClientWebSocket ws, int room, int index)
    {
        _ws = ws;
        Room = room;
        Index = index;
    }

    public int Room { get; }

    public int Index { get; }

    public Action<BenchSocket, Frame, long>? OnFrame { get; set; }

    // Stopwatch timestamp of the `you` frame.
    public Task<long> You => _you.Task;

    public WebSocketCloseStatus? CloseStatus { get; private set; }

    public bool Closed { get; private set; }

    public static async Task<BenchSocket> ConnectAsync(Uri url, int room, int index, CancellationToken ct)
    {
        var ws = new ClientWebSocket();
        ws.Options.KeepAliveInterval = TimeSpan.Zero;
        try
        {
            await ws.ConnectAsync(url, ct);
        }
        catch
        {
            ws.Dispose();
            throw;
        }
        var socket = new BenchSocket(ws, room, index);
        socket._receiving = socket.ReceiveLoopAsync();
        return socket;
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct) =>
        _ws.SendAsync(frame, WebSocketMessageType.Text, true, ct);

    private async Task ReceiveLoopAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        var ct = _stop.Token;
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    result = await _ws.ReceiveAsync(buffer.AsMemory(length), ct);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                var at = Stopwatch.GetTimestamp();
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseStatus = _ws.CloseStatus;
                    break;
                }
                var frame = FrameReader.Parse(buffer.AsSpan(0, length));
                if (frame.Kind == FrameKind.You)
                {
                    _you.TrySetResult(at);
                }
                OnFrame?.Invoke(this, frame, at);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
        }
        finally
        {
            Closed = true;
            ArrayPool<byte>.Shared.Return(buffer);
            _you.TrySetException(new WebSocketException($"closed before `you` ({(int?)CloseStatus})"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_ws.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
                await _receiving.WaitAsync(TimeSpan.FromSeconds(1), CancellationToken.None);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or TimeoutException)
            {
            }
        }
        await _stop.CancelAsync();
        _ws.Abort();
        await _receiving;
        _ws.Dispose();
        _stop.Dispose();
    }
}
