using System.Collections.Concurrent;
using Ott.Sync.Cluster;
using Ott.Sync.Rooms;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Connections;

/// <summary>One viewer's last drift report, as this node saw it (docs/protocol.md §10, docs/architecture.md §20).</summary>
internal sealed record ViewerDrift(string Id, string Name, double? DriftSeconds, double UncertaintySeconds, bool Buffering, long ReportedAt);

/// <summary>A room's viewers on this node: the spread between their drifts, and the one furthest from the room.</summary>
internal sealed record RoomDriftView(string Room, string Node, long At, int Viewers, double? SpreadSeconds, ViewerDrift? Worst, IReadOnlyList<ViewerDrift> Reports);

/// <summary>
/// Clock sync and drift telemetry for this node's clients (issue 16). Server time is the cluster clock, which is
/// anchored to the store's TIME, so clients of every node share one timeline. Reports are checked by the
/// client's own session against the last anchor it was sent, and the last report of each viewer is kept here
/// for the per-room summary; nothing of it goes through the room's actor.
/// </summary>
internal sealed class DriftBoard(ClusterClock clock, OttMetrics metrics, NodeIdentity node)
{
    // A report older than this no longer counts toward the room's spread.
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, ViewerDrift>> _rooms = new(StringComparer.Ordinal);

    // When each buffering client started buffering (cluster ms), for the buffering histogram.
    private readonly ConcurrentDictionary<string, long> _since = new(StringComparer.Ordinal);

    /// <summary>Cluster time in Unix milliseconds, with the clock's sub-millisecond part.</summary>
    public double NowMs => (clock.Now - DateTimeOffset.UnixEpoch).TotalMilliseconds;

    /// <summary>The room's live position at <paramref name="atMs"/> as the anchor gives it.</summary>
    public static double Expected(AnchorOutput anchor, double atMs) =>
        anchor.IsPlaying ? anchor.Position + (atMs - anchor.At) / 1000 * anchor.Speed : anchor.Position;

    public void Report(string room, string clientId, string name, AnchorOutput? anchor, double position, double atMs, bool buffering, double uncertaintyMs)
    {
        var viewers = _rooms.GetOrAdd(room, _ => new(StringComparer.Ordinal));
        // A report that predates the last anchor measured against the previous timeline: not a drift.
        double? drift = anchor is not null && atMs >= anchor.At && !buffering ? position - Expected(anchor, atMs) : null;
        if (drift is { } d)
        {
            metrics.ClientDrift(d);
        }
        metrics.OffsetUncertainty(uncertaintyMs / 1000);
        var at = (long)atMs;
        if (buffering)
        {
            _since.TryAdd(clientId, at);
        }
        else if (_since.TryRemove(clientId, out var since))
        {
            metrics.Buffered(Math.Max(0, (atMs - since) / 1000));
        }
        viewers[clientId] = new ViewerDrift(clientId, name, drift, uncertaintyMs / 1000, buffering, at);
    }

    public void Forget(string room, string clientId)
    {
        _since.TryRemove(clientId, out _);
        if (_rooms.TryGetValue(room, out var viewers) && viewers.TryRemove(clientId, out _) && viewers.IsEmpty)
        {
            // Another viewer's report racing this removal may land in the dropped map; its next one adds the room again.
            _rooms.TryRemove(KeyValuePair.Create(room, viewers));
        }
    }

    public RoomDriftView Summary(string room)
    {
        var now = (long)NowMs;
        var reports = _rooms.TryGetValue(room, out var viewers)
            ? viewers.Values.Where(v => now - v.ReportedAt <= Fresh.TotalMilliseconds).OrderBy(v => v.Id, StringComparer.Ordinal).ToList()
            : [];
        var measured = reports.Where(v => v.DriftSeconds is not null).ToList();
        double? spread = measured.Count > 0 ? measured.Max(v => v.DriftSeconds!.Value) - measured.Min(v => v.DriftSeconds!.Value) : null;
        var worst = measured.MaxBy(v => Math.Abs(v.DriftSeconds!.Value));
        return new RoomDriftView(room, node.Id, now, reports.Count, spread, worst, reports);
    }
}
