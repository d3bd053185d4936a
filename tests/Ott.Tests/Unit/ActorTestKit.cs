using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Ott.Sync.Cluster;
using Ott.Sync.Media;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;
using Ott.Sync.Storage;
using Ott.Sync.Telemetry;
using Ott.Tests.Infrastructure;
using StackExchange.Redis;

namespace Ott.Tests.Unit;

// A redis-server of the test class's own, whose writes a test can hold with CLIENT PAUSE WRITE: a
// held script (every room script writes) is a fenced write or renew "in flight", sent but not
// answered, which is what the actor and lease tests need to control. The shared OTT_TEST_REDIS is
// never paused, since other test classes use it at the same time.
[SuppressMessage("Design", "CA1001", Justification = "xunit disposes fixtures through IAsyncLifetime.DisposeAsync.")]
public sealed partial class PausableRedis : IAsyncLifetime
{
    // Long enough that nothing a test holds ever times out on the patient connection.
    private const int PatientTimeoutMs = 5000;

    // An unknown outcome within a test's patience; SE.Redis notices a timeout on its next heartbeat.
    public const int ImpatientTimeoutMs = 300;

    private RedisServer? _server;
    private ConnectionMultiplexer? _admin;
    private RedisConnection? _patient;
    private RedisConnection? _impatient;

    public async Task InitializeAsync()
    {
        _server = await RedisServer.StartPrivateAsync();
        _admin = await _server.ConnectAsync(allowAdmin: true);
        _patient = await ConnectAsync($"{_server.ConnectionString},asyncTimeout={PatientTimeoutMs}");
        _impatient = await ConnectAsync($"{_server.ConnectionString},asyncTimeout={ImpatientTimeoutMs}");
    }

    private static async Task<RedisConnection> ConnectAsync(string connectionString)
    {
        var connection = new RedisConnection(connectionString, new StorageOptions(), Path.GetTempPath(), new RedisKeys("ott:"), NullLoggerFactory.Instance);
        await connection.ConnectAsync(CancellationToken.None);
        return connection;
    }

    // A store over a fresh key prefix; the patient and impatient stores of one prefix see the same rooms.
    internal (RoomStore Patient, RoomStore Impatient) NewStores()
    {
        var keys = new RedisKeys($"t{Guid.NewGuid():N}:");
        return (new RoomStore(_patient!, keys), new RoomStore(_impatient!, keys));
    }

    // Holds every write command (so every room script) until UnpauseAsync, or 10 s at most.
    public Task PauseWritesAsync() => _admin!.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", "10000", "WRITE");

    public Task UnpauseAsync() => _admin!.GetDatabase().ExecuteAsync("CLIENT", "UNPAUSE");

    // Until the server holds at least one client's command under the pause.
    public Task WaitUntilACommandIsHeldAsync() => WaitUntil.WaitUntilAsync(async () =>
    {
        var info = (string)(await _admin!.GetDatabase().ExecuteAsync("INFO", "clients"))!;
        return int.Parse(BlockedClients().Match(info).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0;
    }, TimeSpan.FromSeconds(5), "a command is held by CLIENT PAUSE");

    [GeneratedRegex(@"blocked_clients:(\d+)")]
    private static partial Regex BlockedClients();

    public async Task DisposeAsync()
    {
        if (_impatient is not null) await _impatient.DisposeAsync();
        if (_patient is not null) await _patient.DisposeAsync();
        if (_admin is not null) await _admin.DisposeAsync();
        if (_server is not null) await _server.DisposeAsync();
    }
}

// Fake time that counts the timers made from it: the actor's retry delays (Task.Delay on the clock's
// TimeProvider) are its only timers, so a new one means "an attempt failed and it waits to retry".
internal sealed class CountingTimeProvider() : FakeTimeProvider(new DateTimeOffset(2025, 1, 1, 12, 0, 0, TimeSpan.Zero))
{
    private int _timers;

    public int TimersCreated => Volatile.Read(ref _timers);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        Interlocked.Increment(ref _timers);
        return base.CreateTimer(callback, state, dueTime, period);
    }
}

// Everything the actor hands to the fan-out, in order.
internal sealed class CapturingFanout : IRoomFanout
{
    private readonly Lock _gate = new();
    private readonly List<RoomDelivery> _deliveries = [];
    private readonly List<(string Room, long Epoch)> _ownerLost = [];
    private readonly List<(string Room, int Code)> _unloaded = [];

    public IReadOnlyList<RoomDelivery> Deliveries
    {
        get { lock (_gate) return [.. _deliveries]; }
    }

    public IReadOnlyList<(string Room, long Epoch)> OwnerLostCalls
    {
        get { lock (_gate) return [.. _ownerLost]; }
    }

    public IReadOnlyList<(string Room, int Code)> UnloadedCalls
    {
        get { lock (_gate) return [.. _unloaded]; }
    }

    public void Deliver(RoomDelivery delivery, bool publish)
    {
        lock (_gate) _deliveries.Add(delivery);
    }

    public void OwnerChanged(string room, long epoch)
    {
    }

    public void OwnerLost(string room, long epoch)
    {
        lock (_gate) _ownerLost.Add((room, epoch));
    }

    public void Unloaded(string room, long epoch, int code, string reason)
    {
        lock (_gate) _unloaded.Add((room, code));
    }

    // The broadcast frames of one delivery, parsed.
    public static List<JsonObject> Broadcasts(RoomDelivery delivery) =>
        [.. delivery.Ops.OfType<Broadcast>().Select(b => JsonNode.Parse(RoomDelivery.Bytes(b.Frame))!.AsObject())];
}

[SuppressMessage("Reliability", "CA2000", Justification = "The factory owns its meters and disposes them.")]
internal sealed class TestMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        lock (_meters) _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        lock (_meters)
        {
            _meters.ForEach(m => m.Dispose());
            _meters.Clear();
        }
    }
}

// One room in the store and its actor, on fake time: the room is created in Redis as RoomManager
// would (CREATE, deadline from the send instant), with a Redis-side lease long enough that only the
// local deadline, which the test moves, decides what the actor may do.
internal sealed class ActorHarness : IAsyncDisposable
{
    public const string NodeId = "node-1";
    private static readonly TimeSpan RedisLeaseTtl = TimeSpan.FromMinutes(1);

    private readonly TestMeterFactory _meters;
    private int _clients;

    private ActorHarness(RoomStore store, RoomStore check, string key, string initialJson, RoomLease lease, RoomActor actor,
        CountingTimeProvider time, CapturingFanout fanout, LeaseOptions options, TestMeterFactory meters)
    {
        _meters = meters;
        Store = store;
        Check = check;
        Key = key;
        InitialJson = initialJson;
        Lease = lease;
        Actor = actor;
        Time = time;
        Fanout = fanout;
        Options = options;
    }

    public static LeaseOptions DefaultLease() => new()
    {
        Ttl = TimeSpan.FromSeconds(5),
        RenewInterval = TimeSpan.FromSeconds(1),
        Margin = TimeSpan.FromMilliseconds(500),
        HoldOnExpiry = TimeSpan.FromSeconds(1),
    };

    public RoomStore Store { get; }
    public RoomStore Check { get; }
    public string Key { get; }
    public string InitialJson { get; }
    public RoomLease Lease { get; }
    public RoomActor Actor { get; }
    public CountingTimeProvider Time { get; }
    public CapturingFanout Fanout { get; }
    public LeaseOptions Options { get; }

    // Ttl − margin: how long a deadline lasts from its send instant.
    public TimeSpan ValidFor => Options.Ttl - Options.EffectiveMargin;

    // The actor writes through store; check is a patient store on the same keys for the test's own reads.
    public static async Task<ActorHarness> StartAsync(RoomStore store, RoomStore check, CancellationToken ct)
    {
        var time = new CountingTimeProvider();
        var options = DefaultLease();
        var fanout = new CapturingFanout();
        var name = $"Room-{Guid.NewGuid():N}"[..16];
        var key = RoomManager.KeyOf(name);
        var state = RoomState.Create(name, isTemporary: false, time.GetUtcNow());
        var json = RoomActor.Serialize(state);
        var sent = time.GetTimestamp();
        var token = await check.CreateAsync(key, NodeId, json, RedisLeaseTtl, null, ct) ?? throw new InvalidOperationException("room exists");
        var lease = RoomLease.Start(key, token, sent, time, options);
        var meters = new TestMeterFactory();
        var services = new RoomActorServices(store, new ClusterClock(time), new RoomsOptions(), options,
            new RoomContext(() => Guid.NewGuid().ToString(), new Random(7), false),
            NullLogger.Instance, new OttMetrics(meters), fanout, NodeId, FetchSegments: null, OnStopped: _ => { });
        var actor = new RoomActor(key, lease, state, json, services);
        return new ActorHarness(store, check, key, json, lease, actor, time, fanout, options, meters);
    }

    public RoomUser NewUser(string name)
    {
        var n = Interlocked.Increment(ref _clients);
        return new RoomUser($"client-{n}", $"session-{n}", name, false, null, "none", NodeId);
    }

    public static RoomCommand Add(RoomUser user, string id)
    {
        var request = TestRoom.Parse($$$"""{"type":5,"video":{"service":"direct","id":"{{{id}}}"}}""");
        var media = new MediaLookup { Items = ImmutableDictionary<VideoId, QueueItem>.Empty.Add(new VideoId("direct", id), TestRoom.Item(id)) };
        return new RequestCommand(TestRoom.ActorOf(user), request, media);
    }

    public static RoomCommand Chat(RoomUser user, string text) =>
        new RequestCommand(TestRoom.ActorOf(user), TestRoom.Parse($$"""{"type":11,"text":"{{text}}"}"""));

    public async Task<StorableRoom> StoredAsync(CancellationToken ct) =>
        JsonSerializer.Deserialize(await Check.ReadStateAsync(Key, ct) ?? throw new InvalidOperationException("no state"), StateJsonContext.Default.StorableRoom)!;

    public async ValueTask DisposeAsync()
    {
        await Actor.DisposeAsync();
        _meters.Dispose();
    }
}
