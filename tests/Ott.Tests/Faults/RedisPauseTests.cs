using System.Diagnostics;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using Ott.Tests.Infrastructure.Faults;
using Xunit.Abstractions;
using ClusterNode = Ott.Tests.Infrastructure.Cluster.ClusterNode;

namespace Ott.Tests.Faults;

// T5 (docs/architecture.md §15.3, §7.3–7.4, §9.6): Redis stops answering everyone for 3 s, by DEBUG SLEEP (all
// clients block) or CLIENT PAUSE WRITE (writes, EVAL and PUBLISH wait; key expiry pauses too).
// Lease TTL 2 s, renew 400 ms, heartbeat 500 ms, node timeout 1.5 s.
[Collection(FaultCollection.Name)]
public sealed class RedisPauseTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(3);

    // Node timeout + 2 heartbeats (§9.6).
    private static readonly TimeSpan RejoinBound = TimeSpan.FromSeconds(1.5 + 2 * 0.5);

    // For a loaded 2-core box with other fault tests beside it.
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(5);

    [Fact]
    public Task DebugSleepLeavesOneOwnerPerRoomAndLosesNothing() =>
        RunAsync(async (cluster, clock) =>
        {
            // Blocks the admin connection for the whole stall too; it returns when Redis wakes.
            await cluster.RedisAdmin.ExecuteAsync("DEBUG", "SLEEP", Pause.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return clock.Elapsed;
        });

    [Fact]
    public Task ClientPauseWriteLeavesOneOwnerPerRoomAndLosesNothing() =>
        RunAsync(async (cluster, clock) =>
        {
            var sent = clock.Elapsed;
            await cluster.RedisAdmin.ExecuteAsync("CLIENT", "PAUSE", ((int)Pause.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture), "WRITE");
            var end = sent + Pause;
            await Task.Delay(end - clock.Elapsed); // the fault itself
            return end;
        });

    // Every node's /debug/ownership between 2.5 s and 2.9 s into the stall (before it ends at 3 s):
    // how many rooms were listed, and those listed with a valid deadline.
    private static async Task<(int Sampled, List<string> Valid)> FencedDuringStallAsync(IReadOnlyList<ClusterNode> nodes, Stopwatch clock, CancellationToken ct)
    {
        await Task.Delay(TimeSpan.FromSeconds(2.5), ct);
        var sampled = 0;
        var valid = new List<string>();
        while (clock.Elapsed < TimeSpan.FromSeconds(2.9))
        {
            foreach (var node in nodes)
            {
                var owned = await FaultKit.OwnedAsync(node, ct);
                if (owned is null || clock.Elapsed >= TimeSpan.FromSeconds(2.9))
                {
                    continue;
                }
                sampled += owned.Count;
                valid.AddRange(owned.Values.Where(r => r["deadlineValid"]!.GetValue<bool>()).Select(r => $"{node.Name}: {r.ToJsonString()}"));
            }
            await Task.Delay(50, ct);
        }
        return (sampled, valid);
    }

    // `stall` injects the fault and returns (on `clock`) when Redis answers again.
    private async Task RunAsync(Func<TestCluster, Stopwatch, Task<TimeSpan>> stall)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        var nodes = await cluster.StartAsync(3, ct);
        await FaultKit.WithLogsAsync(cluster, () => cluster.WaitForMembershipAsync(ct));
        // Two active rooms with different owners; one client per node in each.
        var rooms = new[]
        {
            await OwnedRoom.CreateAsync(cluster, nodes[0], nodes, perNode: 1, ct),
            await OwnedRoom.CreateAsync(cluster, nodes[1], nodes, perNode: 1, ct),
        };
        var clients = rooms.SelectMany(r => r.AllClients).ToList();
        var writers = new List<QueueWriter>();
        try
        {
            // A writer per room on a gateway of that room, adding every 200 ms through the stall.
            writers.AddRange(rooms.Select((r, i) => new QueueWriter(r.ClientsOf[nodes[2 - i]][0], $"w{i}", ct)));
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(
                () => Task.FromResult(writers.All(w => w.Sent.Count(FaultKit.AcknowledgedAdds(clients).Contains) >= 2)),
                TimeSpan.FromSeconds(10), "each writer has two acknowledged adds before the stall"));
            var clock = Stopwatch.StartNew();

            // Owners self-fence at their deadline (§7.3): every deadline counts from a renew sent before
            // the stall, so 2.5 s into it (deadline = sent + TTL - 10 %) none may still be valid.
            var fencing = FencedDuringStallAsync(nodes, clock, ct);
            var stallEnd = await stall(cluster, clock);
            output.Measured("stall", stallEnd);
            var (sampled, valid) = await fencing;
            output.WriteLine($"2.5 s into the stall: {sampled} owned rooms listed, {valid.Count} with a valid deadline");
            Assert.True(valid.Count == 0, $"owners still within their deadline 2.5 s into the stall: {string.Join("; ", valid)}");

            // Every client is in its room's user list again (I7), on every node.
            await FaultKit.WithLogsAsync(cluster, async () =>
            {
                foreach (var room in rooms)
                {
                    await FaultKit.WaitForUserListAsync(nodes, room.Room, room.AllClients, RejoinBound + Slack + TimeSpan.FromSeconds(5), ct);
                }
            });
            var rejoined = clock.Elapsed - stallEnd;
            output.Measured("stall end to every client in its room's user list on every node", rejoined);
            Assert.True(rejoined <= RejoinBound + Slack, $"user lists complete {rejoined.TotalMilliseconds:F0} ms after the stall (bound {RejoinBound.TotalMilliseconds:F0} ms + {Slack.TotalMilliseconds:F0} ms slack)");

            // Exactly one owner per active room (I1): the lease holder lists it with a valid deadline, nobody else lists it.
            foreach (var room in rooms)
            {
                await FaultKit.WithLogsAsync(cluster, () => FaultKit.WaitForSingleOwnerAsync(cluster, room.Room, TimeSpan.FromSeconds(10), ct));
                var lease = await cluster.LeaseOwnerAsync(room.Room);
                output.WriteLine($"{room.Room}: owner before {room.Owner.Name} epoch {room.Epoch}, after {cluster.NodeById(lease!.Value.NodeId).Name} epoch {lease.Value.Epoch}");
                Assert.True(lease.Value.Epoch >= room.Epoch);
            }
            output.Measured("stall end to one owner per room", clock.Elapsed - stallEnd);

            // Writable again: each writer gets two more adds acknowledged.
            var sentBefore = writers.ToDictionary(w => w, w => w.Sent.Count);
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(() =>
            {
                var acked = FaultKit.AcknowledgedAdds(clients);
                return Task.FromResult(writers.All(w => w.Sent.Skip(sentBefore[w]).Count(acked.Contains) >= 2));
            }, TimeSpan.FromSeconds(10), "each writer has two adds acknowledged after the stall"));
            foreach (var writer in writers)
            {
                await writer.StopAsync();
                Assert.Null(writer.Failure);
            }
            Assert.All(clients, c => Assert.False(c.Closed.IsCompleted, $"{c.ClientId} was closed: {(c.Closed.IsCompleted ? c.Closed.Result : null)} {c.CloseDescription}"));

            // No acknowledged change is lost (I3), none is applied twice, and the lists still hold.
            var acknowledged = FaultKit.AcknowledgedAdds(clients);
            foreach (var (room, writer) in rooms.Zip(writers))
            {
                var (stored, _) = await FaultKit.StoredMediaAsync(cluster, room.Room);
                var mine = writer.Sent.Where(acknowledged.Contains).ToList();
                output.WriteLine($"{room.Room}: sent {writer.Sent.Count}, acknowledged {mine.Count}, stored {stored.Count}");
                Assert.All(mine, url => Assert.Contains(url, stored));
                Assert.Equal(stored.Count, stored.Distinct().Count());
                await FaultKit.WithLogsAsync(cluster, () => FaultKit.WaitForUserListAsync(nodes, room.Room, room.AllClients, TimeSpan.FromSeconds(5), ct));
                Assert.Null(await FaultKit.SingleOwnerProblemAsync(cluster, room.Room, ct));
            }
        }
        finally
        {
            foreach (var writer in writers)
            {
                await writer.DisposeAsync();
            }
            foreach (var room in rooms)
            {
                await room.DisposeClientsAsync();
            }
        }
    }
}
