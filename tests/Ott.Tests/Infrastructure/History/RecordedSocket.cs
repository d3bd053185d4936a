using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Ott.Tests.Infrastructure.History;

// A room socket whose every frame goes into its ConnectionLog as it arrives. It carries at most one
// request at a time: OTT answers a socket request only when it fails, so the request's own event
// (its type and unique URL, by this client) is the acknowledgement, and an `error` frame while it
// is outstanding is its rejection.
internal sealed class RecordedSocket : IAsyncDisposable
{
    private readonly History _history;
    private readonly ClientWebSocket _socket;
    private readonly TaskCompletionSource _you = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private readonly Task _receiving;
    private Pending? _pending;
    private RequestRecord? _lastAcked;

    private RecordedSocket(History history, ClientWebSocket socket, ConnectionLog log)
    {
        _history = history;
        _socket = socket;
        Log = log;
        _receiving = ReceiveLoopAsync();
    }

    private sealed record Pending(RequestRecord Record, TaskCompletionSource Answered);

    public ConnectionLog Log { get; }

    public Task Closed => _closed.Task;

    public bool IsOpen => !_closed.Task.IsCompleted && !Log.IsClosed;

    // Upgrades, authenticates and waits for `you` (the full sync comes before it). The log is opened
    // once the upgrade succeeds, so a refused connection leaves no trace but a close does.
    public static async Task<RecordedSocket> ConnectAsync(History history, string writer, string node, string room, Uri baseAddress,
        string token, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(history);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(timeout);
        var socket = new ClientWebSocket();
        try
        {
            await socket.ConnectAsync(new Uri(baseAddress, $"/api/room/{room}").ToWs(), limit.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var recorded = new RecordedSocket(history, socket, history.Open(writer, node, room));
        try
        {
            await recorded.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = token }, limit.Token);
            await Task.WhenAny(recorded._you.Task, recorded._closed.Task).WaitAsync(limit.Token);
            if (!recorded._you.Task.IsCompleted)
            {
                throw new WebSocketException($"{recorded.Log} closed before `you`");
            }
            return recorded;
        }
        catch
        {
            await recorded.DisposeAsync();
            throw;
        }
    }

    // Sends the request and waits for its answer; NoAnswer after `timeout` or a close. The caller
    // abandons the socket after NoAnswer, so a late answer is never taken for a later request's.
    public async Task<Outcome> RequestAsync(RequestRecord record, JsonObject request, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        var pending = new Pending(record, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_lock)
        {
            _pending = pending;
        }
        try
        {
            await SendAsync(new JsonObject { ["action"] = "req", ["request"] = request }, ct);
            await Task.WhenAny(pending.Answered.Task, _closed.Task, Task.Delay(timeout, ct));
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException)
        {
            // The socket went away while sending: whether the server read the request is unknown.
        }
        finally
        {
            lock (_lock)
            {
                _pending = null;
            }
        }
        _history.Complete(record, Outcome.NoAnswer);
        return record.Outcome;
    }

    // Closes from this side; the log records it as the writer's close, not the server's.
    public async Task AbandonAsync()
    {
        Log.RecordClose(1000, byClient: true);
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
            }
            catch (Exception)
            {
                // A stopped or dead server: abort below.
            }
        }
        _socket.Abort();
    }

    public async ValueTask DisposeAsync()
    {
        await AbandonAsync();
        await _receiving;
        _socket.Dispose();
    }

    private Task SendAsync(JsonObject message, CancellationToken ct) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, ct);

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        try
        {
            while (true)
            {
                message.SetLength(0);
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    Log.RecordClose((int?)_socket.CloseStatus, byClient: false);
                    return;
                }
                var frame = JsonNode.Parse(message.GetBuffer().AsSpan(0, (int)message.Length))!.AsObject();
                Log.Record(frame);
                if (frame["action"]?.GetValue<string>() == "you")
                {
                    _you.TrySetResult();
                }
                Answer(frame);
            }
        }
        catch (Exception)
        {
            // Dropped without a close frame (a killed node), or aborted by AbandonAsync.
            Log.RecordClose(null, byClient: false);
        }
        finally
        {
            await message.DisposeAsync();
            _closed.TrySetResult();
        }
    }

    // Which request an error frame answers. The session answers a connection's requests in order,
    // but success has no reply: after a request acknowledged by its event the server may still be
    // working on it (retrying a forward whose reply was lost) when the next one is sent. An error is
    // the pending request's, unless its name can only answer the other kind (VideoNotFound a Remove,
    // VideoAlreadyQueued an Add): then it is a second answer to the acknowledged one. With nothing
    // pending, it can only be a second answer.
    internal static (RequestRecord? Target, bool Second) Attribute(RequestRecord? pending, RequestRecord? lastAcked, string error)
    {
        if (pending is not null && Fits(pending.Kind, error))
        {
            return (pending, false);
        }
        if (lastAcked is not null && Fits(lastAcked.Kind, error))
        {
            return (lastAcked, true);
        }
        return pending is not null ? (pending, false) : (lastAcked, true);
    }

    private static bool Fits(OpKind kind, string error) => error switch
    {
        "VideoNotFoundException" => kind == OpKind.Remove,
        "VideoAlreadyQueuedException" => kind == OpKind.Add,
        _ => true,
    };

    private void Answer(JsonObject frame)
    {
        Pending? pending;
        RequestRecord? lastAcked;
        lock (_lock)
        {
            pending = _pending;
            lastAcked = _lastAcked;
        }
        if (frame["action"]?.GetValue<string>() == "error")
        {
            var name = frame["name"]?.GetValue<string>() ?? "?";
            var (target, second) = Attribute(pending?.Record, lastAcked, name);
            if (target is null)
            {
                return;
            }
            if (second)
            {
                _history.SecondAnswer(target, name);
            }
            else
            {
                _history.Complete(target, Outcome.Failed, name, maybeAnswerTo: lastAcked);
                pending!.Answered.TrySetResult();
            }
        }
        else if (pending is not null && ConnectionLog.EventOf(frame) is { } e && e.Kind == pending.Record.Kind && e.Target == pending.Record.Target
            && frame["user"]?["id"]?.GetValue<string>() == Log.ClientId)
        {
            if (_history.Complete(pending.Record, Outcome.Acked))
            {
                lock (_lock)
                {
                    _lastAcked = pending.Record;
                }
            }
            pending.Answered.TrySetResult();
        }
    }
}
