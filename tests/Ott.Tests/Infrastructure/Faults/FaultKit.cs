using System.Diagnostics;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure.Cluster;
using StackExchange.Redis;
using Xunit.Abstractions;
using ClusterNode = Ott.Tests.Infrastructure.Cluster.ClusterNode;

namespace Ott.Tests.Infrastructure.Faults;

// Shared pieces of the fault tests (docs/architecture.md §15.3): frame predicates, unique queue adds whose
// acknowledgements are counted, the stored record, the user list as nodes report it, ownership checks
// over every node's /debug/ownership, a room owned by one node with clients on every node, a queue
// writer, lease samplers and a recorder of the room channel.
internal static class FaultKit
{
    // A full sync carries all 20 syncable keys (docs/protocol.md §6.2); a delta or position sync does not.
    public static bool IsFullSync(JsonObject m) =>
        m.Action() == "sync" && m.ContainsKey("name") && m.ContainsKey("queue") && m.ContainsKey("grants")
        && m.ContainsKey("voteCounts") && m.ContainsKey("votesToSkip") && m.Count >= 21;

    public static bool IsFullSyncOf(JsonObject m, string room) =>
        IsFullSync(m) && string.Equals(m["name"]?.GetValue<string>(), room, StringComparison.OrdinalIgnoreCase);

    // Whether a full sync of the room arrived at or after frame index `from`.
    public static bool HasFullSyncSince(OttTestClient client, int from, string room) =>
        client.Messages.Skip(from).Any(m => IsFullSyncOf(m, room));

    public static JsonObject? LastFullSync(OttTestClient client, string room) =>
        client.Messages.LastOrDefault(m => IsFullSyncOf(m, room));

    // The server sends the first full sync before `you` (which JoinAsync consumes), so this scans every frame.
    public static Task WaitForFullSyncAsync(OttTestClient client, string room, int from = 0) =>
        WaitUntil.WaitUntilAsync(() => Task.FromResult(HasFullSyncSince(client, from, room)), TimeSpan.FromSeconds(10),
            $"{client.ClientId} gets a full sync of {room}");

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


    public static JsonObject Chat(string text) => new() { ["type"] = 11, ["text"] = text };

    // The URL of an `event` frame for a queue add (request type 5), released only after the owner
    // persisted the batch (docs/architecture.md §7.5): seeing it is the acknowledgement.
    public static string? AddedUrl(JsonObject m) =>
        m.Action() == "event" && m["request"] is JsonObject request && request["type"]?.GetValue<int>() == 5
            ? request["video"]?["id"]?.GetValue<string>()
            : null;

    public static HashSet<string> AcknowledgedAdds(IEnumerable<OttTestClient> clients) =>
        [.. clients.SelectMany(c => c.Messages).Select(AddedUrl).OfType<string>()];

    public static bool GotAdd(OttTestClient client, string url) => client.Messages.Any(m => AddedUrl(m) == url);

    public static bool GotChat(OttTestClient client, string text) =>
        client.Messages.Any(m => m.Action() == "chat" && m["text"]?.GetValue<string>() == text);

    public static string NewUrl(string tag) => $"https://media.example.com/{tag}-{Guid.NewGuid():N}.mp4";

    // Adds a URL through the client and waits for its acknowledgement on that client. An error frame that arrives
    // instead fails at once, naming the error. With retryUnavailable, a RoomUnavailable answer (what a gateway says
    // when it cannot reach the room's owner within the lease TTL plus the request timeout, docs/architecture.md §9.3)
    // is retried with a new add, as a client told "try again" would; the refused add was never applied.
    public static async Task<string> AddAcknowledgedAsync(OttTestClient client, string tag, CancellationToken ct, bool retryUnavailable = false,
        TimeSpan? within = null)
    {
        while (true)
        {
            var url = NewUrl(tag);
            var mark = client.Messages.Count;
            await client.RequestAsync(DirectAdd(url), ct);
            JsonObject? error = null;
            var acked = false;
            await WaitUntil.WaitUntilAsync(() =>
            {
                var since = client.Messages.Skip(mark).ToList();
                acked = since.Any(m => AddedUrl(m) == url);
                error = since.FirstOrDefault(m => m.Action() == "error");
                return Task.FromResult(acked || error is not null);
            }, within ?? TimeSpan.FromSeconds(10), $"the add of {url} is acknowledged");
            if (acked)
            {
                return url;
            }
            if (retryUnavailable && error!["name"]?.GetValue<string>() == "RoomUnavailable")
            {
                retryUnavailable = false;
                continue;
            }
            throw new InvalidOperationException($"the add of {url} was refused: {error!.ToJsonString()}");
        }
    }

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

    // Queue ids of the stored record (plus the current source), straight from Redis.
    public static async Task<(List<string> Ids, JsonObject State)> StoredMediaAsync(TestCluster cluster, string room)
    {
        var json = await cluster.Db.StringGetAsync(cluster.Keys.RoomState(room));
        Assert.False(json.IsNull, $"no stored state for {room}");
        var state = JsonNode.Parse(json.ToString())!.AsObject();
        return (MediaIds(state), state);
    }

    // Queue item ids plus the current source's, of a full sync, stored record or GET /api/room body.
    public static List<string> MediaIds(JsonObject state)
    {
        var ids = state["queue"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList();
        if (state["currentSource"] is JsonObject current)
        {
            ids.Add(current["id"]!.GetValue<string>());
        }
        return ids;
    }

    public static List<string> QueueIds(JsonObject state) =>
        [.. state["queue"]!.AsArray().Select(i => i!["id"]!.GetValue<string>())];

    // GET /api/room/<name> through a node; null unless 200.
    public static async Task<JsonObject?> RoomAsync(ClusterNode node, string room, CancellationToken ct)
    {
        try
        {
            using var http = node.ApiClient(await node.GrantAsync(ct));
            using var response = await http.GetAsync($"/api/room/{room}", ct);
            return response.IsSuccessStatusCode ? JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!.AsObject() : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }

    public static async Task<HashSet<string>?> UsersAsync(ClusterNode node, string room, CancellationToken ct) =>
        await RoomAsync(node, room, ct) is { } body
            ? [.. body["users"]!.AsArray().Select(u => u!["id"]!.GetValue<string>())]
            : null;

    // Until GET /api/room/<name> on every given node lists exactly the given clients.
    public static async Task WaitForUserListAsync(IEnumerable<ClusterNode> nodes, string room, IEnumerable<OttTestClient> clients, TimeSpan timeout, CancellationToken ct)
    {
        var expected = clients.Select(c => c.ClientId).ToHashSet();
        var asked = nodes.ToList();
        var last = "";
        try
        {
            await WaitUntil.WaitUntilAsync(async () =>
            {
                foreach (var node in asked)
                {
                    var users = await UsersAsync(node, room, ct);
                    if (users is null || !users.SetEquals(expected))
                    {
                        last = $"{node.Name} lists {(users is null ? "nothing" : string.Join(", ", users))}";
                        return false;
                    }
                }
                return true;
            }, timeout, $"every node's GET /api/room/{room} lists exactly [{string.Join(", ", expected)}]");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} Last: {last}", e);
        }
    }

    // The rooms a node lists in /debug/ownership, by name; null when the node does not answer.
    public static async Task<Dictionary<string, JsonObject>?> OwnedAsync(ClusterNode node, CancellationToken ct)
    {
        try
        {
            var view = await node.OwnershipAsync(ct);
            return view["rooms"]!.AsArray().Select(r => r!.AsObject()).ToDictionary(r => r["room"]!.GetValue<string>(), StringComparer.Ordinal);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }

    // I1 for one room: the lease names a running node, that node lists the room with a valid
    // deadline under the lease's token, and no other node lists it at all.
    public static async Task<string?> SingleOwnerProblemAsync(TestCluster cluster, string room, CancellationToken ct)
    {
        var token = await cluster.LeaseTokenAsync(room);
        if (token is null)
        {
            return "no lease";
        }
        var holder = token.Split('|')[0];
        foreach (var node in cluster.Nodes.Where(n => !n.HasExited))
        {
            if (await OwnedAsync(node, ct) is not { } owned)
            {
                return $"{node.Name} does not answer";
            }
            var listed = owned.GetValueOrDefault(room);
            if (node.NodeId == holder)
            {
                if (listed is null || listed["token"]!.GetValue<string>() != token || !listed["deadlineValid"]!.GetValue<bool>())
                {
                    return $"lease holder {node.Name} lists {listed?.ToJsonString() ?? "nothing"} for lease {token}";
                }
            }
            else if (listed is not null)
            {
                return $"{node.Name} also lists {listed.ToJsonString()} (lease {token})";
            }
        }
        return null;
    }

    public static async Task WaitForSingleOwnerAsync(TestCluster cluster, string room, TimeSpan timeout, CancellationToken ct)
    {
        string? problem = null;
        try
        {
            await WaitUntil.WaitUntilAsync(async () =>
            {
                problem = await SingleOwnerProblemAsync(cluster, room, ct);
                return problem is null;
            }, timeout, $"exactly one node owns {room}");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} Last: {problem}", e);
        }
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

// One room created on (so owned by) `owner`, with `perNode` clients on each of `nodes`, each of which
// has had its first full sync, is counted by the owner and is in every node's user list.
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

    public Dictionary<OttTestClient, int> Marks() => AllClients.ToDictionary(c => c, c => c.Messages.Count);

    // Three fresh nodes (ffprobe off) and the room created on the first.
    public static async Task<OwnedRoom> StartAsync(TestCluster cluster, int perNode, CancellationToken ct)
    {
        var nodes = await cluster.StartAsync(3, ct);
        await FaultKit.WithLogsAsync(cluster, () => cluster.WaitForMembershipAsync(ct));
        return await CreateAsync(cluster, nodes[0], nodes, perNode, ct);
    }

    public static async Task<OwnedRoom> CreateAsync(TestCluster cluster, ClusterNode owner, IReadOnlyList<ClusterNode> nodes, int perNode, CancellationToken ct)
    {
        var room = await cluster.CreateRoomAsync(owner, null, temporary: true, ct);
        var lease = await cluster.LeaseOwnerAsync(room);
        Assert.Equal(owner.NodeId, lease?.NodeId);
        var clients = nodes.ToDictionary(n => n, _ => new List<OttTestClient>());
        await FaultKit.WithLogsAsync(cluster, async () =>
        {
            foreach (var node in nodes)
            {
                for (var i = 0; i < perNode; i++)
                {
                    var client = await node.JoinAsync(room, token: null, ct);
                    clients[node].Add(client);
                    await FaultKit.WaitForFullSyncAsync(client, room);
                }
            }
            // Every node's joins reached the owner: it counts each client, and every node lists exactly them.
            var all = clients.Values.SelectMany(c => c).ToList();
            await WaitUntil.WaitUntilAsync(async () =>
            {
                var rooms = (await owner.OwnershipAsync(ct))["rooms"]!.AsArray();
                return rooms.Any(r => r!["room"]!.GetValue<string>() == room && r["connections"]!.GetValue<int>() == all.Count);
            }, TimeSpan.FromSeconds(10), $"the owner counts {all.Count} users in {room}");
            await FaultKit.WaitForUserListAsync(nodes, room, all, TimeSpan.FromSeconds(10), ct);
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

// A client that adds a uniquely named direct URL to the queue every 200 ms, without waiting for
// each one: requests in flight during a fault are retried (or fail) on the server's side. Whatever
// is acknowledged must survive the fault (I3); what is not may be lost.
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
                await _client.RequestAsync(FaultKit.DirectAdd(url), ct);
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

// Polls a room's lease every 20 ms and keeps each distinct token with when it was first seen.
internal sealed class LeaseWatch : IAsyncDisposable
{
    private readonly TestCluster _cluster;
    private readonly string _room;
    private readonly Stopwatch _clock;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(TimeSpan At, string? Token)> _changes = [];
    private readonly Task _loop;

    public LeaseWatch(TestCluster cluster, string room, Stopwatch clock)
    {
        _cluster = cluster;
        _room = room;
        _clock = clock;
        _loop = RunAsync();
    }

    public IReadOnlyList<(TimeSpan At, string? Token)> Changes
    {
        get
        {
            lock (_changes)
            {
                return [.. _changes];
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
        string? last = "";
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var token = await _cluster.LeaseTokenAsync(_room);
                if (token != last)
                {
                    lock (_changes)
                    {
                        _changes.Add((_clock.Elapsed, token));
                    }
                    last = token;
                }
                await Task.Delay(20, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // A stalled Redis: try again.
            }
        }
    }
}

// Records every envelope on a room's channel (docs/architecture.md §9.2) through the admin connection.
internal sealed class ChannelRecorder : IAsyncDisposable
{
    private readonly ISubscriber _subscriber;
    private readonly RedisChannel _channel;
    private readonly List<Envelope> _seen = [];

    private ChannelRecorder(ISubscriber subscriber, RedisChannel channel)
    {
        _subscriber = subscriber;
        _channel = channel;
    }

    public readonly record struct Envelope(TimeSpan At, string Type, string From, long Epoch, long? Seq, string Raw);

    public IReadOnlyList<Envelope> Seen
    {
        get
        {
            lock (_seen)
            {
                return [.. _seen];
            }
        }
    }

    public static async Task<ChannelRecorder> StartAsync(TestCluster cluster, string room, Stopwatch clock)
    {
        var recorder = new ChannelRecorder(cluster.Redis.GetSubscriber(), cluster.Keys.RoomChannel(room));
        var queue = await recorder._subscriber.SubscribeAsync(recorder._channel);
        queue.OnMessage(m =>
        {
            var raw = m.Message.ToString();
            var json = JsonNode.Parse(raw)!.AsObject();
            var envelope = new Envelope(clock.Elapsed, json["type"]!.GetValue<string>(), json["from"]?.GetValue<string>() ?? "",
                json["epoch"]?.GetValue<long>() ?? 0, json["seq"]?.GetValue<long>(), raw);
            lock (recorder._seen)
            {
                recorder._seen.Add(envelope);
            }
        });
        return recorder;
    }

    public async ValueTask DisposeAsync() => await _subscriber.UnsubscribeAsync(_channel);
}

internal static class TestOutputExtensions
{
    public static void Measured(this ITestOutputHelper output, string what, TimeSpan value) =>
        output.WriteLine($"measured: {what} = {value.TotalMilliseconds:F0} ms");
}
