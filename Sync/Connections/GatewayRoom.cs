using Ott.Sync.Rooms;

namespace Ott.Sync.Connections;

/// <summary>A local client as its gateway room sees it: who it is, and where its frames go.</summary>
internal interface IRoomClient
{
    string ClientId { get; }

    /// <summary>This client as its room knows it, once it has joined; what a rejoin sends (docs/architecture.md §9.6).</summary>
    RoomUser? User { get; }

    /// <summary>Closed or closing: it will not be re-joined to its room.</summary>
    bool IsClosing { get; }

    /// <summary>Queues a frame; never blocks (a full outbox closes the client instead).</summary>
    void Send(ReadOnlyMemory<byte> frame);

    void Close(int code, string reason);

    /// <summary>The client asked for clock sync (docs/protocol.md §10), so it gets playback anchors.</summary>
    bool WantsAnchors => false;

    /// <summary>Queues an anchor frame; the client may keep the anchor to check its drift reports against.</summary>
    void SendAnchor(ReadOnlyMemory<byte> frame, AnchorOutput anchor) => Send(frame);
}

/// <summary>
/// One room as seen by this node's clients (docs/architecture.md §4): the local clients, which of them receive
/// broadcasts, and the owner's (epoch, lastSeq). It applies the owner's released batches in seq order,
/// drops stale epochs (I5), and says when its clients must be re-joined (a gap or a new owner, §9.5).
/// </summary>
internal sealed class GatewayRoom(string key)
{
    private readonly Dictionary<string, IRoomClient> _clients = new(StringComparer.Ordinal);
    private readonly List<IRoomClient> _attached = [];
    private long _epoch;
    private long _lastSeq;

    public string Key => key;

    /// <summary>The node whose events this room last applied (its owner, as far as this node knows).</summary>
    public string? Owner { get; private set; }

    public bool Closed { get; private set; }

    /// <summary>1 while a rejoin runs; <see cref="RejoinAgain"/> asks it for one more round.</summary>
    public int Rejoining;
    public volatile bool RejoinAgain;

    public long Epoch
    {
        get
        {
            lock (_clients)
            {
                return _epoch;
            }
        }
    }

    /// <summary>How far this room has applied its owner's batches; a rejoin checks that its own batch got here.</summary>
    public (long Epoch, long Seq) Applied
    {
        get
        {
            lock (_clients)
            {
                return (_epoch, _lastSeq);
            }
        }
    }

    public bool TryAdd(IRoomClient connection)
    {
        lock (_clients)
        {
            if (Closed)
            {
                return false;
            }
            _clients[connection.ClientId] = connection;
            return true;
        }
    }

    /// <summary>Removes a client; true when it was the last one (the room is then closed for good).</summary>
    public bool Remove(IRoomClient connection)
    {
        lock (_clients)
        {
            if (_clients.TryGetValue(connection.ClientId, out var known) && ReferenceEquals(known, connection))
            {
                _clients.Remove(connection.ClientId);
                _attached.Remove(connection);
            }
            if (_clients.Count == 0 && !Closed)
            {
                Closed = true;
                return true;
            }
            return false;
        }
    }

    public List<IRoomClient> Clients()
    {
        lock (_clients)
        {
            return [.. _clients.Values];
        }
    }

    /// <summary>Applies one released batch; returns true when the clients must be re-joined and re-synced.</summary>
    public bool Apply(RoomDelivery delivery, string from)
    {
        lock (_clients)
        {
            var resync = false;
            if (delivery.Epoch < _epoch)
            {
                return false; // a stale owner (I5)
            }
            if (delivery.Epoch > _epoch)
            {
                resync = _epoch != 0 && _clients.Count > 0;
                _epoch = delivery.Epoch;
            }
            else if (_lastSeq != 0)
            {
                if (delivery.Seq <= _lastSeq)
                {
                    return false; // already applied
                }
                resync = delivery.Seq != _lastSeq + 1;
            }
            _lastSeq = delivery.Seq;
            Owner = from;
            foreach (var op in delivery.Ops)
            {
                switch (op)
                {
                    case Broadcast b:
                        var frame = RoomDelivery.Bytes(b.Frame);
                        foreach (var client in _attached)
                        {
                            client.Send(frame);
                        }
                        break;
                    case SendTo s when _clients.TryGetValue(s.ClientId, out var target):
                        target.Send(RoomDelivery.Bytes(s.Frame));
                        break;
                    case SendToMany m:
                        var shared = RoomDelivery.Bytes(m.Frame);
                        foreach (var id in m.ClientIds)
                        {
                            if (_clients.TryGetValue(id, out var each))
                            {
                                each.Send(shared);
                            }
                        }
                        break;
                    case Attach a when _clients.TryGetValue(a.ClientId, out var joined) && !_attached.Contains(joined):
                        _attached.Add(joined);
                        break;
                    case Detach d when _clients.TryGetValue(d.ClientId, out var left):
                        _attached.Remove(left);
                        // A client leaves by closing first, so the owner dropped one that is still here
                        // (it thought this node gone): re-join it (docs/architecture.md §9.6, I7).
                        resync |= !left.IsClosing;
                        break;
                    case AnchorOutput e:
                        byte[]? written = null;
                        foreach (var client in _attached)
                        {
                            if (client.WantsAnchors)
                            {
                                client.SendAnchor(written ??= e.Write(), e);
                            }
                        }
                        break;
                    case CloseClient c when _clients.TryGetValue(c.ClientId, out var closing):
                        closing.Close(c.Code, c.Reason);
                        break;
                }
            }
            return resync;
        }
    }

    /// <summary>A new owner announced itself; true when this room's clients must be re-joined to it.</summary>
    public bool OwnerChanged(long epoch, string owner)
    {
        lock (_clients)
        {
            if (epoch <= _epoch)
            {
                return false;
            }
            var rejoin = _epoch != 0 && _clients.Count > 0;
            _epoch = epoch;
            _lastSeq = 0;
            Owner = owner;
            return rejoin;
        }
    }

    /// <summary>The room was unloaded or deleted: forget the owner's epoch (a new room of that name starts again at 1).</summary>
    public void Reset()
    {
        lock (_clients)
        {
            _epoch = 0;
            _lastSeq = 0;
            Owner = null;
        }
    }

    /// <summary>The owner is gone: the next owner's events start a new sequence.</summary>
    public void ForgetOwner()
    {
        lock (_clients)
        {
            Owner = null;
        }
    }
}
