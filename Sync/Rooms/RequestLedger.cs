using System.Collections.Immutable;

namespace Ott.Sync.Rooms;

/// <summary>
/// A state-changing request's identity, minted where it enters Ott (docs/architecture.md §9.4): its origin
/// (a socket's client id, or one node's REST calls to one room) and that origin's counter, from 1. It travels
/// unchanged through forwarding, retries and failover.
/// </summary>
public readonly record struct RequestId(string Origin, long Seq)
{
    public override string ToString() => $"{Origin}#{Seq}";

    public static RequestId? Parse(string? text)
    {
        var at = text?.LastIndexOf('#') ?? -1;
        return at > 0 && long.TryParse(text.AsSpan(at + 1), out var seq) && seq > 0 ? new RequestId(text![..at], seq) : null;
    }
}

/// <summary>
/// The exactly-once rule (docs/architecture.md §9.4), as pure functions of the room's stored
/// <see cref="RoomState.AppliedRequests"/>. Per origin the room keeps the highest applied seq and the seqs
/// below it that it has not applied (gaps: not arrived yet, overtaken, or refused). A request is a retry of
/// an applied one when its seq is at or below the mark and not a gap. Nothing rolls over with load: a mark
/// lives until its origin has been quiet for the retention, which is longer than any retry horizon.
/// </summary>
public static class RequestLedger
{
    /// <summary>
    /// Gaps kept per origin; past it the oldest go first. It bounds a burst, not normal traffic: gaps fill
    /// as overtaken requests arrive. It must exceed any burst of one origin's requests in flight at once
    /// (a node stalled for seconds releases all the REST calls it queued meanwhile together), or the
    /// overtaken ones would be taken for retries of applied requests and lost.
    /// </summary>
    public const int MaxGaps = 4096;

    /// <summary>Gaps opened below the first request seen from an origin.</summary>
    public const int FirstSightGaps = 256;

    public static bool IsApplied(ImmutableDictionary<string, RequestMark> ledger, RequestId id) =>
        ledger.TryGetValue(id.Origin, out var mark) && id.Seq <= mark.Seq && !mark.Gaps.Exists(g => g.Seq == id.Seq);

    /// <summary>The ledger with <paramref name="id"/> applied at <paramref name="nowMs"/>, and marks or gaps older than <paramref name="retention"/> dropped.</summary>
    public static ImmutableDictionary<string, RequestMark> Record(
        ImmutableDictionary<string, RequestMark> ledger, RequestId id, long nowMs, TimeSpan retention)
    {
        var expired = nowMs - (long)retention.TotalMilliseconds;
        var result = ledger;
        foreach (var (origin, old) in ledger)
        {
            if (old.At < expired)
            {
                result = result.Remove(origin);
            }
            else if (old.Gaps.Exists(g => g.At < expired))
            {
                result = result.SetItem(origin, old with { Gaps = old.Gaps.RemoveAll(g => g.At < expired) });
            }
        }
        var known = result.TryGetValue(id.Origin, out var m);
        var mark = known ? m! : new RequestMark();
        if (id.Seq > mark.Seq)
        {
            // Every seq skipped over is a gap until it arrives: requests of one origin may overtake each other.
            // An origin seen for the first time (or again after its mark expired) has only its latest few
            // requests possibly in flight; older seqs are past any retry.
            var from = Math.Max(mark.Seq + 1, id.Seq - (known ? MaxGaps : FirstSightGaps));
            var gaps = mark.Gaps.AddRange(Enumerable.Range(0, (int)(id.Seq - from)).Select(i => new RequestGap(from + i, nowMs)));
            mark = new RequestMark { Seq = id.Seq, At = nowMs, Gaps = gaps.Count > MaxGaps ? gaps.RemoveRange(0, gaps.Count - MaxGaps) : gaps };
        }
        else
        {
            mark = mark with { At = nowMs, Gaps = mark.Gaps.RemoveAll(g => g.Seq == id.Seq) };
        }
        return result.SetItem(id.Origin, mark);
    }
}
