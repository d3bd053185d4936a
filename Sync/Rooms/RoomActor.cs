using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;
using Ott.Sync.Storage;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Rooms;

/// <summary>Why a room leaves this node (protocol.md §8.3).</summary>
internal enum UnloadReason
{
    Keepalive,
    Admin,
    Shutdown,
    Deleted,
}

/// <summary>
/// One owned room: a loop fed by a bounded mailbox that applies transitions in batches, writes the
/// stored record under the lease (fenced) and only then releases the batch's outputs (design.md §7.5).
/// All mutations of a room are serialised here.
/// </summary>
internal sealed partial class RoomActor : IAsyncDisposable
{
    private const int MaxBatch = 64;

    private readonly Channel<Envelope> _mailbox;
    private readonly RoomStore _store;
    private readonly ClusterClock _clock;
    private readonly RoomsOptions _rooms;
    private readonly LeaseOptions _lease;
    private readonly RoomContext _ctx;
    private readonly ILogger _logger;
    private readonly Action<RoomActor> _onStopped;
    private readonly Func<FetchSegments, RoomActor, Task>? _fetchSegments;
    private readonly OttMetrics _metrics;
    private readonly IRoomFanout _fanout;
    private readonly string _nodeId;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private string _storedJson;
    private volatile RoomState _state;
    private long _deadline; // monotonic timestamp (TimeProvider.GetTimestamp)
    private int _tickQueued;
    private long _seq;

    public RoomActor(
        string key, LeaseToken token, RoomState state, string storedJson, long deadline,
        RoomStore store, ClusterClock clock, RoomsOptions rooms, LeaseOptions lease, RoomContext ctx,
        ILogger logger, Action<RoomActor> onStopped, Func<FetchSegments, RoomActor, Task>? fetchSegments, OttMetrics metrics,
        IRoomFanout fanout, string nodeId)
    {
        _fanout = fanout;
        _nodeId = nodeId;
        Key = key;
        Token = token;
        _state = state;
        _storedJson = storedJson;
        _deadline = deadline;
        _store = store;
        _clock = clock;
        _rooms = rooms;
        _lease = lease;
        _ctx = ctx;
        _logger = logger;
        _onStopped = onStopped;
        _fetchSegments = fetchSegments;
        _metrics = metrics;
        _mailbox = Channel.CreateBounded<Envelope>(new BoundedChannelOptions(rooms.MailboxCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>The lower-cased room name.</summary>
    public string Key { get; }

    public LeaseToken Token { get; }

    /// <summary>The last persisted state; safe to read from any thread.</summary>
    public RoomState State => _state;

    public bool IsStopped => _loop.IsCompleted || _stop.IsCancellationRequested;

    /// <summary>The room's users on every node.</summary>
    public int ConnectionCount => _state.Users.Count;

    /// <summary>Batches released so far under this epoch (the seq of the last one).</summary>
    public long Seq => Volatile.Read(ref _seq);

    public TimeSpan? StateTtl => _state.IsTemporary ? _rooms.TemporaryStateTtl : null;

    public bool DeadlineValid => _clock.Time.GetTimestamp() < Volatile.Read(ref _deadline);

    public TimeSpan DeadlineRemaining(TimeProvider time)
    {
        var ticks = Volatile.Read(ref _deadline) - time.GetTimestamp();
        return TimeSpan.FromSeconds((double)ticks / time.TimestampFrequency);
    }

    /// <summary>Called by the lease keeper after a successful renew that started at <paramref name="sentAt"/>.</summary>
    public void ExtendDeadline(long sentAt) =>
        Volatile.Write(ref _deadline, sentAt + (long)((_lease.Ttl - _lease.EffectiveMargin).TotalSeconds * _clock.Time.TimestampFrequency));

    /// <summary>Posts a command and waits until its batch is persisted and released.</summary>
    public async Task<OttFailure?> SendAsync(RoomCommand command, CancellationToken ct)
    {
        var envelope = new Envelope(command);
        if (!_mailbox.Writer.TryWrite(envelope))
        {
            // A full mailbox refuses the command rather than blocking the caller (design.md §12).
            return OttFailure.RoomUnavailable();
        }
        return await envelope.Reply.Task.WaitAsync(ct);
    }

    /// <summary>Posts a tick unless one is already queued.</summary>
    public void Tick()
    {
        if (Interlocked.Exchange(ref _tickQueued, 1) == 0 && !_mailbox.Writer.TryWrite(new Envelope(new TickCommand())))
        {
            Volatile.Write(ref _tickQueued, 0);
        }
    }

    /// <summary>Posting for commands whose result nobody awaits (segments); dropped when the mailbox is full.</summary>
    public void Post(RoomCommand command) => _mailbox.Writer.TryWrite(new Envelope(command));

    /// <summary>Posting that waits for mailbox space (a disconnect's Leave must not be lost); a stopped room ignores it.</summary>
    public async Task PostAsync(RoomCommand command, CancellationToken ct)
    {
        try
        {
            await _mailbox.Writer.WriteAsync(new Envelope(command), ct);
        }
        catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
        {
        }
    }

    /// <summary>Unloads the room; waits for mailbox space rather than being refused when the room is busy.</summary>
    public async Task<OttFailure?> UnloadAsync(UnloadReason reason, CancellationToken ct)
    {
        var envelope = new Envelope(new UnloadCommand(reason));
        try
        {
            await _mailbox.Writer.WriteAsync(envelope, ct);
        }
        catch (ChannelClosedException)
        {
            return null; // already stopped
        }
        return await envelope.Reply.Task.WaitAsync(ct);
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var batch = new List<Envelope>(MaxBatch);
        try
        {
            while (await _mailbox.Reader.WaitToReadAsync(ct))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _mailbox.Reader.TryRead(out var e))
                {
                    batch.Add(e);
                }
                if (!await EnsureLeaseAsync(ct))
                {
                    Fail(batch, OttFailure.RoomUnavailable());
                    await DemoteAsync();
                    return;
                }
                if (!await ApplyBatchAsync(batch, ct))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Fail(batch, OttFailure.RoomUnavailable());
        }
        catch (Exception e)
        {
            Log.ActorFailed(_logger, e, Key);
            Fail(batch, OttFailure.Unknown());
            await DemoteAsync();
        }
        finally
        {
            DrainMailbox();
            _onStopped(this);
        }
    }

    /// <summary>Returns false when the loop must end (unloaded or demoted).</summary>
    private async Task<bool> ApplyBatchAsync(List<Envelope> batch, CancellationToken ct)
    {
        var before = _state;
        var state = before;
        var now = _clock.Now;
        var outputs = new List<RoomOutput>();
        var replies = new List<(Envelope Envelope, OttFailure? Failure)>(batch.Count);
        UnloadCommand? unload = null;
        foreach (var envelope in batch)
        {
            switch (envelope.Command)
            {
                case UnloadCommand u:
                    unload = u;
                    replies.Add((envelope, null));
                    continue;
                case TickCommand:
                    Volatile.Write(ref _tickQueued, 0);
                    break;
            }
            RoomOutcome outcome;
            try
            {
                outcome = RoomTransitions.Apply(state, envelope.Command, now, _ctx);
            }
            catch (Exception e)
            {
                // An unexpected fault abandons that command's change (protocol.md §1.7 Unknown).
                Log.CommandFailed(_logger, e, Key, envelope.Command.GetType().Name);
                outcome = new RoomOutcome(state, [], OttFailure.Unknown());
            }
            if (envelope.Command is not TickCommand)
            {
                _metrics.Request(CommandName(envelope.Command), outcome.Failed ? "rejected" : "ok");
            }
            state = outcome.State;
            outputs.AddRange(outcome.Outputs);
            replies.Add((envelope, outcome.Error));
        }

        if (unload is null && IdleFor(state, now) >= _rooms.UnloadAfter)
        {
            unload = new UnloadCommand(UnloadReason.Keepalive);
        }

        if (!ReferenceEquals(state, before))
        {
            var json = Serialize(state);
            if (json != _storedJson)
            {
                state = state with { Version = state.Version + 1 };
                json = Serialize(state);
                if (!await WriteAsync(json, ct))
                {
                    Fail(batch, OttFailure.RoomUnavailable());
                    await DemoteAsync();
                    return false;
                }
                _storedJson = json;
            }
            _state = state;
        }

        Release(before, state, outputs, now);
        foreach (var (envelope, failure) in replies)
        {
            envelope.Reply.TrySetResult(failure);
        }

        if (unload is not null)
        {
            await UnloadNowAsync(unload.Reason);
            return false;
        }
        return true;
    }

    private static string CommandName(RoomCommand command) => command switch
    {
        RequestCommand r => r.Request.Type.ToString(),
        _ => command.GetType().Name.Replace("Command", "", StringComparison.Ordinal),
    };

    private static TimeSpan IdleFor(RoomState state, DateTimeOffset now) =>
        state.Users.IsEmpty ? now - state.LastActiveAt : TimeSpan.Zero;

    /// <summary>The stored record's JSON: what is written, and what "storable data changed" is judged by.</summary>
    internal static string Serialize(RoomState state) =>
        JsonSerializer.Serialize(state.ToStorable(), StateJsonContext.Default.StorableRoom);

    /// <summary>The fenced write; a timeout (outcome unknown) is retried with the same token until the hold ends.</summary>
    private async Task<bool> WriteAsync(string json, CancellationToken ct)
    {
        var started = _clock.Time.GetTimestamp();
        while (true)
        {
            try
            {
                var sent = _clock.Time.GetTimestamp();
                var accepted = await _store.FencedWriteAsync(Key, Token, json, StateTtl, ct);
                _metrics.FencedWrite(_clock.Time.GetElapsedTime(sent), accepted);
                return accepted;
            }
            catch (Exception e) when (e is TimeoutException or StackExchange.Redis.RedisConnectionException or StackExchange.Redis.RedisTimeoutException)
            {
                if (_clock.Time.GetElapsedTime(started) > _lease.HoldOnExpiry)
                {
                    Log.WriteGaveUp(_logger, e, Key);
                    return false;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(50), _clock.Time, ct);
            }
        }
    }

    /// <summary>§7.4: past the local deadline the actor parks for up to HoldOnExpiry while renewing.</summary>
    private async Task<bool> EnsureLeaseAsync(CancellationToken ct)
    {
        if (DeadlineValid)
        {
            return true;
        }
        var started = _clock.Time.GetTimestamp();
        while (_clock.Time.GetElapsedTime(started) <= _lease.HoldOnExpiry)
        {
            var sent = _clock.Time.GetTimestamp();
            try
            {
                if (await _store.RenewAsync(Key, Token, _lease.Ttl, StateTtl, ct))
                {
                    ExtendDeadline(sent);
                    return true;
                }
                return false;
            }
            catch (Exception e) when (e is TimeoutException or StackExchange.Redis.RedisException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), _clock.Time, ct);
            }
        }
        return false;
    }

    private void Release(RoomState before, RoomState after, List<RoomOutput> outputs, DateTimeOffset now)
    {
        var started = _clock.Time.GetTimestamp();
        var ops = new List<DeliveryOp>(outputs.Count + 1);
        foreach (var output in outputs)
        {
            switch (output)
            {
                case Broadcast b:
                    ops.Add(new BroadcastOp(SyncFrameWriter.Write(b.Frame, now)));
                    break;
                case SendTo s:
                    ops.Add(new SendOp(s.ClientId, SyncFrameWriter.Write(s.Frame, now)));
                    break;
                case Attach a:
                    ops.Add(new AttachOp(a.ClientId));
                    break;
                case Detach d:
                    ops.Add(new DetachOp(d.ClientId));
                    break;
                case CloseClient c:
                    ops.Add(new CloseOp(c.ClientId, c.Code, c.Reason));
                    break;
                case FetchSegments f when _fetchSegments is not null:
                    _ = _fetchSegments(f, this);
                    break;
            }
        }
        if (SyncFrameWriter.WriteDeltaOrNull(before, after, now) is { } delta)
        {
            ops.Add(new BroadcastOp(delta));
        }
        if (ops.Count > 0)
        {
            // Frames are serialized once; other nodes get the batch only while they have users here.
            var delivery = new RoomDelivery(Key, Token.Epoch, Interlocked.Increment(ref _seq), ops);
            _fanout.Deliver(delivery, HasRemoteUsers(before) || HasRemoteUsers(after));
        }
        _metrics.FanOut(_clock.Time.GetElapsedTime(started));
    }

    private bool HasRemoteUsers(RoomState state)
    {
        foreach (var user in state.Users)
        {
            if (!string.Equals(user.GatewayNodeId, _nodeId, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }

    private async Task UnloadNowAsync(UnloadReason reason)
    {
        var now = _clock.Now;
        var state = _state;
        try
        {
            if (reason == UnloadReason.Shutdown)
            {
                // The room lives on elsewhere: hand it over with its live state as is (design.md §7.6).
                await _store.ReleaseAsync(Key, Token, null, StateTtl, CancellationToken.None);
            }
            else if (state.IsTemporary || reason == UnloadReason.Deleted)
            {
                await _store.DeleteAsync(Key, Token, CancellationToken.None);
                await _store.RemoveActiveAsync(Key, CancellationToken.None);
            }
            else
            {
                var rest = RoomTransitions.ToRestForm(state, now);
                rest = rest with { Version = rest.Version + 1 };
                await _store.ReleaseAsync(Key, Token, Serialize(rest), null, CancellationToken.None);
                await _store.RemoveActiveAsync(Key, CancellationToken.None);
            }
            Log.Unloaded(_logger, Key, reason);
        }
        catch (Exception e)
        {
            // Load and unload never crash the node (design.md §7.6); the lease lapses by itself.
            Log.UnloadFailed(_logger, e, Key, reason);
        }
        if (reason == UnloadReason.Shutdown)
        {
            _fanout.OwnerLost(Key, Token.Epoch);
        }
        else
        {
            _fanout.Unloaded(Key, 4003, "Room was unloaded");
        }
        _stop.Cancel();
    }

    /// <summary>
    /// Drops the room without writing (design.md §7.4) and says so; this node stays a gateway for its
    /// clients, which re-join the room wherever it is owned next.
    /// </summary>
    private async Task DemoteAsync()
    {
        Log.Demoted(_logger, Key, Token.Epoch);
        _metrics.LeaseLost();
        _stop.Cancel();
        try
        {
            // Best effort, writing no state: frees a lease this node may still hold (after an
            // unexpected fault), and is a no-op under the token check when the lease is really lost.
            await _store.ReleaseAsync(Key, Token, null, StateTtl, CancellationToken.None);
        }
        catch (Exception e)
        {
            Log.UnloadFailed(_logger, e, Key, UnloadReason.Shutdown);
        }
        _fanout.OwnerLost(Key, Token.Epoch);
    }

    /// <summary>The lease is lost: expire the deadline so the next batch re-checks it and demotes.</summary>
    public void LeaseLost()
    {
        Volatile.Write(ref _deadline, 0);
        Tick();
    }

    private static void Fail(List<Envelope> batch, OttFailure failure)
    {
        foreach (var e in batch)
        {
            e.Reply.TrySetResult(failure);
        }
    }

    private void DrainMailbox()
    {
        _mailbox.Writer.TryComplete();
        while (_mailbox.Reader.TryRead(out var e))
        {
            e.Reply.TrySetResult(OttFailure.RoomUnavailable());
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _mailbox.Writer.TryComplete();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }

    public Task Completion => _loop;

    private sealed record Envelope(RoomCommand Command)
    {
        public TaskCompletionSource<OttFailure?> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record UnloadCommand(UnloadReason Reason) : RoomCommand;

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Error, "Room {Room}: the actor failed")]
        public static partial void ActorFailed(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Error, "Room {Room}: command {Command} failed unexpectedly")]
        public static partial void CommandFailed(ILogger logger, Exception e, string room, string command);

        [LoggerMessage(LogLevel.Warning, "Room {Room}: fenced write gave up")]
        public static partial void WriteGaveUp(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Information, "Room {Room} unloaded ({Reason})")]
        public static partial void Unloaded(ILogger logger, string room, UnloadReason reason);

        [LoggerMessage(LogLevel.Error, "Room {Room}: unload ({Reason}) failed")]
        public static partial void UnloadFailed(ILogger logger, Exception e, string room, UnloadReason reason);

        [LoggerMessage(LogLevel.Warning, "Room {Room}: demoted at epoch {Epoch}")]
        public static partial void Demoted(ILogger logger, string room, long epoch);
    }
}
