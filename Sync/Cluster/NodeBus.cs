using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Ott.Sync.Storage;
using Ott.Sync.Telemetry;
using StackExchange.Redis;

namespace Ott.Sync.Cluster;

internal enum BusOutcome
{
    Replied,
    NoListener,
    TimedOut,
}

/// <summary>A request's outcome; the caller disposes the reply.</summary>
internal readonly record struct BusReply(BusOutcome Outcome, BusMessage? Message) : IDisposable
{
    public void Dispose() => Message?.Dispose();
}

/// <summary>
/// Pub/sub (docs/architecture.md §9): the node channel and the cluster channel, one channel per room with local
/// clients, and request/reply with correlation ids and timeouts. Every subscription is consumed in order
/// through its <see cref="ChannelMessageQueue"/>. The bus knows no handler: requests addressed to this
/// node and cluster-channel messages are queued for the component that reads them (the room router, the
/// gateway side), and a room subscription names its own handler, so nothing here looks a service up.
/// </summary>
internal sealed partial class NodeBus(
    RedisConnection connection,
    RedisKeys keys,
    NodeIdentity node,
    ClusterClock clock,
    OttMetrics metrics,
    ILogger<NodeBus> logger) : IHostedService, IDisposable
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<BusMessage>> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ChannelMessageQueue> _rooms = new(StringComparer.Ordinal);
    private readonly Channel<BusMessage> _requests = Channel.CreateUnbounded<BusMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<BusMessage> _cluster = Channel.CreateUnbounded<BusMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _roomGate = new(1, 1);
    private static readonly TimeSpan GiveUpPoll = TimeSpan.FromMilliseconds(100);
    private ChannelMessageQueue? _nodeQueue;
    private ChannelMessageQueue? _clusterQueue;

    public RedisChannel OwnChannel => keys.NodeChannel(node.Id);

    public string NodeId => node.Id;

    /// <summary>Completes once the node and cluster channels are subscribed (before the first heartbeat, §9.1).</summary>
    public Task Ready => _ready.Task;

    /// <summary>
    /// Requests addressed to this node (<c>cmd</c>, <c>activate</c>), in arrival order, unexpired. The reader
    /// owns each message and disposes it.
    /// </summary>
    public ChannelReader<BusMessage> Requests => _requests.Reader;

    /// <summary>Cluster-channel messages from other nodes, in order; the reader disposes each.</summary>
    public ChannelReader<BusMessage> ClusterMessages => _cluster.Reader;

    /// <summary>The subscriber connection came back: pub/sub lost whatever was published meanwhile (docs/architecture.md §9.5).</summary>
    public event Action? SubscriptionRestored;

    private ISubscriber Subscriber => connection.Multiplexer.GetSubscriber();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await connection.ConnectAsync(cancellationToken);
        _nodeQueue = await Subscriber.SubscribeAsync(OwnChannel);
        _nodeQueue.OnMessage(OnNodeMessage);
        _clusterQueue = await Subscriber.SubscribeAsync(keys.ClusterChannel);
        _clusterQueue.OnMessage(OnClusterMessage);
        connection.Multiplexer.ConnectionRestored += OnConnectionRestored;
        _ready.TrySetResult();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_nodeQueue is null)
        {
            return;
        }
        connection.Multiplexer.ConnectionRestored -= OnConnectionRestored;
        try
        {
            await Subscriber.UnsubscribeAllAsync();
        }
        catch (Exception e) when (e is RedisException or ObjectDisposedException or InvalidOperationException)
        {
        }
        foreach (var pending in _pending.Values)
        {
            pending.TrySetCanceled(CancellationToken.None);
        }
        _requests.Writer.TryComplete();
        _cluster.Writer.TryComplete();
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType == ConnectionType.Subscription)
        {
            Log.Restored(logger, node.Id);
            SubscriptionRestored?.Invoke();
        }
    }

    // ----- node channel -----

    private void OnNodeMessage(ChannelMessage raw)
    {
        if (BusMessage.TryParse((byte[])raw.Message!) is not { } message)
        {
            Log.Dropped(logger, raw.Channel.ToString());
            return;
        }
        if (message.Type == BusType.Reply)
        {
            if (message.Corr is { } corr && _pending.TryRemove(corr, out var waiter) && waiter.TrySetResult(message))
            {
                return;
            }
            message.Dispose(); // a late reply: its requester gave up
            return;
        }
        if (message.Deadline != 0 && message.Deadline < clock.Now.ToUnixTimeMilliseconds())
        {
            metrics.BusExpired();
            message.Dispose();
            return;
        }
        // The loop only queues (docs/architecture.md §9.1); the reader dispatches, so one slow room never blocks another.
        if (!_requests.Writer.TryWrite(message))
        {
            message.Dispose();
        }
    }

    /// <summary>
    /// Publishes a request to a node and waits for its reply, at most <paramref name="timeout"/>. While it
    /// waits, <paramref name="giveUp"/> is asked every 100 ms: true ends the wait at once as a timeout (the
    /// target is no longer usable, so waiting out the timeout would only delay a failover).
    /// <paramref name="published"/> runs once the request is queued for publishing.
    /// </summary>
    public async Task<BusReply> RequestAsync(string target, BusHeader header, Action<Utf8JsonWriter>? payload, TimeSpan timeout,
        CancellationToken ct, Func<bool>? giveUp = null, Action? published = null)
    {
        var now = clock.Now.ToUnixTimeMilliseconds();
        header = header with
        {
            ReplyTo = OwnChannel.ToString(),
            From = node.Id,
            Deadline = now + (long)timeout.TotalMilliseconds,
            SentAt = now,
        };
        var waiter = new TaskCompletionSource<BusMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[header.Id] = waiter;
        try
        {
            var publishing = Subscriber.PublishAsync(keys.NodeChannel(target), BusWriter.Write(header, payload));
            // Queued on the one connection: whatever is published after this reaches the target after it.
            published?.Invoke();
            var receivers = await publishing.WaitAsync(ct);
            // On a Redis Cluster a zero count proves nothing (RedisConnection.IsCluster): the reply, the timeout or
            // giveUp (the target's heartbeats lapsed) ends the wait instead.
            if (receivers == 0 && !connection.IsCluster)
            {
                return new BusReply(BusOutcome.NoListener, null);
            }
            var remaining = timeout;
            while (true)
            {
                var slice = giveUp is null || remaining < GiveUpPoll ? remaining : GiveUpPoll;
                try
                {
                    var reply = await waiter.Task.WaitAsync(slice, ct);
                    return new BusReply(BusOutcome.Replied, reply);
                }
                catch (TimeoutException) when (slice < remaining)
                {
                    remaining -= slice;
                    if (giveUp!())
                    {
                        return new BusReply(BusOutcome.TimedOut, null);
                    }
                }
            }
        }
        catch (TimeoutException)
        {
            metrics.BusTimeout();
            return new BusReply(BusOutcome.TimedOut, null);
        }
        catch (RedisException)
        {
            return new BusReply(BusOutcome.TimedOut, null);
        }
        finally
        {
            _pending.TryRemove(header.Id, out _);
        }
    }

    /// <summary>Answers a request on its sender's channel (fire and forget, after the events it caused).</summary>
    public void Reply(BusMessage request, Action<Utf8JsonWriter> payload)
    {
        if (request.ReplyTo is not { } replyTo)
        {
            return;
        }
        var header = new BusHeader(BusType.Reply) { Corr = request.Id, From = node.Id, Room = request.Room };
        Publish(keys.Channel(replyTo), BusWriter.Write(header, payload));
    }

    // ----- room channels -----

    /// <summary>Publishes on a room channel (events, owner changes, unloads), in call order.</summary>
    public void PublishRoom(string room, BusHeader header, Action<Utf8JsonWriter>? payload) =>
        Publish(keys.RoomChannel(room), BusWriter.Write(header with { From = node.Id, Room = room }, payload));

    public void PublishCluster(BusHeader header, Action<Utf8JsonWriter>? payload) =>
        Publish(keys.ClusterChannel, BusWriter.Write(header with { From = node.Id }, payload));

    private void Publish(RedisChannel channel, byte[] bytes)
    {
        try
        {
            // Fire and forget keeps the order of calls on the one connection (docs/architecture.md §5.2).
            Subscriber.Publish(channel, bytes, CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or InvalidOperationException or ObjectDisposedException)
        {
            Log.PublishFailed(logger, e, channel.ToString());
        }
    }

    /// <summary>
    /// Subscribes to a room's channel (first local client); idempotent. Messages from other nodes reach
    /// <paramref name="handler"/> in publish order; the message is disposed when it returns.
    /// </summary>
    public async Task SubscribeRoomAsync(string room, Action<BusMessage> handler, CancellationToken ct)
    {
        await _roomGate.WaitAsync(ct);
        try
        {
            if (_rooms.ContainsKey(room))
            {
                return;
            }
            var queue = await Subscriber.SubscribeAsync(keys.RoomChannel(room)).WaitAsync(ct);
            queue.OnMessage(raw => OnRoomMessage(raw, handler));
            _rooms[room] = queue;
        }
        finally
        {
            _roomGate.Release();
        }
    }

    /// <summary>Unsubscribes from a room's channel (last local client gone).</summary>
    public async Task UnsubscribeRoomAsync(string room)
    {
        await _roomGate.WaitAsync();
        try
        {
            if (_rooms.TryRemove(room, out var queue))
            {
                await queue.UnsubscribeAsync();
            }
        }
        catch (Exception e) when (e is RedisException or ObjectDisposedException or InvalidOperationException)
        {
        }
        finally
        {
            _roomGate.Release();
        }
    }

    private void OnRoomMessage(ChannelMessage raw, Action<BusMessage> handler)
    {
        if (BusMessage.TryParse((byte[])raw.Message!) is not { } message)
        {
            Log.Dropped(logger, raw.Channel.ToString());
            return;
        }
        using (message)
        {
            if (message.From == node.Id)
            {
                return; // this node delivered its own events in-process
            }
            try
            {
                handler(message);
            }
            catch (Exception e)
            {
                Log.HandlerFailed(logger, e, message.Type, message.Room);
            }
        }
    }

    private void OnClusterMessage(ChannelMessage raw)
    {
        if (BusMessage.TryParse((byte[])raw.Message!) is not { } message)
        {
            return;
        }
        if (message.From == node.Id || !_cluster.Writer.TryWrite(message))
        {
            message.Dispose();
        }
    }

    public void Dispose() => _roomGate.Dispose();

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "Dropped an unreadable envelope on {Channel}")]
        public static partial void Dropped(ILogger logger, string channel);

        [LoggerMessage(LogLevel.Error, "Handling a {Type} envelope for room {Room} failed")]
        public static partial void HandlerFailed(ILogger logger, Exception e, string type, string? room);

        [LoggerMessage(LogLevel.Warning, "Publishing on {Channel} failed")]
        public static partial void PublishFailed(ILogger logger, Exception e, string channel);

        [LoggerMessage(LogLevel.Information, "Node {NodeId}: subscriber connection restored; resyncing rooms")]
        public static partial void Restored(ILogger logger, string nodeId);
    }
}
