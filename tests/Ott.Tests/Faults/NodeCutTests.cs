using System.Diagnostics;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using Ott.Tests.Infrastructure.Faults;
using Xunit.Abstractions;
using ClusterNode = Ott.Tests.Infrastructure.Cluster.ClusterNode;

namespace Ott.Tests.Faults;

// T6 (docs/architecture.md §15.3, §7.3–7.4, §9.6): the chaos proxy cuts the owner's Redis, (a) for 1.5 × TTL
// and (b) for 3 × TTL. Lease TTL 2 s, renew 400 ms, heartbeat 500 ms, node timeout 1.5 s.
[Collection(FaultCollection.Name)]
public sealed class NodeCutTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(2);

    // deadline = renew sent + TTL - max(margin, 10 % TTL); the last renew was sent before the cut.
    private static readonly TimeSpan Deadline = Ttl * 0.9;

    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task ShortCutOwnerIsReplacedStopsAtItsDeadlineAndRejoinsAsAGatewayWithItsSocketsOpen()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        var (nodes, cut, setup) = await StartAsync(cluster, ct);
        var room = setup.Room;
        var others = setup.Others;
        try
        {
            var before = new List<string>
            {
                await FaultKit.AddAcknowledgedAsync(setup.ClientsOf[cut][0], "before-cut", ct),
                await FaultKit.AddAcknowledgedAsync(setup.ClientsOf[others[0]][0], "before-other", ct),
            };
            var marks = setup.Marks();
            var clock = Stopwatch.StartNew();
            await using var leases = new LeaseWatch(cluster, room, clock);
            await WaitUntil.WaitUntilAsync(() => Task.FromResult(leases.Changes.Count > 0), TimeSpan.FromSeconds(5), "the lease watch has a first sample");

            var cutAt = clock.Elapsed;
            cluster.ProxyOf(cut).Cut();
            TimeSpan healedAt;
            string during;
            try
            {
                // The cut node stops at its deadline: it lists the room with an expired deadline, or not at all.
                var stopped = await WaitFencedAsync(cluster, cut, room, ct);
                output.Measured("cut to the cut node's deadline passed", clock.Elapsed - cutAt);
                Assert.True(clock.Elapsed - cutAt <= Deadline + Slack, $"still owning {(clock.Elapsed - cutAt).TotalMilliseconds:F0} ms after the cut: {stopped}");

                // The others take over after the TTL, under a higher epoch.
                (string NodeId, long Epoch)? lease = null;
                await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(async () =>
                {
                    lease = await cluster.LeaseOwnerAsync(room);
                    return lease is { } l && l.NodeId != cut.NodeId;
                }, TimeSpan.FromSeconds(3) - (clock.Elapsed - cutAt), "another node holds the lease within the cut"));
                var takeover = clock.Elapsed - cutAt;
                output.Measured("cut to new lease", takeover);
                Assert.True(lease!.Value.Epoch > setup.Epoch, $"epoch {lease.Value.Epoch} after {setup.Epoch}");
                Assert.Contains(lease.Value.NodeId, others.Select(n => n.NodeId));
                Assert.True(takeover >= Ttl - TimeSpan.FromMilliseconds(500), $"taken over {takeover.TotalMilliseconds:F0} ms after the cut, before the lease could expire");
                // Its gateway may not have seen the takeover yet; an honest "unavailable" is retried once.
                during = await FaultKit.WithLogsAsync(cluster,
                    () => FaultKit.AddAcknowledgedAsync(setup.ClientsOf[others[1]][0], "during", ct, retryUnavailable: true));

                await LastUntilAsync(clock, cutAt + Ttl * 1.5, ct); // the fault itself: 1.5 × TTL
            }
            finally
            {
                cluster.ProxyOf(cut).Heal();
                healedAt = clock.Elapsed;
            }
            output.Measured("cut for", healedAt - cutAt);
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(
                async () => (await others[0].LiveNodesAsync(ct)).Contains(cut.NodeId),
                TimeSpan.FromSeconds(10), $"{cut.Name} heartbeats again"));
            output.Measured("heal to the cut node back in the live set", clock.Elapsed - healedAt);

            // After healing the node is a gateway: its sockets stayed open, and every client is back
            // in the user list on every node and gets a full sync.
            await FaultKit.WithLogsAsync(cluster, () => FaultKit.WaitForUserListAsync(nodes, room, setup.AllClients, TimeSpan.FromSeconds(15), ct));
            output.Measured("heal to every client in the user list on every node", clock.Elapsed - healedAt);
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(
                () => Task.FromResult(setup.AllClients.All(c => FaultKit.HasFullSyncSince(c, marks[c], room))),
                TimeSpan.FromSeconds(10), "every client gets a full sync after the cut"));
            output.Measured("heal to every client re-synced", clock.Elapsed - healedAt);
            Assert.All(setup.AllClients, c => Assert.False(c.Closed.IsCompleted, $"{c.ClientId} was closed: {(c.Closed.IsCompleted ? c.Closed.Result : null)} {c.CloseDescription}"));
            await FaultKit.WithLogsAsync(cluster, () => FaultKit.WaitForSingleOwnerAsync(cluster, room, TimeSpan.FromSeconds(5), ct));
            Assert.False((await FaultKit.OwnedAsync(cut, ct))!.ContainsKey(room));

            // Writes go through the healed node as a gateway, and its own clients see other nodes' events.
            var after = await FaultKit.AddAcknowledgedAsync(setup.ClientsOf[cut][0], "after", ct);
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(
                () => Task.FromResult(setup.AllClients.All(c => FaultKit.AcknowledgedAdds([c]).Contains(after))),
                TimeSpan.FromSeconds(10), "every client sees the add made through the healed node"));

            // The cut node never wrote again: its token never reappeared (I2), and nothing acknowledged is lost (I3).
            var own = TokensOf(cut, leases, cutAt);
            output.WriteLine($"lease changes: {string.Join(", ", leases.Changes.Select(c => $"{c.At.TotalMilliseconds:F0} ms {c.Token}"))}");
            Assert.True(own.Count == 0, $"{cut.Name}'s token reappeared: {string.Join(", ", own)}");
            var acknowledged = FaultKit.AcknowledgedAdds(setup.AllClients);
            var (stored, _) = await FaultKit.StoredMediaAsync(cluster, room);
            Assert.All(before.Append(during).Append(after).Concat(acknowledged), url => Assert.Contains(url, stored));
            Assert.Equal(stored.Count, stored.Distinct().Count());
        }
        finally
        {
            await setup.DisposeClientsAsync();
        }
    }

    [Fact]
    public async Task LongCutClosesTheCutNodesSocketsWith1012()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        var (nodes, cut, setup) = await StartAsync(cluster, ct);
        var room = setup.Room;
        var others = setup.Others;
        try
        {
            var before = await FaultKit.AddAcknowledgedAsync(setup.ClientsOf[cut][0], "before-cut", ct);
            var clock = Stopwatch.StartNew();
            await using var leases = new LeaseWatch(cluster, room, clock);
            await WaitUntil.WaitUntilAsync(() => Task.FromResult(leases.Changes.Count > 0), TimeSpan.FromSeconds(5), "the lease watch has a first sample");
            var cutAt = clock.Elapsed;
            cluster.ProxyOf(cut).Cut();
            TimeSpan healedAt;
            var closedAfter = new List<TimeSpan>();
            try
            {
                // 2 × TTL without reaching Redis: its sockets are closed with 1012 (§7.4), while still cut.
                foreach (var client in setup.ClientsOf[cut])
                {
                    var code = await client.Closed.WaitAsync(Ttl * 3 - (clock.Elapsed - cutAt), ct);
                    closedAfter.Add(clock.Elapsed - cutAt);
                    Assert.Equal(1012, (int?)code);
                }
                output.Measured("cut to 1012 (last client)", closedAfter.Max());
                // The cut-off counts 2 × TTL plus two heartbeats from the last success, which is at most one
                // heartbeat older than the cut: no socket closes before the cut has lasted 2 × TTL.
                Assert.True(closedAfter.Min() >= Ttl * 2, $"closed {closedAfter.Min().TotalMilliseconds:F0} ms after the cut, before 2 × TTL");
                Assert.True(closedAfter.Max() <= Ttl * 2 + Slack, $"closed {closedAfter.Max().TotalMilliseconds:F0} ms after the cut");

                await LastUntilAsync(clock, cutAt + Ttl * 3, ct); // the fault itself: 3 × TTL
            }
            finally
            {
                cluster.ProxyOf(cut).Heal();
                healedAt = clock.Elapsed;
            }
            output.Measured("cut for", healedAt - cutAt);

            // The others own the room under a higher epoch; their clients kept their sockets, and the
            // closed clients left the user list.
            var lease = await cluster.LeaseOwnerAsync(room);
            Assert.NotNull(lease);
            Assert.Contains(lease.Value.NodeId, others.Select(n => n.NodeId));
            Assert.True(lease.Value.Epoch > setup.Epoch);
            var remaining = others.SelectMany(n => setup.ClientsOf[n]).ToList();
            await FaultKit.WithLogsAsync(cluster, () => FaultKit.WaitForUserListAsync(nodes, room, remaining, TimeSpan.FromSeconds(15), ct));
            output.Measured("heal to the user list on every node", clock.Elapsed - healedAt);
            Assert.All(remaining, c => Assert.False(c.Closed.IsCompleted, $"{c.ClientId} was closed: {(c.Closed.IsCompleted ? c.Closed.Result : null)}"));
            await FaultKit.WithLogsAsync(cluster, () => cluster.WaitForMembershipAsync(ct));
            await FaultKit.WithLogsAsync(cluster, () => FaultKit.WaitForSingleOwnerAsync(cluster, room, TimeSpan.FromSeconds(5), ct));

            // A new client of the healed node joins the room as a gateway client.
            await using var fresh = await cut.JoinAsync(room, token: null, ct);
            await FaultKit.WithLogsAsync(cluster, () => FaultKit.WaitForUserListAsync(nodes, room, remaining.Append(fresh), TimeSpan.FromSeconds(10), ct));

            var own = TokensOf(cut, leases, cutAt);
            Assert.True(own.Count == 0, $"{cut.Name}'s token reappeared: {string.Join(", ", own)}");
            var (stored, _) = await FaultKit.StoredMediaAsync(cluster, room);
            Assert.All(FaultKit.AcknowledgedAdds(setup.AllClients).Append(before), url => Assert.Contains(url, stored));
        }
        finally
        {
            await setup.DisposeClientsAsync();
        }
    }

    // Two nodes on Redis directly and the owner through a chaos proxy; two clients on each node.
    private static async Task<(IReadOnlyList<ClusterNode> Nodes, ClusterNode Cut, OwnedRoom Setup)> StartAsync(TestCluster cluster, CancellationToken ct)
    {
        cluster.Environment["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ";
        var direct = await cluster.StartAsync(2, ct);
        var cut = await cluster.AddNodeAsync(ct, viaProxy: true);
        IReadOnlyList<ClusterNode> nodes = [cut, .. direct];
        await FaultKit.WithLogsAsync(cluster, () => cluster.WaitForMembershipAsync(ct));
        var setup = await OwnedRoom.CreateAsync(cluster, cut, nodes, perNode: 2, ct);
        return (nodes, cut, setup);
    }

    // Until the node lists the room with its deadline passed, or no longer lists it; returns what it listed.
    // Waits out the rest of a fault that lasts until `end` on the clock.
    private static async Task LastUntilAsync(Stopwatch clock, TimeSpan end, CancellationToken ct)
    {
        var left = end - clock.Elapsed;
        if (left > TimeSpan.Zero)
        {
            await Task.Delay(left, ct);
        }
    }

    // The lease tokens of `node` seen after `since`: a node that was cut must never write again (I2).
    private static List<(TimeSpan At, string? Token)> TokensOf(ClusterNode node, LeaseWatch leases, TimeSpan since) =>
        [.. leases.Changes.Where(c => c.At > since && c.Token?.StartsWith(node.NodeId + "|", StringComparison.Ordinal) == true)];

    private static async Task<string> WaitFencedAsync(TestCluster cluster, ClusterNode node, string room, CancellationToken ct)
    {
        var seen = "";
        await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(async () =>
        {
            if (await FaultKit.OwnedAsync(node, ct) is not { } owned)
            {
                return false;
            }
            seen = owned.TryGetValue(room, out var listed) ? listed.ToJsonString() : "nothing";
            return listed is null || !listed["deadlineValid"]!.GetValue<bool>();
        }, TimeSpan.FromSeconds(5), $"{node.Name} no longer owns {room} with a valid deadline"));
        return seen;
    }
}
