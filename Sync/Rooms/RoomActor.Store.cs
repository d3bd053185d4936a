using Ott.Sync.Storage;

namespace Ott.Sync.Rooms;

// What the actor does in the store: the fenced write, renewing while parked past the deadline,
// and leaving the room (unload or demotion).
internal sealed partial class RoomActor
{
    /// <summary>The fenced write; a timeout (outcome unknown) is retried with the same token until the hold ends.</summary>
    private async Task<bool> WriteAsync(string json, IReadOnlyList<string> audits, CancellationToken ct)
    {
        var started = _clock.Time.GetTimestamp();
        while (true)
        {
            try
            {
                var sent = _clock.Time.GetTimestamp();
                var accepted = await _store.FencedWriteAsync(Key, Token, json, StateTtl, audits, _rooms.AuditLogLength, ct);
                _metrics.FencedWrite(_clock.Time.GetElapsedTime(sent), accepted);
                return accepted;
            }
            catch (Exception e) when (StoreErrors.IsTransient(e))
            {
                if (_clock.Time.GetElapsedTime(started) > _leaseOptions.HoldOnExpiry)
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
        if (Lease.IsValid)
        {
            return true;
        }
        var started = _clock.Time.GetTimestamp();
        while (_clock.Time.GetElapsedTime(started) <= _leaseOptions.HoldOnExpiry)
        {
            try
            {
                return await Lease.RenewAsync(_store, StateTtl, ct);
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException || StoreErrors.IsTransient(e))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), _clock.Time, ct);
            }
        }
        return false;
    }

    private async Task UnloadNowAsync(UnloadReason reason)
    {
        _relinquishing = true;
        var now = _clock.Now;
        var state = _state;
        try
        {
            if (reason == UnloadReason.Shutdown)
            {
                // The room lives on elsewhere: hand it over with its live state as is (docs/architecture.md §7.6).
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
            // Load and unload never crash the node (docs/architecture.md §7.6); the lease lapses by itself.
            Log.UnloadFailed(_logger, e, Key, reason);
        }
        if (reason == UnloadReason.Shutdown)
        {
            _fanout.OwnerLost(Key, Token.Epoch);
        }
        else
        {
            _fanout.Unloaded(Key, Token.Epoch, 4003, "Room was unloaded");
        }
        _stop.Cancel();
    }

    /// <summary>
    /// Drops the room without writing (docs/architecture.md §7.4) and says so; this node stays a gateway for its
    /// clients, which re-join the room wherever it is owned next.
    /// </summary>
    private async Task DemoteAsync()
    {
        _relinquishing = true;
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
}
