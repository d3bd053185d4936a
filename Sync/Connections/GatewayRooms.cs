using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Ott.Sync.Cluster;
using Ott.Sync.Rooms;

namespace Ott.Sync.Connections;

/// <summary>
/// One <see cref="GatewayRoom"/> per room with local clients (docs/architecture.md §4), and this node's subscription to
/// each such room's channel. It applies the owners' released batches to local clients (in-process from a
/// local owner, from the room channel otherwise) and says which rooms must be re-joined; the
/// <see cref="Rejoiner"/> does the re-joining.
/// </summary>
internal sealed class GatewayRooms(NodeBus bus, NodeIdentity node, OwnerCache owners) : IDisposable
{
    private readonly ConcurrentDictionary<string, GatewayRoom> _rooms = new(StringComparer.Ordinal);
    private readonly Channel<GatewayRoom> _rejoins = Channel.CreateUnbounded<GatewayRoom>(new UnboundedChannelOptions { SingleReader = true });
    // Joining and leaving decide about the room's subscription under one gate: a join that races the
    // last leave must never find itself unsubscribed while its join batch is in flight.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile bool _stopped;

    /// <summary>Rooms with local clients (debug view).</summary>
    public IEnumerable<GatewayRoom> Rooms => _rooms.Values;

    /// <summary>Rooms whose clients must be re-joined to their owner, in the order asked.</summary>
    public ChannelReader<GatewayRoom> RejoinRequests => _rejoins.Reader;

    public bool TryGet(string key, out GatewayRoom room) => _rooms.TryGetValue(key, out room!);

    /// <summary>Adds a joining client to its room here, subscribed to the room channel before the join goes to the owner (docs/architecture.md §5.3 step 2).</summary>
    public async Task AddAsync(string key, IRoomClient client, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var gateway = _rooms.GetOrAdd(key, k => new GatewayRoom(k));
            if (!gateway.TryAdd(client))
            {
                gateway = new GatewayRoom(key);
                gateway.TryAdd(client);
                _rooms[key] = gateway;
            }
            await bus.SubscribeRoomAsync(key, OnRoomMessage, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task RemoveAsync(string key, IRoomClient client)
    {
        await _gate.WaitAsync();
        try
        {
            if (_rooms.TryGetValue(key, out var gateway) && gateway.Remove(client))
            {
                _rooms.TryRemove(new KeyValuePair<string, GatewayRoom>(key, gateway));
                await bus.UnsubscribeRoomAsync(key);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A batch released by an owner on this node.</summary>
    public void Deliver(RoomDelivery delivery)
    {
        if (_rooms.TryGetValue(delivery.Room, out var gateway) && gateway.Apply(delivery, node.Id))
        {
            RequestRejoin(gateway);
        }
    }

    /// <summary>The room's owner released or lost it: re-join its clients wherever it goes next.</summary>
    public void OwnerLost(string key)
    {
        owners.Forget(key);
        if (_rooms.TryGetValue(key, out var gateway))
        {
            gateway.ForgetOwner();
            RequestRejoin(gateway);
        }
    }

    /// <summary>The room is gone: its local clients are closed with <paramref name="code"/> (docs/protocol.md §8.3).</summary>
    public void CloseRoom(string key, int code, string reason)
    {
        owners.Forget(key);
        if (_rooms.TryGetValue(key, out var gateway))
        {
            gateway.Reset();
            foreach (var client in gateway.Clients())
            {
                client.Close(code, reason);
            }
        }
    }

    /// <summary>Every room whose last known owner is <paramref name="nodeId"/> re-joins (it went down or left).</summary>
    public void OwnerGone(string nodeId)
    {
        foreach (var gateway in _rooms.Values)
        {
            if (gateway.Owner == nodeId)
            {
                RequestRejoin(gateway);
            }
        }
    }

    public void RejoinAll()
    {
        foreach (var gateway in _rooms.Values)
        {
            RequestRejoin(gateway);
        }
    }

    public void RequestRejoin(GatewayRoom gateway)
    {
        if (!_stopped)
        {
            _rejoins.Writer.TryWrite(gateway);
        }
    }

    /// <summary>From the first moment of a drain, no room is re-joined from here.</summary>
    public void StopRejoining() => _stopped = true;

    public bool IsStopped => _stopped;

    // ----- the room channel -----

    private void OnRoomMessage(BusMessage message)
    {
        if (message.Room is not { } key || !_rooms.TryGetValue(key, out var gateway))
        {
            return;
        }
        switch (message.Type)
        {
            case BusType.Event when message.Seq is { } seq:
                var delivery = new RoomDelivery(key, message.Epoch, seq, RoomDelivery.ReadOps(message.Payload));
                if (gateway.Apply(delivery, message.From))
                {
                    RequestRejoin(gateway);
                }
                break;
            case BusType.OwnerChanged:
                owners.Forget(key);
                if (gateway.OwnerChanged(message.Epoch, message.From))
                {
                    RequestRejoin(gateway);
                }
                break;
            case BusType.OwnerLost when message.Epoch >= gateway.Epoch:
                OwnerLost(key); // an older owner's goodbye says nothing about the current one
                break;
            case BusType.RoomUnloaded when message.Epoch >= gateway.Epoch:
                // An older owner's unload says nothing about the room as it is now (re-created or moved on).
                var (code, reason) = ReadUnloaded(message.Payload);
                CloseRoom(key, code, reason);
                break;
        }
    }

    public static void WriteUnloaded(Utf8JsonWriter w, int code, string reason)
    {
        w.WriteStartObject();
        w.WriteNumber("code", code);
        w.WriteString("reason", reason);
        w.WriteEndObject();
    }

    private static (int Code, string Reason) ReadUnloaded(JsonElement payload) =>
        payload.ValueKind != JsonValueKind.Object ? (4003, "")
        : (payload.TryGetProperty("code", out var c) ? c.GetInt32() : 4003,
           payload.TryGetProperty("reason", out var r) ? r.GetString() ?? "" : "");

    public void Dispose() => _gate.Dispose();
}
