using System.Text.Json;
using System.Threading.Channels;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;
using Ott.Sync.Storage;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Rooms;

/// <summary>Why a room leaves this node (docs/protocol.md §8.3).</summary>
internal enum UnloadReason
{
    Keepalive,
    Admin,
    Shutdown,
    Deleted,
}

/// <summary>
/// One owned room: a loop fed by a bounded mailbox that applies transitions in batches, writes the
/// stored record under the lease (fenced) and only then releases the batch's outputs (docs/architecture.md §7.5).
/// All mutations of a room are serialised here.
/// </summary>
internal sealed partial class RoomActor : IAsyncDisposable
{
    private const int MaxBatch = 64;
    private const int MaxRefusals = 1024;

    private readonly Channel<Envelope> _mailbox;
    private readonly Dictionary<RequestId, (OttFailure Failure, DateTimeOffset At)> _refused = [];
    private readonly RoomStore _store;
    private readonly ClusterClock _clock;
    private readonly RoomsOptions _rooms;
    private readonly LeaseOptions _leaseOptions;
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
    private int _tickQueued;
    private long _seq;

    public RoomActor(string key, RoomLease lease, RoomState state, string storedJson, RoomActorServices services)
    {
        if (!string.Equals(key, lease.Room, StringComparison.Ordinal))
        {
            throw new ArgumentException($"The lease is for room {lease.Room}, not {key}.", nameof(lease));
        }
        Key = key;
        Lease = lease;
        _state = state;
        _storedJson = storedJson;
        _store = services.Store;
        _clock = services.Clock;
        _rooms = services.Rooms;
        _leaseOptions = services.Lease;
        _ctx = services.Context;
        _logger = services.Logger;
        _onStopped = services.OnStopped;
        _fetchSegments = services.FetchSegments;
        _metrics = services.Metrics;
        _fanout = services.Fanout;
        _nodeId = services.NodeId;
        _mailbox = Channel.CreateBounded<Envelope>(new BoundedChannelOptions(_rooms.MailboxCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>The lower-cased room name.</summary>
    public string Key { get; }

    // The lease this actor writes under; the lease keeper renews it too.
    public RoomLease Lease { get; }

    public LeaseToken Token => Lease.Token;

    /// <summary>The last persisted state; safe to read from any thread.</summary>
    public RoomState State => _state;

    public bool IsStopped => _loop.IsCompleted || _stop.IsCancellationRequested;

    /// <summary>The room's users on every node.</summary>
    public int ConnectionCount => _state.Users.Count;

    /// <summary>Batches released so far under this epoch (the seq of the last one).</summary>
    public long Seq => Volatile.Read(ref _seq);

    public TimeSpan? StateTtl => _state.IsTemporary ? _rooms.TemporaryStateTtl : null;

    // For the owner check of OwnerRequests and the admin ownership view. False from the moment the actor starts
    // to give the room up (unload, handoff, demotion): once its release reaches the store another node may take
    // the room, so this one claims it no longer, even if a renewal in flight extends the local deadline (I1).
    public bool DeadlineValid => !_relinquishing && Lease.IsValid;

    private volatile bool _relinquishing;

    // The lease measures with the node's TimeProvider, which is the one the admin view passes.
    public TimeSpan DeadlineRemaining(TimeProvider time) => Lease.Remaining;

    /// <summary>Posts a command and waits until its batch is persisted and released.</summary>
    public Task<OttFailure?> SendAsync(RoomCommand command, CancellationToken ct)
    {
        var envelope = new Envelope(command);
        // A full mailbox refuses the command rather than blocking the caller (docs/architecture.md §12).
        return _mailbox.Writer.TryWrite(envelope)
            ? envelope.Reply.Task.WaitAsync(ct)
            : Task.FromResult<OttFailure?>(OttFailure.RoomUnavailable());
    }

    /// <summary>Posts a tick unless one is already queued.</summary>
    public void Tick()
    {
        if (Interlocked.Exchange(ref _tickQueued, 1) == 0 && !_mailbox.Writer.TryWrite(new Envelope(new TickCommand())))
        {
            Volatile.Write(ref _tickQueued, 0);
        }
    }

    /// <summary>The lease keeper found the lease lost (which expired it): a tick makes the next batch see that and demote.</summary>
    public void LeaseLost() => Tick();

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
        catch (Exception e) when (StoreErrors.IsTransient(e))
        {
            // The store is restarting or unreachable past the hold: the room is unavailable, not broken (§12).
            Log.StoreUnavailable(_logger, e, Key);
            Fail(batch, OttFailure.RoomUnavailable());
            await DemoteAsync();
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

    // Refused requests change nothing stored, so the room's ledger does not know them; this owner keeps
    // their answers for the retention, so a retry after a lost reply gets the original refusal, not a
    // second judgement. A new owner judges such a retry afresh (it was never applied).
    private void RememberRefusal(RequestId id, OttFailure failure, DateTimeOffset now)
    {
        if (_refused.Count >= MaxRefusals)
        {
            var expired = now - _ctx.RequestRetention;
            foreach (var (old, entry) in _refused)
            {
                if (entry.At < expired)
                {
                    _refused.Remove(old);
                }
            }
            if (_refused.Count >= MaxRefusals)
            {
                _refused.Remove(_refused.MinBy(e => e.Value.At).Key);
            }
        }
        _refused[id] = (failure, now);
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
            if (envelope.Command.Id is { } retried && _refused.TryGetValue(retried, out var refusal))
            {
                // A retry of a request this owner refused: the same answer again, judged once (§9.4).
                replies.Add((envelope, refusal.Failure));
                continue;
            }
            RoomOutcome outcome;
            try
            {
                outcome = RoomTransitions.Apply(state, envelope.Command, now, _ctx);
            }
            catch (Exception e)
            {
                // An unexpected fault abandons that command's change (docs/protocol.md §1.7 Unknown).
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
            if (outcome.Error is { } error && envelope.Command.Id is { } refusedId)
            {
                RememberRefusal(refusedId, error, now);
            }
        }

        if (unload is null && IdleFor(state, now) >= _rooms.UnloadAfter)
        {
            unload = new UnloadCommand(UnloadReason.Keepalive);
        }

        // Audit entries are not released: they are written with the state below (docs/architecture.md §7.5).
        var audits = new List<string>();
        foreach (var output in outputs)
        {
            if (output is Audited audited)
            {
                audits.Add(JsonSerializer.Serialize(audited.Entry, RoomsJsonContext.Default.AuditEntry));
            }
        }
        if (audits.Count > 0)
        {
            outputs.RemoveAll(o => o is Audited);
        }

        if (!ReferenceEquals(state, before) || audits.Count > 0)
        {
            var json = Serialize(state);
            if (json != _storedJson || audits.Count > 0)
            {
                state = state with { Version = state.Version + 1 };
                json = Serialize(state);
                if (!await WriteAsync(json, audits, ct))
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
}
