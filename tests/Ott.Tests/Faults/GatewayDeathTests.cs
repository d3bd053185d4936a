using System.Diagnostics;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using Ott.Tests.Infrastructure.Faults;
using Xunit.Abstractions;

namespace Ott.Tests.Faults;

// T12 (docs/architecture.md §15.3, §9.6): kill -9 a gateway whose clients are in a room owned elsewhere.
[Collection(FaultCollection.Name)]
public sealed class GatewayDeathTests(ITestOutputHelper output)
{
    [Fact]
    public async Task OwnerRemovesTheUsersOfAKilledGatewayAndTellsTheRemainingClients()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        var setup = await OwnedRoom.StartAsync(cluster, perNode: 3, ct);
        var (room, owner) = (setup.Room, setup.Owner);
        var gateway = setup.Others[0];
        var third = setup.Others[1];
        try
        {
            var gone = setup.ClientsOf[gateway].Select(c => c.ClientId).ToHashSet();
            var remaining = setup.ClientsOf[owner].Concat(setup.ClientsOf[third]).ToList();
            var marks = remaining.ToDictionary(c => c, c => c.Messages.Count);
            var clock = Stopwatch.StartNew();

            await gateway.KillAsync();

            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(() => Task.FromResult(remaining.All(c =>
            {
                var removed = c.Messages.Skip(marks[c]).Select(m => FaultKit.IsUserRemove(m, out var id) ? id : null).OfType<string>().ToHashSet();
                return gone.IsSubsetOf(removed);
            })), TimeSpan.FromSeconds(15), "every remaining client gets a user remove for each client of the dead gateway"));
            var elapsed = clock.Elapsed;
            output.Measured("kill -9 of the gateway to user removes at every remaining client", elapsed);
            // Node timeout + 2 heartbeats + 1 s = 3.5 s is the design bound; 2.5 s more for a loaded 2-core CI box.
            Assert.True(elapsed <= TimeSpan.FromSeconds(6), $"removes took {elapsed.TotalMilliseconds:F0} ms");

            // The owner keeps the room at its epoch with only the remaining users; nobody else is removed.
            var view = (await owner.OwnershipAsync(ct))["rooms"]!.AsArray().Single(r => r!["room"]!.GetValue<string>() == room)!;
            Assert.Equal(remaining.Count, view["connections"]!.GetValue<int>());
            Assert.Equal(setup.Epoch, view["epoch"]!.GetValue<long>());
            var stayed = remaining.Select(c => c.ClientId).ToHashSet();
            Assert.All(remaining, c => Assert.DoesNotContain(c.Messages.Skip(marks[c]),
                m => FaultKit.IsUserRemove(m, out var id) && stayed.Contains(id)));
            Assert.All(remaining, FaultKit.AssertOpen);
            Assert.Equal(owner.NodeId, (await cluster.LeaseOwnerAsync(room))?.NodeId);
        }
        finally
        {
            await setup.DisposeClientsAsync();
        }
    }
}
