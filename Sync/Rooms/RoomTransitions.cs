using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Ott.Sync.Media;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

/// <summary>
/// Pure room logic: (state, command, now) → outcome (docs/protocol.md §6). A failing command changes nothing:
/// handlers throw <see cref="OttException"/> and the outcome keeps the state it was given.
/// </summary>
public static partial class RoomTransitions
{
    public const int KeptEvents = 50;

    public static RoomOutcome Apply(RoomState state, RoomCommand command, DateTimeOffset now, RoomContext ctx)
    {
        if (command.Id is { } requestId && RequestLedger.IsApplied(state.AppliedRequests, requestId))
        {
            return new RoomOutcome(state, [], null); // a retry of an applied request: its outcome again, nothing applied
        }
        var tx = new Tx(state, now, ctx);
        try
        {
            switch (command)
            {
                case RequestCommand r: tx.Request(r); break;
                case JoinCommand j: tx.Join(j.User); break;
                case LeaveCommand l: tx.Leave(l.ClientId); break;
                case RejoinCommand r: tx.Rejoin(r.GatewayNodeId, r.Users); break;
                case GatewayLostCommand g: tx.GatewayLost(g.GatewayNodeId); break;
                case UpdateUserCommand u: tx.UpdateUser(u); break;
                case StatusCommand s: tx.SetStatus(s.ClientId, s.Status); break;
                case ClaimCommand c: tx.Claim(c.Actor); break;
                case TickCommand: tx.Tick(); break;
                case SegmentsLoadedCommand sl: tx.SegmentsLoaded(sl.Item, sl.Segments); break;
                case SeedPrevQueueCommand seed: tx.SeedPrevQueue(seed.Items); break;
                case DisconnectSessionCommand d: tx.DisconnectSession(d.SessionKey, d.Code, d.Reason); break;
                default: throw new InvalidOperationException($"Unknown command {command.GetType().Name}");
            }
            tx.Normalize();
        }
        catch (OttException e)
        {
            return new RoomOutcome(state, [], e.Failure);
        }
        var result = tx.State;
        if (command.Id is { } id)
        {
            // Recorded even when the request changed nothing: a retry must not apply it later, when it would.
            result = result with { AppliedRequests = RequestLedger.Record(result.AppliedRequests, id, now.ToUnixTimeMilliseconds(), ctx.RequestRetention) };
        }
        return new RoomOutcome(result, tx.Outputs.ToImmutable(), null);
    }

    /// <summary>§6.10: the restore-queue rules that run on every load.</summary>
    public static RoomState OnLoad(RoomState state, DateTimeOffset now, RoomContext ctx)
    {
        var s = state with { LastActiveAt = now };
        switch (s.RestoreQueueBehavior)
        {
            case RestoreQueueBehavior.Never:
                s = s with { PrevQueue = null };
                break;
            case RestoreQueueBehavior.Always when s.PrevQueue is not null && s.Queue.IsEmpty:
                s = s with { Queue = s.PrevQueue.Where(i => s.CurrentSource is null || !Same(i, s.CurrentSource)).DistinctBy(i => i.Key).ToImmutableList(), PrevQueue = null };
                break;
        }
        var tx = new Tx(s, now, ctx);
        tx.Normalize();
        return tx.State;
    }

    /// <summary>§8.3: the rest form a permanent room is stored in when it unloads idle or by an admin.</summary>
    public static RoomState ToRestForm(RoomState state, DateTimeOffset now)
    {
        var prev = new List<QueueItem>();
        if (state.CurrentSource is { } current)
        {
            prev.Add(current with { StartAt = state.LivePosition(now) });
        }
        prev.AddRange(state.Queue);
        return state with
        {
            PrevQueue = prev.Count == 0 ? null : [.. prev],
            CurrentSource = null,
            Queue = [],
            IsPlaying = false,
            PlaybackPosition = 0,
            PlaybackAnchor = null,
            PlaybackSpeed = 1,
            VideoSegments = [],
        };
    }

    /// <summary>The vote-skip threshold ceil(0.5 × eligible) (docs/protocol.md §6.9).</summary>
    public static int SkipThreshold(int eligible) => (eligible + 1) / 2;

    private static bool Same(QueueItem a, QueueItem b) => a.Service == b.Service && a.Id == b.Id;

    private static bool IsVttUrl(string url)
    {
        var dot = url.LastIndexOf('.');
        return dot >= 0 && url[(dot + 1)..] == "vtt";
    }
}
