using System.Net.WebSockets;
using Ott.Sync.Auth;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;
using Ott.Sync.Storage;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Connections;

/// <summary>
/// One client of one room, above its <see cref="SocketTransport"/>: the handshake, the join, and every
/// message in order (docs/protocol.md §1.2–§1.7). Requests go to <see cref="RoomManager"/>; what the room
/// releases reaches the client through its <see cref="GatewayRoom"/>.
/// </summary>
internal sealed partial class ClientSession : IRoomClient
{

    private readonly SocketTransport _transport;
    private readonly string _room;
    private readonly string _key;
    private readonly RoomManager _rooms;
    private readonly ApiAuthenticator _auth;
    private readonly IAccountDirectory _accounts;
    private readonly ConnectionRegistry _registry;
    private readonly GatewayRooms _gateways;
    private readonly NodeIdentity _node;
    private readonly ConnectionsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly OttMetrics _metrics;
    private readonly DriftBoard _drift;
    private volatile AnchorOutput? _anchor;
    private volatile bool _wantsAnchors;
    private readonly Queue<long> _inputErrors = new();
    private static readonly TimeSpan HeadOfLineBound = TimeSpan.FromSeconds(1);

    // Touched by the receive loop only.
    private readonly Queue<Task> _inFlight = new();
    private readonly SocketBudget _budget;
    private string? _token;
    private bool _joined;
    private bool _joinPosted;
    private long _requestSeq;

    public ClientSession(SocketTransport transport, string room, RoomManager rooms, ApiAuthenticator auth, IAccountDirectory accounts,
        ConnectionRegistry registry, GatewayRooms gateways, NodeIdentity node, ConnectionsOptions options, TimeProvider time,
        ILogger logger, OttMetrics metrics, StallWatch stalls, DriftBoard drift)
    {
        _transport = transport;
        _room = room;
        _key = RoomManager.KeyOf(room);
        _rooms = rooms;
        _auth = auth;
        _accounts = accounts;
        _registry = registry;
        _gateways = gateways;
        _node = node;
        _options = options;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _drift = drift;
        _budget = new SocketBudget(options.MessagesPerSecond, options.MessageBurst, time, () => stalls.InGrace);
        transport.Name = ClientId;
    }

    public string ClientId { get; } = Guid.NewGuid().ToString();

    /// <summary>The client's address (after trusted proxies, <c>Http:TrustedProxies</c>), for IP bans.</summary>
    public string? Ip { get; init; }

    public string? SessionKey { get; private set; }

    public RoomUser? User { get; private set; }

    public bool IsClosing => _transport.IsClosing;

    public void Send(ReadOnlyMemory<byte> frame) => _transport.Send(frame);

    public void Close(int code, string reason) => _transport.Close(code, reason);

    public bool WantsAnchors => _wantsAnchors;

    public void SendAnchor(ReadOnlyMemory<byte> frame, AnchorOutput anchor)
    {
        _anchor = anchor;
        Send(frame);
    }

    public async Task RunAsync(CancellationToken ct)
    {
        _registry.Register(this);
        _metrics.SocketOpened();
        try
        {
            await _transport.RunAsync(OnMessageAsync, ct);
        }
        finally
        {
            _registry.Unregister(this);
            _drift.Forget(_key, ClientId);
            _metrics.SocketClosed();
            if (User is not null)
            {
                await _gateways.RemoveAsync(_key, this);
            }
            // A join that was posted may still be applied after this socket gave up waiting for it,
            // so its Leave is sent whenever the join was posted (a Leave of an unknown client is harmless).
            if (_joined || _joinPosted)
            {
                // A disconnect's Leave must arrive even when the room is busy: it waits for mailbox space.
                using var leaving = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _rooms.LeaveAsync(_room, ClientId, leaving.Token);
            }
            await _transport.CompleteAsync();
        }
    }

    private Task OnMessageAsync(ReadOnlyMemory<byte> message, WebSocketMessageType type, CancellationToken ct)
    {
        if (!_budget.TryTake())
        {
            // Over budget: dropped and answered; it counts as an input error (docs/protocol.md §9).
            Reject(OttFailure.TooManyRequests());
            return Task.CompletedTask;
        }
        if (type == WebSocketMessageType.Binary)
        {
            Reject(OttFailure.InvalidMessage("Binary frames are not supported"));
            return Task.CompletedTask;
        }
        // The receive instant of a clock-sync probe is taken before anything else is done with the frame.
        var receivedAt = _drift.NowMs;
        ClientMessage parsed;
        try
        {
            parsed = ClientMessageParser.Parse(message.Span);
        }
        catch (Exception e)
        {
            Abandon(e);
            return Task.CompletedTask;
        }
        if (parsed is TimeSyncMessage probe)
        {
            AnswerTimeSync(probe, receivedAt);
            return Task.CompletedTask;
        }
        return HandleAsync(parsed, ct);
    }

    // Ott extension (docs/protocol.md §10): NTP-style, answered at once with the cluster clock's receive and send
    // instants, before the handshake too, so a page can sync its clock while it joins. Sending it opts this socket
    // into playback anchors; a client that never sends it gets exactly OTT's frames.
    private void AnswerTimeSync(TimeSyncMessage probe, double receivedAt)
    {
        _wantsAnchors = true;
        Send(FrameWriter.Write(new TimeSyncAnswerFrame(probe.T0, receivedAt, _drift.NowMs)));
    }

    // An unexpected fault abandons the message; the socket stays open (docs/protocol.md §1.7).
    private void Abandon(Exception e)
    {
        Log.MessageFailed(_logger, e, ClientId, _room);
        Reject(OttFailure.Unknown());
    }

    private async Task HandleAsync(ClientMessage message, CancellationToken ct)
    {
        try
        {
            switch (message)
            {
                case InvalidClientMessage { Action: "req" or "status" } when _token is null:
                    // req, status and notify need a completed handshake, malformed or not (docs/protocol.md §1.2).
                    Close(4004, "Not authenticated");
                    return;
                case InvalidClientMessage invalid:
                    Reject(invalid.Failure);
                    return;
                case KickMeMessage kick:
                    Close(kick.Code, "kickme");
                    return;
                case AuthMessage when _token is not null:
                    Reject(OttFailure.AlreadyAuthenticated());
                    return;
                case AuthMessage auth:
                    await AuthenticateAsync(auth.Token, ct);
                    return;
                case not AuthMessage when _token is null:
                    // req, status and notify need a completed handshake (docs/protocol.md §1.2).
                    Close(4004, "Not authenticated");
                    return;
                case RequestMessage request:
                    var actor = new Actor(ClientId, SessionKey, "", false, null);
                    var command = new RequestCommand(actor, await BanEntry.PrepareAsync(request.Request, _accounts, ct));
                    if (request.Request is not ChatRequest)
                    {
                        // This socket is the request's origin; chat changes nothing stored and is never retried.
                        command = command with { Id = new RequestId(ClientId, ++_requestSeq) };
                    }
                    await PipelineAsync(command, null, ct);
                    return;
                case StatusMessage status:
                    await PipelineAsync(new StatusCommand(ClientId, status.Status), () =>
                    {
                        if (User is { } user)
                        {
                            User = user with { Status = status.Status };
                        }
                    }, ct);
                    return;
                case DriftReportMessage report:
                    _drift.Report(_key, ClientId, User?.Name ?? "", _anchor, report.Position, report.At, report.Buffering, report.UncertaintyMs);
                    return;
                case NotifyMessage notify:
                    if (notify.UsernameChanged && SessionKey is { } key)
                    {
                        await _registry.SessionChangedAsync(key, ct);
                    }
                    return;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Abandon(e);
        }
    }

    /// <summary>
    /// Sends a command and reads the next message as soon as it is queued for its owner, in order, rather
    /// than when its outcome is known: one lost reply (waiting out its retries) never holds up the client's
    /// later requests. A failure is answered whenever it comes (docs/architecture.md §9.4).
    /// </summary>
    private async Task PipelineAsync(RoomCommand command, Action? onSuccess, CancellationToken ct)
    {
        // At most Connections:PendingRequestLimit requests of one socket await their outcome (each already queued for its owner).
        while (_inFlight.Count > 0 && (_inFlight.Peek().IsCompleted || _inFlight.Count >= _options.PendingRequestLimit))
        {
            await _inFlight.Dequeue();
        }
        var posted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sending = SendAndAnswerAsync(command, onSuccess, posted, ct);
        _inFlight.Enqueue(sending);
        if (sending.IsCompleted)
        {
            return;
        }
        // Normally the answer comes within milliseconds and is awaited, so a request's error reaches the
        // client before the effects of its later requests, as OTT's server orders them. Only a request
        // whose answer is late (a lost reply, a failover) stops holding the next ones back, once it is
        // queued for its owner and HeadOfLineBound has passed.
        try
        {
            await sending.WaitAsync(HeadOfLineBound, _time, ct);
        }
        catch (TimeoutException)
        {
            await Task.WhenAny(posted.Task, sending);
        }
    }

    private async Task SendAndAnswerAsync(RoomCommand command, Action? onSuccess, TaskCompletionSource posted, CancellationToken ct)
    {
        try
        {
            var failure = await _rooms.SendAsync(_room, command, ct, activate: true, posted: () => posted.TrySetResult());
            if (failure is null)
            {
                onSuccess?.Invoke();
            }
            Reply(failure);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            Log.MessageFailed(_logger, e, ClientId, _room);
            Reject(OttFailure.Unknown());
        }
    }

    private async Task AuthenticateAsync(string? token, CancellationToken ct)
    {
        Session? session;
        string name;
        try
        {
            session = string.IsNullOrEmpty(token) ? null : await _auth.ResolveSessionAsync(token, ct);
            name = session is null ? "" : await NameOfAsync(session, ct);
        }
        catch (Exception e) when (StoreErrors.IsTransient(e))
        {
            // The session cannot be read now (the store is unreachable or restarting, LOADING): an infrastructure
            // failure at the handshake, so the client reconnects (docs/protocol.md §1.2), rather than an Unknown
            // reply that leaves it unauthenticated.
            Log.MessageFailed(_logger, e, ClientId, _room);
            Close(1013, "Room is temporarily unavailable");
            return;
        }
        if (session is null)
        {
            Close(4004, "Invalid token");
            return;
        }
        SessionKey = SessionStore.KeyOf(token!);
        var user = new RoomUser(ClientId, SessionKey, name, session.IsLoggedIn, session.UserId, "none", _node.Id, Ip);
        OttFailure? failure;
        try
        {
            // Registered here (and subscribed to the room channel) before the join goes to the owner (§5.3).
            User = user;
            await _gateways.AddAsync(_key, this, ct);
            _joinPosted = true;
            failure = await _rooms.SendAsync(_room, new JoinCommand(user), ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The store failed under the join: an infrastructure failure, so the client retries (docs/protocol.md §1.7).
            Log.MessageFailed(_logger, e, ClientId, _room);
            await _gateways.RemoveAsync(_key, this);
            User = null;
            Close(1013, "Room is temporarily unavailable");
            return;
        }
        if (failure is not null)
        {
            await _gateways.RemoveAsync(_key, this);
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
            case "BannedException":
                // docs/protocol.md §10: the OTT client shows its "kicked" text for 4005.
                Close(4005, "banned");
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

    /// <summary>Answers the sender only; input errors count toward the 1008 close (docs/protocol.md §1.7).</summary>
    private void Reject(OttFailure failure)
    {
        Send(FrameWriter.Write(new ErrorFrame(failure)));
        _metrics.Error(failure.IsInputError ? "input" : "domain", failure.Name ?? "Error");
        if (!failure.IsInputError)
        {
            return;
        }
        bool tooMany;
        // Answers of pipelined requests come from their own tasks, beside the receive loop.
        lock (_inputErrors)
        {
            var now = _time.GetTimestamp();
            _inputErrors.Enqueue(now);
            while (_inputErrors.Count > 0 && _time.GetElapsedTime(_inputErrors.Peek(), now) > _options.InputErrorWindow)
            {
                _inputErrors.Dequeue();
            }
            tooMany = _inputErrors.Count > _options.MaxInputErrors;
        }
        if (tooMany)
        {
            Close(1008, "Too many invalid messages");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Error, "Client {ClientId} in room {Room}: handling a message failed")]
        public static partial void MessageFailed(ILogger logger, Exception e, string clientId, string room);
    }
}
