using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;
using Ott.Sync.Storage;
using StackExchange.Redis;

namespace Ott.Tests.Infrastructure.Web;

/// <summary>A command the app forwarded to the fake owner, as its <c>cmd</c> envelope named it (docs/architecture.md §9.2).</summary>
internal sealed record ForwardedCommand(string Kind, RequestId? Id, string EnvelopeId, string ReplyTo, long ReceivedAt)
{
    public long Seq => Id?.Seq ?? 0;
}

/// <summary>
/// A second node as the app under test sees it, played by the test over the same Redis: it heartbeats into the
/// live set, holds one room's lease, and answers the commands the app forwards over its node channel only when
/// and how the test says (docs/architecture.md §9.3). So a reply can really be lost, late or prompt while the app
/// (its sockets, router and bus) runs unchanged.
/// </summary>
internal sealed class FakeOwnerNode : IAsyncDisposable
{
    private readonly OttApplication _app;
    private readonly ConnectionMultiplexer _redis;
    private readonly RedisKeys _keys;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<ForwardedCommand> _received = [];
    private readonly List<string> _log = [];
    private ChannelMessageQueue? _queue;
    private Task _beating = Task.CompletedTask;

    private FakeOwnerNode(OttApplication app, ConnectionMultiplexer redis)
    {
        _app = app;
        _redis = redis;
        _keys = app.Services.GetRequiredService<RedisKeys>();
    }

    public string NodeId { get; } = "fake-" + Guid.NewGuid().ToString("N")[..8];

    public string Room { get; } = OttApplication.NewRoomName();

    /// <summary>
    /// The answer to each forwarded command as it arrives: <see cref="Reply.Ok"/>, an error, or null to leave it
    /// unanswered (its reply is lost, unless the test answers it later with <see cref="AnswerAsync"/>).
    /// </summary>
    public Func<ForwardedCommand, Reply?> Policy { get; set; } = _ => Reply.Ok;

    public IReadOnlyList<ForwardedCommand> Received
    {
        get { lock (_received) return [.. _received]; }
    }

    /// <summary>What this node received and answered, in the order it happened.</summary>
    public IReadOnlyList<string> Log
    {
        get { lock (_received) return [.. _log]; }
    }

    public static async Task<FakeOwnerNode> StartAsync(OttApplication app, CancellationToken ct)
    {
        var fake = new FakeOwnerNode(app, await app.Backend.ConnectAsync());
        // Subscribed before the app can see this node, as a real node is (docs/architecture.md §9.1).
        fake._queue = await fake._redis.GetSubscriber().SubscribeAsync(fake._keys.NodeChannel(fake.NodeId));
        fake._queue.OnMessage(fake.OnMessageAsync);
        fake._beating = fake.BeatAsync(app.Services.GetRequiredService<IOptions<ClusterOptions>>().Value.NodeTimeout);
        var key = RoomManager.KeyOf(fake.Room);
        var state = RoomState.Create(fake.Room, isTemporary: false, DateTimeOffset.UtcNow);
        _ = await app.Store.CreateAsync(key, fake.NodeId, RoomActor.Serialize(state), TimeSpan.FromMinutes(1), null, ct)
            ?? throw new InvalidOperationException("the fake owner's room exists already");
        var membership = app.Services.GetRequiredService<Membership>();
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(membership.IsUsable(fake.NodeId)), TimeSpan.FromSeconds(10),
            "the app counts the fake owner as a live node");
        return fake;
    }

    /// <summary>Waits until a command that matches has arrived, and returns the first such.</summary>
    public async Task<ForwardedCommand> WaitForAsync(Func<ForwardedCommand, bool> match, string because)
    {
        await WaitUntil.WaitUntilAsync(() => Task.FromResult(Received.Any(match)), TimeSpan.FromSeconds(10), because);
        return Received.First(match);
    }

    /// <summary>Publishes the reply to <paramref name="command"/> on its sender's channel, as an owner does.</summary>
    public async Task AnswerAsync(ForwardedCommand command, Reply reply)
    {
        lock (_received)
        {
            _log.Add($"answered {command.Kind} #{command.Seq}");
        }
        var header = new BusHeader(BusType.Reply) { Corr = command.EnvelopeId, From = NodeId, Room = RoomManager.KeyOf(Room) };
        var bytes = BusWriter.Write(header, w =>
        {
            if (reply.Failure is { } failure) CommandCodec.Error(w, failure); else CommandCodec.Ok(w);
        });
        await _redis.GetSubscriber().PublishAsync(_keys.Channel(command.ReplyTo), bytes);
    }

    // Messages of the node channel, one at a time in publish order (docs/architecture.md §9.1).
    private async Task OnMessageAsync(ChannelMessage raw)
    {
        using var message = BusMessage.TryParse((byte[])raw.Message!);
        if (message is not { Type: BusType.Cmd, ReplyTo: { } replyTo })
        {
            return;
        }
        var kind = message.Payload.TryGetProperty("k", out var k) ? k.GetString() ?? "" : "";
        var command = new ForwardedCommand(kind, RequestId.Parse(message.ReqId), message.Id, replyTo, Stopwatch.GetTimestamp());
        lock (_received)
        {
            _received.Add(command);
            _log.Add($"received {kind} #{command.Seq}");
        }
        if (Policy(command) is { } reply)
        {
            await AnswerAsync(command, reply);
        }
    }

    private async Task BeatAsync(TimeSpan nodeTimeout)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            do
            {
                try
                {
                    await _app.Store.HeartbeatAsync(NodeId, nodeTimeout, _stop.Token);
                }
                catch (RedisException)
                {
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The room goes first, so whatever the app still sends it (a disconnect's leave) finds nobody owns it.
        var db = _redis.GetDatabase();
        var key = RoomManager.KeyOf(Room);
        await db.KeyDeleteAsync([_keys.RoomLease(key), _keys.RoomState(key), _keys.RoomEpoch(key)]);
        await _stop.CancelAsync();
        await _beating;
        await _app.Store.RemoveNodeAsync(NodeId, CancellationToken.None);
        if (_queue is not null)
        {
            await _queue.UnsubscribeAsync();
        }
        await _redis.DisposeAsync();
        _stop.Dispose();
    }

    /// <summary>An owner's reply to a command: ok, or the failure it was refused with.</summary>
    internal sealed record Reply(OttFailure? Failure)
    {
        public static readonly Reply Ok = new((OttFailure?)null);
    }
}
