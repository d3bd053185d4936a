using System.Diagnostics;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using Ott.Tests.Infrastructure.Faults;
using Xunit.Abstractions;

namespace Ott.Tests.Faults;

// T9 (docs/architecture.md §15.3, §10.4): SIGTERM the owner of a room while clients on the other nodes add to
// its queue. The drain releases the lease rather than letting it expire.
[Collection(FaultCollection.Name)]
public sealed class GracefulShutdownTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SigtermOfTheOwnerReleasesTheLeaseAndClosesItsOwnSocketsWith1001()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        var setup = await OwnedRoom.StartAsync(cluster, perNode: 2, ct);
        var (room, owner) = (setup.Room, setup.Owner);
        var survivors = setup.Others;
        var clock = Stopwatch.StartNew();
        await using var sampler = new LeaseSampler(cluster, room, clock);
        try
        {
            var writers = survivors.Select(n => new QueueWriter(setup.ClientsOf[n][0], n.Name, ct)).ToList();
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(
                () => Task.FromResult(writers.All(w => w.Sent.Count(FaultKit.AcknowledgedAdds(setup.AllClients).Contains) >= 2)),
                TimeSpan.FromSeconds(10), "each writer has two acknowledged adds before the shutdown"));
            var marks = setup.AllClients.ToDictionary(c => c, c => c.Messages.Count);
            var oldToken = await cluster.LeaseTokenAsync(room);
            Assert.NotNull(oldToken);

            var signalledAt = clock.Elapsed;
            var terminated = owner.TerminateAsync(ct);

            (string NodeId, long Epoch)? lease = null;
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(async () =>
            {
                lease = await cluster.LeaseOwnerAsync(room);
                return lease is { } l && l.NodeId != owner.NodeId && l.Epoch > setup.Epoch;
            }, TimeSpan.FromSeconds(15), "a surviving node holds the lease"));
            var takeover = clock.Elapsed - signalledAt;
            output.Measured("SIGTERM to new lease", takeover);
            Assert.Contains(lease!.Value.NodeId, survivors.Select(n => n.NodeId));
            await terminated;
            output.Measured("SIGTERM to process exit", clock.Elapsed - signalledAt);
            Assert.Equal(0, owner.ExitCode);

            // Released, not expired: the old token left Redis while its TTL still had time to run.
            var samples = sampler.Samples;
            var lastOld = samples.Last(s => s.Token == oldToken);
            var firstAfter = samples.First(s => s.At > lastOld.At);
            output.WriteLine($"old lease last seen at {lastOld.At.TotalMilliseconds:F0} ms with {lastOld.Pttl?.TotalMilliseconds:F0} ms left; " +
                $"gone at {firstAfter.At.TotalMilliseconds:F0} ms (signal at {signalledAt.TotalMilliseconds:F0} ms)");
            Assert.True(lastOld.Pttl is { } left && firstAfter.At < lastOld.At + left - TimeSpan.FromMilliseconds(200),
                "the owner's lease expired instead of being released");
            // Re-owned well within the TTL (2 s) of the signal.
            Assert.True(takeover < TimeSpan.FromSeconds(2), $"re-owned {takeover.TotalMilliseconds:F0} ms after SIGTERM");

            // Direct clients of the drained node get 1001 (going away).
            foreach (var client in setup.ClientsOf[owner])
            {
                var code = await client.Closed.WaitAsync(TimeSpan.FromSeconds(10), ct);
                Assert.Equal(1001, (int?)code);
            }
            // ...and reconnect through another node with the same token.
            var reconnected = await survivors[0].JoinAsync(room, setup.ClientsOf[owner][0].Token, ct);
            setup.ClientsOf[survivors[0]].Add(reconnected);
            await FaultKit.WithLogsAsync(cluster, () => FaultKit.WaitForFullSyncAsync(reconnected, room));
            marks[reconnected] = 0;

            // Writers keep going through the new owner; other nodes' clients keep their sockets and get a full sync.
            var sentBefore = writers.ToDictionary(w => w, w => w.Sent.Count);
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(() =>
            {
                var acked = FaultKit.AcknowledgedAdds(setup.AllClients);
                return Task.FromResult(writers.All(w => w.Sent.Skip(sentBefore[w]).Count(acked.Contains) >= 2));
            }, TimeSpan.FromSeconds(10), "each writer has two adds acknowledged after the handoff"));
            var surviving = survivors.SelectMany(n => setup.ClientsOf[n]).ToList();
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(
                () => Task.FromResult(surviving.All(c => FaultKit.HasFullSyncSince(c, marks[c], room))),
                TimeSpan.FromSeconds(10), "every client of the other nodes gets a full sync after the handoff"));
            foreach (var writer in writers)
            {
                await writer.StopAsync();
                Assert.Null(writer.Failure);
            }
            Assert.All(surviving, FaultKit.AssertOpen);
            foreach (var client in setup.AllClients)
            {
                if (FaultKit.ClosedWith(client, out var code))
                {
                    Assert.True(code is null or < 4000, $"{client.ClientId} closed with {code}");
                }
            }

            var acknowledged = FaultKit.AcknowledgedAdds(setup.AllClients);
            var (stored, _) = await FaultKit.StoredMediaAsync(cluster, room);
            output.WriteLine($"acknowledged {acknowledged.Count} adds, stored {stored.Count} items, sent {writers.Sum(w => w.Sent.Count)}");
            Assert.Empty(acknowledged.Except(stored));
            Assert.Equal(stored.Count, stored.Distinct().Count());
        }
        finally
        {
            await setup.DisposeClientsAsync();
        }
    }
}
