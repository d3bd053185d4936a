using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Ott.Sync.Cluster;
using Ott.Sync.Rooms;
using Ott.Sync.Storage;
using StackExchange.Redis;

namespace Ott.Tests.Infrastructure.Cluster;

// A stand-in node on the bus (docs/architecture.md §9.1, §9.3): it heartbeats into the live set and listens on
// its node channel like a real node, so routers treat it as usable, but it owns nothing. It answers every
// request `not_owner` at once, except requests of the kinds it was told to hold: those wait until the test
// answers them. A test uses it as the node a router forwards to (a stale cached owner) to hold one request
// on its way while others pass it.
internal sealed class ScriptedNode : IAsyncDisposable
{
    private readonly RedisConnection _connection;
    private readonly RoomStore _store;
    private readonly TimeSpan _nodeTimeout;
    private readonly RedisKeys _keys;
    private readonly HashSet<string> _held;
    private readonly ConcurrentQueue<Request> _received = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _heartbeats = Task.CompletedTask;

    private ScriptedNode(RedisConnection connection, RedisKeys keys, TimeSpan nodeTimeout, IEnumerable<string> held)
    {
        _connection = connection;
        _store = new RoomStore(connection, keys);
        _keys = keys;
        _nodeTimeout = nodeTimeout;
        _held = new HashSet<string>(held, StringComparer.Ordinal);
        Id = $"scripted-{Guid.NewGuid():N}"[..24];
    }

    // A request as received: its type (cmd, activate), room, the cmd's kind (payload "k") and payload.
    public sealed record Request(string Type, string? Room, string? Kind, string Id, string? ReplyTo, JsonElement Payload);

    public string Id { get; }

    public IReadOnlyList<Request> Received => [.. _received];

    /// <summary>Starts heartbeating (every 100 ms) on <paramref name="redis"/> under <paramref name="keyPrefix"/> and listening; <paramref name="holdKinds"/> are cmd kinds (rejoin, leave, …) left unanswered.</summary>
    public static async Task<ScriptedNode> StartAsync(RedisServer redis, string keyPrefix, TimeSpan nodeTimeout, params string[] holdKinds)
    {
        var keys = new RedisKeys(keyPrefix);
        var connection = new RedisConnection(redis.ConnectionString, new StorageOptions(), Path.GetTempPath(), keys, NullLoggerFactory.Instance);
        await connection.ConnectAsync(CancellationToken.None);
        var node = new ScriptedNode(connection, keys, nodeTimeout, holdKinds);
        var queue = await connection.Multiplexer.GetSubscriber().SubscribeAsync(keys.NodeChannel(node.Id));
        queue.OnMessage(node.OnMessage);
        await node._store.HeartbeatAsync(node.Id, nodeTimeout, CancellationToken.None);
        node._heartbeats = node.HeartbeatAsync();
        return node;
    }

    /// <summary>The first request of <paramref name="kind"/> (a cmd kind, or "activate") for <paramref name="room"/>.</summary>
    public async Task<Request> WaitForAsync(string kind, string room, TimeSpan timeout)
    {
        Request? found = null;
        await WaitUntil.WaitUntilAsync(() =>
        {
            found = _received.FirstOrDefault(r => (r.Kind ?? r.Type) == kind && r.Room == room);
            return Task.FromResult(found is not null);
        }, timeout, $"{Id} receives a {kind} for {room}");
        return found!;
    }

    /// <summary>Answers a held request <c>not_owner</c>: its sender routes it again.</summary>
    public void AnswerNotOwner(Request request) => Reply(request, w => CommandCodec.NotOwner(w, null));

    private void OnMessage(ChannelMessage raw)
    {
        using var doc = JsonDocument.Parse((byte[])raw.Message!);
        var root = doc.RootElement;
        var payload = root.TryGetProperty("payload", out var p) ? p.Clone() : default;
        var request = new Request(
            root.GetProperty("type").GetString()!,
            root.TryGetProperty("room", out var room) ? room.GetString() : null,
            payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty("k", out var k) ? k.GetString() : null,
            root.GetProperty("id").GetString()!,
            root.TryGetProperty("replyTo", out var replyTo) ? replyTo.GetString() : null,
            payload);
        if (request.Type == BusType.Reply)
        {
            return;
        }
        _received.Enqueue(request);
        if (!_held.Contains(request.Kind ?? request.Type))
        {
            AnswerNotOwner(request);
        }
    }

    private void Reply(Request request, Action<Utf8JsonWriter> payload)
    {
        if (request.ReplyTo is null)
        {
            return;
        }
        var header = new BusHeader(BusType.Reply) { Corr = request.Id, From = Id, Room = request.Room };
        _connection.Multiplexer.GetSubscriber().Publish(_keys.Channel(request.ReplyTo), BusWriter.Write(header, payload));
    }

    private async Task HeartbeatAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), _stop.Token);
                try
                {
                    await _store.HeartbeatAsync(Id, _nodeTimeout, _stop.Token);
                }
                catch (RedisException)
                {
                    // A missed beat: the next one counts.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _heartbeats;
        try
        {
            await _store.RemoveNodeAsync(Id, CancellationToken.None);
        }
        catch (RedisException)
        {
        }
        await _connection.DisposeAsync();
        _stop.Dispose();
    }
}
