using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

// Releasing a persisted batch: its outputs become one RoomDelivery for the fan-out.
internal sealed partial class RoomActor
{
    private void Release(RoomState before, RoomState after, List<RoomOutput> outputs, DateTimeOffset now)
    {
        var started = _clock.Time.GetTimestamp();
        var ops = new List<DeliveryOp>(outputs.Count + 1);
        foreach (var output in outputs)
        {
            switch (output)
            {
                case Broadcast b:
                    ops.Add(new BroadcastOp(FrameWriter.Write(b.Frame, now)));
                    break;
                case SendTo s:
                    ops.Add(new SendOp(s.ClientId, FrameWriter.Write(s.Frame, now)));
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
        if (FrameWriter.WriteDeltaOrNull(before, after, now) is { } delta)
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
}
