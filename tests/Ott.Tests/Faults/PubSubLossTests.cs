using System.Diagnostics;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;
using Ott.Tests.Infrastructure.Cluster;
using Ott.Tests.Infrastructure.Faults;
using Xunit.Abstractions;

namespace Ott.Tests.Faults;

// T7 (docs/architecture.md §15.3, §9.5): CLIENT KILL TYPE pubsub drops every node's subscriber connection.
// SE.Redis resubscribes, and ConnectionRestored makes each node re-join (and so re-sync) its clients.
[Collection(FaultCollection.Name)]
public sealed class PubSubLossTests(ITestOutputHelper output)
{
    [Fact]
    public async Task KilledSubscribersResyncToTheOwnersStateAndEventsFlowAgain()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var ct = timeout.Token;
        await using var cluster = await TestCluster.CreateAsync();
        var nodes = await cluster.StartAsync(3, ct);
        await FaultKit.WithLogsAsync(cluster, () => cluster.WaitForMembershipAsync(ct));
        var setup = await OwnedRoom.CreateAsync(cluster, nodes[0], nodes, perNode: 2, ct);
        var (room, owner) = (setup.Room, setup.Owner);
        var gatewayClients = setup.Others.SelectMany(n => setup.ClientsOf[n]).ToList();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                await FaultKit.AddAcknowledgedAsync(setup.ClientsOf[setup.Others[i % 2]][0], $"before{i}", ct);
            }
            // Every client has seen the adds, so the views agree before the fault.
            var before = FaultKit.AcknowledgedAdds([setup.ClientsOf[owner][0]]);
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(
                () => Task.FromResult(setup.AllClients.All(c => before.IsSubsetOf(FaultKit.AcknowledgedAdds([c])))),
                TimeSpan.FromSeconds(10), "every client saw the adds"));
            var marks = setup.Marks();
            var clock = Stopwatch.StartNew();

            var killed = await cluster.RedisAdmin.ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub");
            output.WriteLine($"CLIENT KILL TYPE pubsub killed {killed} connection(s)");
            // Each node's subscriber, plus the admin connection's own if it had one.
            Assert.True((long)killed >= nodes.Count, $"killed {killed}");

            // A change while the subscribers are gone: its event may be lost, the resync must carry it.
            var gap = FaultKit.NewUrl("gap");
            await setup.ClientsOf[owner][0].RequestAsync(FaultKit.DirectAdd(gap), ct);

            // Clients of the gateways get a full sync (ConnectionRestored → rejoin).
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(
                () => Task.FromResult(gatewayClients.All(c => FaultKit.HasFullSyncSince(c, marks[c], room))),
                TimeSpan.FromSeconds(10), "every gateway client gets a full sync after the subscribers were killed"));
            output.Measured("CLIENT KILL to every gateway client re-synced", clock.Elapsed);
            var ownerResynced = setup.ClientsOf[owner].Count(c => FaultKit.HasFullSyncSince(c, marks[c], room));
            output.WriteLine($"{ownerResynced} of the owner's {setup.ClientsOf[owner].Count} direct clients were re-synced too");

            // The add made during the gap is acknowledged and reaches every client, by event or resync.
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(
                () => Task.FromResult(FaultKit.GotAdd(setup.ClientsOf[owner][0], gap)), TimeSpan.FromSeconds(10), "the gap add is acknowledged"));
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(
                () => Task.FromResult(gatewayClients.All(c => ViewOf(c, room).Contains(gap))),
                TimeSpan.FromSeconds(10), "every gateway client's view has the add made during the gap"));

            // Each gateway client's last full sync equals the owner's snapshot: no change runs after it.
            var (stored, state) = await FaultKit.StoredMediaAsync(cluster, room);
            var api = await FaultKit.RoomAsync(owner, room, ct);
            Assert.NotNull(api);
            var apiQueue = FaultKit.QueueIds(api);
            Assert.Equal(FaultKit.QueueIds(state), apiQueue);
            foreach (var client in gatewayClients)
            {
                var sync = FaultKit.LastFullSync(client, room)!;
                var afterSync = client.Messages.SkipWhile(m => !ReferenceEquals(m, sync)).Skip(1).Select(FaultKit.AddedUrl).OfType<string>().ToList();
                var expected = afterSync.Count == 0 ? apiQueue : [.. apiQueue.Where(id => !afterSync.Contains(id))];
                Assert.Equal(expected, FaultKit.QueueIds(sync));
                Assert.Equal(state["isPlaying"]?.GetValue<bool>() ?? false, sync["isPlaying"]!.GetValue<bool>());
            }
            Assert.All(FaultKit.AcknowledgedAdds(setup.AllClients), url => Assert.Contains(url, stored));

            // Events flow again on every node: a chat after recovery reaches every client.
            var chat = "after-" + Guid.NewGuid().ToString("N");
            await setup.ClientsOf[setup.Others[0]][0].RequestAsync(FaultKit.Chat(chat), ct);
            await FaultKit.WithLogsAsync(cluster, () => WaitUntil.WaitUntilAsync(
                () => Task.FromResult(setup.AllClients.All(c => FaultKit.GotChat(c, chat))),
                TimeSpan.FromSeconds(10), "a chat after recovery reaches every client"));
            output.Measured("CLIENT KILL to chat everywhere", clock.Elapsed);
            await FaultKit.WithLogsAsync(cluster, () => FaultKit.WaitForUserListAsync(nodes, room, setup.AllClients, TimeSpan.FromSeconds(10), ct));
            Assert.All(setup.AllClients, c => Assert.False(c.Closed.IsCompleted, $"{c.ClientId} was closed"));
            Assert.Null(await FaultKit.SingleOwnerProblemAsync(cluster, room, ct));
            Assert.Equal(setup.Epoch, (await cluster.LeaseOwnerAsync(room))!.Value.Epoch);
        }
        finally
        {
            await setup.DisposeClientsAsync();
        }
    }

    // The queue ids a client would show: its last full sync's, plus adds acknowledged after it.
    private static HashSet<string> ViewOf(OttTestClient client, string room)
    {
        var messages = client.Messages;
        var at = -1;
        for (var i = messages.Count - 1; i >= 0; i--)
        {
            if (FaultKit.IsFullSyncOf(messages[i], room))
            {
                at = i;
                break;
            }
        }
        var view = at < 0 ? [] : FaultKit.MediaIds(messages[at]).ToHashSet();
        view.UnionWith(messages.Skip(at + 1).Select(FaultKit.AddedUrl).OfType<string>());
        return view;
    }
}
