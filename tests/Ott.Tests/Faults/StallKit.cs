using System.Diagnostics;
using System.Text.Json.Nodes;
using Ott.Tests.Cluster;
using Ott.Tests.Infrastructure;
using StackExchange.Redis;
using ClusterNode = Ott.Tests.Cluster.ClusterNode;

namespace Ott.Tests.Faults;

// Shared pieces of the stall and partition fault tests (design.md §15.3 T4–T7): rooms with clients
// on every node, acknowledged queue adds, the user list as the owner reports it, ownership checks
// over every node's /debug/ownership, and a recorder of the room channel.
internal static class StallKit
{
    // A full sync carries every syncable key (protocol.md §6.2); deltas and position syncs do not.
    public static bool IsFullSync(JsonObject m, string room) =>
        m.Action() == "sync" && m.ContainsKey("name") && m.ContainsKey("queue") && m.ContainsKey("grants")
        && m.ContainsKey("voteCounts") && string.Equals(m["name"]?.GetValue<string>(), room, StringComparison.OrdinalIgnoreCase);

    public static bool HasFullSyncSince(OttTestClient client, int from, string room) =>
        client.Messages.Skip(from).Any(m => IsFullSync(m, room));

    public static JsonObject? LastFullSync(OttTestClient client, string room) =>
        client.Messages.LastOrDefault(m => IsFullSync(m, room));

    public static JsonObject Add(string url) =>
        new() { ["type"] = 5, ["video"] = new JsonObject { ["service"] = "direct", ["id"] = url } };

    public static JsonObject Chat(string text) => new() { ["type"] = 11, ["text"] = text };

    // An `event` frame for an add is released only after the owner persisted its batch (§7.5):
    // seeing it anywhere is the acknowledgement.
    public static string? AddedUrl(JsonObject m) =>
        m.Action() == "event" && m["request"] is JsonObject request && request["type"]?.GetValue<int>() == 5
            ? request["video"]?["id"]?.GetValue<string>()
            : null;

    public static HashSet<string> Acknowledged(IEnumerable<OttTestClient> clients) =>
        [.. clients.SelectMany(c => c.Messages).Select(AddedUrl).OfType<string>()];

    public static bool GotAdd(OttTestClient client, string url) => client.Messages.Any(m => AddedUrl(m) == url);

    public static bool GotChat(OttTestClient client, string text) =>
        client.Messages.Any(m => m.Action() == "chat" && m["text"]?.GetValue<string>() == text);

    public static string NewUrl(string tag) => $"https://media.example.com/{tag}-{Guid.NewGuid():N}.mp4";

    // Adds a URL through the client and waits for its acknowledgement on that client.
    public static async Task<string> AddAcknowledgedAsync(OttTestClient client, string tag, CancellationToken ct)
    {
        var url = NewUrl(tag);
        await client.RequestAsync(Add(url), ct);
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(client.Messages.Any(m => AddedUrl(m) == url)),
            TimeSpan.FromSeconds(10), $"the add of {url} is acknowledged");
        return url;
    }

    // Queue ids of the stored record (plus the current source), straight from Redis.
    public static async Task<(List<string> Ids, JsonObject State)> StoredAsync(TestCluster cluster, string room)
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

    public static async Task WithLogsAsync(TestCluster cluster, Func<Task> body)
    {
        try
        {
            await body();
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{e.Message}\n{cluster.Logs()}", e);
        }
    }
}

// One room created on (so owned by) `owner`, with `perNode` clients on each of `nodes`, each of which
// has had its first full sync and is in the room's user list.
internal sealed class StallRoom
{
    private StallRoom(string room, ClusterNode owner, long epoch, Dictionary<ClusterNode, List<OttTestClient>> clients)
    {
        Room = room;
        Owner = owner;
        Epoch = epoch;
        ClientsOf = clients;
    }

    public string Room { get; }

    public ClusterNode Owner { get; }

    public long Epoch { get; }

    public Dictionary<ClusterNode, List<OttTestClient>> ClientsOf { get; }

    public IEnumerable<OttTestClient> AllClients => ClientsOf.Values.SelectMany(c => c);

    public IReadOnlyList<ClusterNode> Others => [.. ClientsOf.Keys.Where(n => n != Owner)];

    public Dictionary<OttTestClient, int> Marks() => AllClients.ToDictionary(c => c, c => c.Messages.Count);

    public static async Task<StallRoom> CreateAsync(TestCluster cluster, ClusterNode owner, IReadOnlyList<ClusterNode> nodes, int perNode, CancellationToken ct)
    {
        var room = await cluster.CreateRoomAsync(owner, null, temporary: true, ct);
        var lease = await cluster.LeaseOwnerAsync(room);
        Assert.Equal(owner.NodeId, lease?.NodeId);
        var clients = nodes.ToDictionary(n => n, _ => new List<OttTestClient>());
        await StallKit.WithLogsAsync(cluster, async () =>
        {
            foreach (var node in nodes)
            {
                for (var i = 0; i < perNode; i++)
                {
                    var client = await node.JoinAsync(room, token: null, ct);
                    clients[node].Add(client);
                    await WaitUntil.WaitUntilAsync(() => Task.FromResult(StallKit.HasFullSyncSince(client, 0, room)),
                        TimeSpan.FromSeconds(10), $"{client.ClientId} gets its first full sync");
                }
            }
            await StallKit.WaitForUserListAsync(nodes, room, clients.Values.SelectMany(c => c), TimeSpan.FromSeconds(10), ct);
        });
        return new StallRoom(room, owner, lease!.Value.Epoch, clients);
    }

    public async Task DisposeClientsAsync()
    {
        foreach (var client in AllClients)
        {
            await client.DisposeAsync();
        }
    }
}

// A client that adds a uniquely named direct URL every 200 ms without waiting for each: whatever
// is acknowledged must survive the fault (I3); what is not may be lost.
internal sealed class AddWriter : IAsyncDisposable
{
    private readonly OttTestClient _client;
    private readonly string _prefix;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<string> _sent = [];

    public AddWriter(OttTestClient client, string tag, CancellationToken ct)
    {
        _client = client;
        _prefix = $"https://media.example.com/{tag}-{Guid.NewGuid():N}"[..48];
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
                await _client.RequestAsync(StallKit.Add(url), ct);
                await Task.Delay(200, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e)
            {
                Failure = e;
                return;
            }
        }
    }
}

// Records every envelope on a room's channel (design.md §9.2) through the admin connection.
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
