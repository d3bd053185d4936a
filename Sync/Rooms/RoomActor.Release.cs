using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

// Releasing a persisted batch: its outputs become one RoomDelivery for the fan-out.
internal sealed partial class RoomActor
{
    private void Release(RoomState before, RoomState after, List<RoomOutput> outputs, DateTimeOffset now)
    {
        var started = _clock.Time.GetTimestamp();
        var ops = new List<RoomOutput>(outputs.Count + 1);
        foreach (var output in outputs)
        {
            // Every frame is written once, here, at the batch's instant; the fan-out only copies bytes.
            switch (output)
            {
                case Broadcast b:
                    ops.Add(new Broadcast(Written(b.Frame, now)));
                    break;
                case SendTo s:
                    ops.Add(s with { Frame = Written(s.Frame, now) });
                    break;
                case SendToMany m:
                    ops.Add(m with { Frame = Written(m.Frame, now) });
                    break;
                case FetchSegments f:
                    if (_fetchSegments is not null)
                    {
                        _ = _fetchSegments(f, this);
                    }
                    break;
                default:
                    ops.Add(output);
                    break;
            }
        }
        if (SyncFrameWriter.WriteDeltaOrNull(before, after, now) is { } delta)
        {
            ops.Add(new Broadcast(new WrittenFrame(delta)));
        }
        if (CarriesPosition(before, after, outputs))
        {
            // Last in the batch, so every client the batch attached (a join, a rejoin) is attached by then. The
            // position is taken at the whole millisecond the frame names, so the two agree exactly.
            var at = now.ToUnixTimeMilliseconds();
            ops.Add(new AnchorOutput(after.LivePosition(DateTimeOffset.FromUnixTimeMilliseconds(at)), at, after.IsPlaying, after.PlaybackSpeed,
                after.WaitForBuffering, after.Hold?.Pending ?? []));
        }
        if (ops.Count > 0)
        {
            // Frames are serialized once; other nodes get the batch only while they have users here.
            var delivery = new RoomDelivery(Key, Token.Epoch, Interlocked.Increment(ref _seq), ops);
            _fanout.Deliver(delivery, HasRemoteUsers(before) || HasRemoteUsers(after));
        }
        _metrics.FanOut(_clock.Time.GetElapsedTime(started));
    }

    // The batch told some client a position (a jump, a full sync, a position sync), or the wait for buffering
    // changed: clock-synced clients get the position with the cluster instant it holds at (docs/protocol.md §10).
    private static bool CarriesPosition(RoomState before, RoomState after, List<RoomOutput> outputs)
    {
        if (before.ToPlaybackBasis() != after.ToPlaybackBasis() || before.Hold != after.Hold || before.WaitForBuffering != after.WaitForBuffering)
        {
            return true;
        }
        foreach (var output in outputs)
        {
            var frame = output switch
            {
                Broadcast b => b.Frame,
                SendTo s => s.Frame,
                SendToMany m => m.Frame,
                _ => null,
            };
            if (frame is FullSyncFrame or PositionSyncFrame)
            {
                return true;
            }
        }
        return false;
    }

    private static WrittenFrame Written(ServerFrame frame, DateTimeOffset now) =>
        frame as WrittenFrame ?? new WrittenFrame(SyncFrameWriter.Write(frame, now));

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
}
