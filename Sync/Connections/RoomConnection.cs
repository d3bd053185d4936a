using System.Buffers;
using System.Net.WebSockets;
using System.Threading.Channels;
using Ott.Sync.Auth;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Connections;

/// <summary>
/// One socket (house style #7): a receive loop that handles the client's messages strictly in order,
/// and a send loop that is the only caller of SendAsync, fed by a bounded outbox. A client that cannot
/// keep up is closed with 1013 and never stalls its room.
/// </summary>
internal sealed partial class RoomConnection : IDisposable
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(1);

    private readonly WebSocket _socket;
    private readonly string _room;
    private readonly RoomManager _rooms;
    private readonly ApiAuthenticator _auth;
    private readonly IAccountDirectory _accounts;
    private readonly ClientManager _clients;
    private readonly NodeIdentity _node;
    private readonly ConnectionsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly OttMetrics _metrics;
    private readonly Channel<ReadOnlyMemory<byte>> _outbox;
    private readonly Queue<long> _inputErrors = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly SocketBudget _budget;
    private (int Code, string Reason)? _close;
    private string? _token;
    private bool _joined;
    private bool _joinPosted;
    private volatile bool _discard;

    public RoomConnection(WebSocket socket, string room, RoomManager rooms, ApiAuthenticator auth, IAccountDirectory accounts,
        ClientManager clients, NodeIdentity node, ConnectionsOptions options, TimeProvider time, ILogger logger, OttMetrics metrics)
    {
        _socket = socket;
        _room = room;
        _rooms = rooms;
        _auth = auth;
        _accounts = accounts;
        _clients = clients;
        _node = node;
        _options = options;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _budget = new SocketBudget(options.MessagesPerSecond, options.MessageBurst, time);
        _outbox = Channel.CreateBounded<ReadOnlyMemory<byte>>(new BoundedChannelOptions(options.OutboxCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public string ClientId { get; } = Guid.NewGuid().ToString();

    public string? SessionKey { get; private set; }

    /// <summary>This client as its room knows it, once it has authenticated; what a rejoin sends (design.md §9.6).</summary>
    public RoomUser? User { get; private set; }

    public void Send(ReadOnlyMemory<byte> frame)
    {
        if (!_outbox.Writer.TryWrite(frame) && _close is null)
        {
            Log.SlowConsumer(_logger, ClientId, _room);
            _metrics.SlowConsumer();
            Close(1013, "Too slow", discard: true);
        }
    }

    public void Close(int code, string reason) => Close(code, reason, discard: false);

    /// <summary>Closed or closing: it will not be re-joined to its room.</summary>
    public bool IsClosing => Volatile.Read(ref _closeRequested);
    private bool _closeRequested;

    private void Close(int code, string reason, bool discard)
    {
        lock (_outbox)
        {
            if (_close is not null)
            {
                return;
            }
            _close = (code, reason);
            Volatile.Write(ref _closeRequested, true);
        }
        _outbox.Writer.TryComplete();
        if (discard)
        {
            // Queued frames are dropped and the close frame goes next; a send stuck on a full TCP
            // buffer gets 1 s to finish before it is cancelled, which aborts the socket (design.md §12).
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

    public async Task RunAsync(CancellationToken ct)
    {
        _clients.Register(this);
        _metrics.SocketOpened();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sending = SendLoopAsync(linked.Token);
        try
        {
            var receiving = ReceiveLoopAsync(linked.Token);
            if (await Task.WhenAny(receiving, sending) == sending && !receiving.IsCompleted
                && await Task.WhenAny(receiving, Task.Delay(CloseTimeout, _time, CancellationToken.None)) != receiving)
            {
                // The server closed the socket (kick, unload, slow consumer) and the peer has not
                // answered within CloseTimeout: abort, so the receive ends and the room gets the
                // Leave now rather than whenever the peer (or the keepalive) gives up.
                _socket.Abort();
            }
            await receiving;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            // The peer went away or the node is draining; the finally below cleans up.
        }
        finally
        {
            _clients.Unregister(this);
            _metrics.SocketClosed();
            if (User is not null)
            {
                await _clients.RemoveFromRoomAsync(_room, this);
            }
            // A join that was posted may still be applied after this socket gave up waiting for it,
            // so its Leave is sent whenever the join was posted (a Leave of an unknown client is harmless).
            if (_joined || _joinPosted)
            {
                // A disconnect's Leave must arrive even when the room is busy: it waits for mailbox space.
                using var leaving = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _rooms.LeaveAsync(_room, ClientId, leaving.Token);
            }
            Close(1000, "");
            // The send loop sends the close frame (with a timeout) and ends.
            try
            {
                await sending.WaitAsync(CloseTimeout * 3, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                _socket.Abort();
            }
            await linked.CancelAsync();
        }
    }

    private async Task SendLoopAsync(CancellationToken ct)
    {
        try
        {
            using var both = CancellationTokenSource.CreateLinkedTokenSource(ct, _closing.Token);
            await foreach (var frame in _outbox.Reader.ReadAllAsync(both.Token))
            {
                if (_discard)
                {
                    break;
                }
                await _socket.SendAsync(frame, WebSocketMessageType.Text, true, both.Token);
                _metrics.FrameSent(frame.Length);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
        }
        if (_close is { } close && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            // Close frames get their own timeout, never an already-cancelled token (design.md §12).
            using var timeout = new CancellationTokenSource(CloseTimeout);
            try
            {
                await _socket.CloseOutputAsync((WebSocketCloseStatus)close.Code, close.Reason, timeout.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
            {
                _socket.Abort();
            }
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (_close is null)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, _options.MaxMessageBytes + 1));
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length), ct);
                    length += result.Count;
                    if (length > _options.MaxMessageBytes)
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
                if (!_budget.TryTake())
                {
                    // Over budget: dropped and answered; it counts as an input error (protocol.md §9).
                    Reject(OttFailure.TooManyRequests());
                    continue;
                }
                if (result.MessageType == WebSocketMessageType.Binary)
                {
                    Reject(OttFailure.InvalidMessage("Binary frames are not supported"));
                    continue;
                }
                try
                {
                    await HandleAsync(ClientMessageParser.Parse(buffer.AsSpan(0, length)), ct);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // An unexpected fault abandons the message; the socket stays open (protocol.md §1.7).
                    Log.MessageFailed(_logger, e, ClientId, _room);
                    Reject(OttFailure.Unknown());
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task HandleAsync(ClientMessage message, CancellationToken ct)
    {
        switch (message)
        {
            case InvalidClientMessage { Action: "req" or "status" } when _token is null:
                // req, status and notify need a completed handshake, malformed or not (protocol.md §1.2).
                Close(4004, "Not authenticated");
                return;
            case InvalidClientMessage invalid:
                Reject(invalid.Failure);
                return;
            case KickMeMessage kick:
                Close(kick.Code, "kickme");
                return;
            case AuthMessage auth when _token is not null:
                _ = auth;
                Reject(OttFailure.AlreadyAuthenticated());
                return;
            case AuthMessage auth:
                await AuthenticateAsync(auth.Token, ct);
                return;
            case not AuthMessage when _token is null:
                // req, status and notify need a completed handshake (protocol.md §1.2).
                Close(4004, "Not authenticated");
                return;
            case RequestMessage request:
                var actor = new Actor(ClientId, SessionKey, "", false, null);
                Reply(await _rooms.SendAsync(_room, new RequestCommand(actor, request.Request), ct, activate: true));
                return;
            case StatusMessage status:
                var failure = await _rooms.SendAsync(_room, new StatusCommand(ClientId, status.Status), ct);
                if (failure is null && User is { } user)
                {
                    User = user with { Status = status.Status };
                }
                Reply(failure);
                return;
            case NotifyMessage notify:
                if (notify.UsernameChanged && SessionKey is { } key)
                {
                    await _clients.SessionChangedAsync(key, ct);
                }
                return;
        }
    }

    private async Task AuthenticateAsync(string? token, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(token) || await _auth.ResolveSessionAsync(token, ct) is not { } session)
        {
            Close(4004, "Invalid token");
            return;
        }
        SessionKey = SessionStore.KeyOf(token);
        var user = new RoomUser(ClientId, SessionKey, await NameOfAsync(session, ct), session.IsLoggedIn, session.UserId, "none", _node.Id);
        OttFailure? failure;
        try
        {
            // Registered here (and subscribed to the room channel) before the join goes to the owner (§5.3).
            User = user;
            await _clients.AddToRoomAsync(_room, this, ct);
            _joinPosted = true;
            failure = await _rooms.SendAsync(_room, new JoinCommand(user), ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The store failed under the join: an infrastructure failure, so the client retries (protocol.md §1.7).
            Log.MessageFailed(_logger, e, ClientId, _room);
            await _clients.RemoveFromRoomAsync(_room, this);
            User = null;
            Close(1013, "Room is temporarily unavailable");
            return;
        }
        if (failure is not null)
        {
            await _clients.RemoveFromRoomAsync(_room, this);
            User = null;
        }
        switch (failure?.Name)
        {
            case null:
                _token = token;
                _joined = true;
                break;
            case "RoomNotFoundException":
                Close(4002, "Room not found");
                break;
            case "Unknown":
                Close(1011, "Room state is unavailable");
                break;
            default:
                Close(1013, "Room is temporarily unavailable");
                break;
        }
    }

    private async Task<string> NameOfAsync(Session session, CancellationToken ct) =>
        session.IsLoggedIn && session.UserId is { } id
            ? await _accounts.FindUsernameAsync(id, ct) ?? ""
            : session.Username ?? "";

    /// <summary>Re-reads the session and refreshes this connection's room user (notify, rename, login).</summary>
    public async Task RefreshUserAsync(CancellationToken ct)
    {
        if (_token is null || !_joined || await _auth.ResolveSessionAsync(_token, ct) is not { } session)
        {
            return;
        }
        var name = await NameOfAsync(session, ct);
        if (User is { } user)
        {
            User = user with { Name = name, IsLoggedIn = session.IsLoggedIn, AccountId = session.UserId };
        }
        await _rooms.SendAsync(_room, new UpdateUserCommand(ClientId, name, session.IsLoggedIn, session.UserId), ct, activate: false);
    }

    private void Reply(OttFailure? failure)
    {
        if (failure is not null)
        {
            Reject(failure);
        }
    }

    /// <summary>Answers the sender only; input errors count toward the 1008 close (protocol.md §1.7).</summary>
    private void Reject(OttFailure failure)
    {
        Send(FrameWriter.Write(new ErrorFrame(failure)));
        _metrics.Error(failure.IsInputError ? "input" : "domain", failure.Name ?? "Error");
        if (!failure.IsInputError)
        {
            return;
        }
        var now = _time.GetTimestamp();
        _inputErrors.Enqueue(now);
        while (_inputErrors.Count > 0 && _time.GetElapsedTime(_inputErrors.Peek(), now) > _options.InputErrorWindow)
        {
            _inputErrors.Dequeue();
        }
        if (_inputErrors.Count > _options.MaxInputErrors)
        {
            Close(1008, "Too many invalid messages");
        }
    }

    public void Dispose() => _closing.Dispose();

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Error, "Client {ClientId} in room {Room}: handling a message failed")]
        public static partial void MessageFailed(ILogger logger, Exception e, string clientId, string room);

        [LoggerMessage(LogLevel.Warning, "Client {ClientId} in room {Room} cannot keep up; closing with 1013")]
        public static partial void SlowConsumer(ILogger logger, string clientId, string room);
    }
}
