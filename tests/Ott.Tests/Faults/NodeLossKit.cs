using System.Diagnostics;
using System.Text.Json.Nodes;
using Ott.Tests.Cluster;
using Ott.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Ott.Tests.Faults;

// Shared pieces of the node-loss fault tests (design.md §15.3 T1, T3, T9, T12): frame predicates,
// unique queue adds whose acknowledgements are counted, and a lease sampler.
internal static class NodeLossKit
{
    // A full sync carries all 20 syncable keys (protocol.md §6.2); a delta or position sync does not.
    public static bool IsFullSync(JsonObject m) =>
        m.Action() == "sync" && m.ContainsKey("name") && m.ContainsKey("queue") && m.ContainsKey("grants")
        && m.ContainsKey("voteCounts") && m.ContainsKey("votesToSkip") && m.Count >= 21;

    public static bool IsFullSyncOf(JsonObject m, string room) =>
        IsFullSync(m) && string.Equals(m["name"]?.GetValue<string>(), room, StringComparison.OrdinalIgnoreCase);

    public static bool IsUserRemove(JsonObject m, out string clientId)
    {
        clientId = "";
        if (m.Action() != "user" || m["update"] is not JsonObject update || update["kind"]?.GetValue<string>() != "remove")
        {
            return false;
        }
        clientId = update["value"]?.GetValue<string>() ?? "";
        return true;
    }

    public static JsonObject DirectAdd(string url) =>
        new() { ["type"] = 5, ["video"] = new JsonObject { ["service"] = "direct", ["id"] = url } };

    // The URL of an `event` frame for a queue add (request type 5), released only after the owner
    // persisted the batch (design.md §7.5): seeing it is the acknowledgement.
    public static string? AddedUrl(JsonObject m) =>
        m.Action() == "event" && m["request"] is JsonObject request && request["type"]?.GetValue<int>() == 5
            ? request["video"]?["id"]?.GetValue<string>()
            : null;

    public static HashSet<string> AcknowledgedAdds(IEnumerable<OttTestClient> clients) =>
        [.. clients.SelectMany(c => c.Messages).Select(AddedUrl).OfType<string>()];

    // Whether a full sync of the room arrived at or after frame index `from`.
    public static bool HasFullSyncSince(OttTestClient client, int from, string room) =>
        client.Messages.Skip(from).Any(m => IsFullSyncOf(m, room));

    // The server sends the first full sync before `you` (which JoinAsync consumes), so this scans every frame.
    public static Task WaitForFullSyncAsync(OttTestClient client, string room, int from = 0) =>
        WaitUntil.WaitUntilAsync(() => Task.FromResult(HasFullSyncSince(client, from, room)), TimeSpan.FromSeconds(10),
            $"{client.ClientId} gets a full sync of {room}");

    public static void AssertOpen(OttTestClient client) =>
        Assert.False(client.Closed.IsCompleted, client.Closed.IsCompleted ? $"{client.ClientId} was closed: {client.Closed.Result} {client.CloseDescription}" : "");

    public static bool ClosedWith(OttTestClient client, out int? code)
    {
        code = null;
        if (!client.Closed.IsCompleted)
        {
            return false;
        }
        code = (int?)client.Closed.Result;
        return true;
    }

    // The queue items and the current source of the stored record, by id.
    public static async Task<(List<string> Ids, JsonObject State)> StoredMediaAsync(TestCluster cluster, string room)
    {
        var json = await cluster.Db.StringGetAsync(cluster.Keys.RoomState(room));
        Assert.False(json.IsNull, $"no stored state for {room}");
        var state = JsonNode.Parse(json.ToString())!.AsObject();
        var ids = state["queue"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList();
        if (state["currentSource"] is JsonObject current)
        {
            ids.Add(current["id"]!.GetValue<string>());
        }
        return (ids, state);
    }

    public static async Task<T> WithLogsAsync<T>(TestCluster cluster, Func<Task<T>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{e.Message}\n{cluster.Logs()}", e);
        }
    }

    public static Task WithLogsAsync(TestCluster cluster, Func<Task> body) =>
        WithLogsAsync(cluster, async () =>
        {
            await body();
            return true;
        });
}

// A client that adds a uniquely named direct URL to the queue every 200 ms, without waiting for
// each one: requests in flight while the owner dies are retried (or fail) on the server's side.
internal sealed class QueueWriter : IAsyncDisposable
{
    private readonly OttTestClient _client;
    private readonly string _prefix;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<string> _sent = [];

    public QueueWriter(OttTestClient client, string name, CancellationToken ct)
    {
        _client = client;
        _prefix = $"https://media.example.com/{name}-{Guid.NewGuid():N}"[..48];
        _loop = RunAsync(CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token).Token);
    }

    public IReadOnlyList<string> Sent
    {
        get
        {
            lock (_sent)
            {
                return [.. _sent];
            }
        }
    }

    public OttTestClient Client => _client;

    public Exception? Failure { get; private set; }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken ct)
    {
        for (var i = 0; !ct.IsCancellationRequested; i++)
        {
            var url = $"{_prefix}-{i}.mp4";
            try
            {
                lock (_sent)
                {
                    _sent.Add(url);
                }
                await _client.RequestAsync(NodeLossKit.DirectAdd(url), ct);
                await Task.Delay(200, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e)
            {
                // A surviving node's socket must stay open; the test asserts this is null.
                Failure = e;
                return;
            }
        }
    }
}

// Samples a room's lease token and PTTL every few milliseconds, so a test can tell a released
// lease (gone while it still had time to live) from an expired one.
internal sealed class LeaseSampler : IAsyncDisposable
{
    private readonly TestCluster _cluster;
    private readonly string _room;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<Sample> _samples = [];
    private readonly Stopwatch _clock;

    public LeaseSampler(TestCluster cluster, string room, Stopwatch clock)
    {
        _cluster = cluster;
        _room = room;
        _clock = clock;
        _loop = RunAsync();
    }

    public readonly record struct Sample(TimeSpan At, string? Token, TimeSpan? Pttl);

    public IReadOnlyList<Sample> Samples
    {
        get
        {
            lock (_samples)
            {
                return [.. _samples];
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var key = _cluster.Keys.RoomLease(_room);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var batch = _cluster.Db.CreateBatch();
                var value = batch.StringGetAsync(key);
                var ttl = batch.KeyTimeToLiveAsync(key);
                batch.Execute();
                var token = await value;
                var pttl = await ttl;
                lock (_samples)
                {
                    _samples.Add(new Sample(_clock.Elapsed, token.IsNull ? null : token.ToString(), pttl));
                }
                await Task.Delay(10, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

internal static class TestOutputExtensions
{
    public static void Measured(this ITestOutputHelper output, string what, TimeSpan value) =>
        output.WriteLine($"measured: {what} = {value.TotalMilliseconds:F0} ms");
}

// Three nodes and one room created on (so owned by) the first; `perNode` clients on every node,
// each of which has had its first full sync.
internal sealed class OwnedRoom
{
    private OwnedRoom(TestCluster cluster, string room, ClusterNode owner, long epoch, Dictionary<ClusterNode, List<OttTestClient>> clients)
    {
        Cluster = cluster;
        Room = room;
        Owner = owner;
        Epoch = epoch;
        ClientsOf = clients;
    }

    public TestCluster Cluster { get; }

    public string Room { get; }

    public ClusterNode Owner { get; }

    public long Epoch { get; }

    public Dictionary<ClusterNode, List<OttTestClient>> ClientsOf { get; }

    public IEnumerable<OttTestClient> AllClients => ClientsOf.Values.SelectMany(c => c);

    public IReadOnlyList<ClusterNode> Others => [.. ClientsOf.Keys.Where(n => n != Owner)];

    public static async Task<OwnedRoom> StartAsync(TestCluster cluster, int perNode, CancellationToken ct)
    {
        cluster.Environment["Media__Ffprobe__Path"] = "";
        var nodes = await cluster.StartAsync(3, ct);
        await NodeLossKit.WithLogsAsync(cluster, () => cluster.WaitForMembershipAsync(ct));
        var owner = nodes[0];
        var room = await cluster.CreateRoomAsync(owner, null, temporary: true, ct);
        var lease = await cluster.LeaseOwnerAsync(room);
        Assert.Equal(owner.NodeId, lease?.NodeId);
        var clients = nodes.ToDictionary(n => n, _ => new List<OttTestClient>());
        await NodeLossKit.WithLogsAsync(cluster, async () =>
        {
            foreach (var node in nodes)
            {
                for (var i = 0; i < perNode; i++)
                {
                    var client = await node.JoinAsync(room, token: null, ct);
                    clients[node].Add(client);
                    await NodeLossKit.WaitForFullSyncAsync(client, room);
                }
            }
            // Every node's joins reached the owner: each client is in the room's user list.
            var all = clients.Values.SelectMany(c => c).Select(c => c.ClientId).ToHashSet();
            await WaitUntil.WaitUntilAsync(async () =>
            {
                var rooms = (await owner.OwnershipAsync(ct))["rooms"]!.AsArray();
                return rooms.Any(r => r!["room"]!.GetValue<string>() == room && r["connections"]!.GetValue<int>() == all.Count);
            }, TimeSpan.FromSeconds(10), $"the owner counts {all.Count} users in {room}");
        });
        return new OwnedRoom(cluster, room, owner, lease!.Value.Epoch, clients);
    }

    public async Task DisposeClientsAsync()
    {
        foreach (var client in AllClients)
        {
            await client.DisposeAsync();
        }
    }
}
