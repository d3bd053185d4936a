using System.Diagnostics.Metrics;

namespace Ott.Sync.Telemetry;

/// <summary>
/// The <c>Ott</c> meter (docs/architecture.md §16). Instruments come from IMeterFactory, never a static Meter,
/// because several apps share one process in tests. Names are <c>ott.&lt;area&gt;.&lt;name&gt;</c>, which the
/// Prometheus exporter turns into <c>ott_*</c> series.
/// </summary>
internal sealed class OttMetrics
{
    public const string MeterName = "Ott";

    private readonly Counter<long> _requests;
    private readonly Counter<long> _errors;
    private readonly UpDownCounter<long> _sockets;
    // Counted here and read by observable counters at collection: every frame to every socket counts, and an
    // instrument Add per frame (a listener dispatch and an aggregator update each) was 1.5 % of the server's CPU
    // at 100,000 deliveries/s (bench/README.md).
    private long _frames;
    private long _frameBytes;
    private readonly Counter<long> _slowConsumers;
    private readonly Histogram<double> _fencedWrite;
    private readonly Histogram<double> _redisRoundTrip;
    private readonly Counter<long> _rejectedWrites;
    private readonly Counter<long> _leaseAcquisitions;
    private readonly Counter<long> _leaseLosses;
    private readonly UpDownCounter<long> _roomsLoaded;
    private readonly Histogram<double> _restore;
    private readonly Histogram<double> _fanOut;
    private readonly Counter<long> _busTimeouts;
    private readonly Counter<long> _busExpired;
    private readonly Counter<long> _forwarded;
    private readonly Counter<long> _resyncs;
    private readonly Histogram<double> _clientDrift;
    private readonly Histogram<double> _offsetUncertainty;
    private readonly Histogram<double> _buffering;

    // Viewers are meant to be within 50 ms of each other (issue 16): the buckets resolve that range.
    private static readonly InstrumentAdvice<double> DriftBuckets = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    };

    private static readonly InstrumentAdvice<double> BufferingBuckets = new()
    {
        HistogramBucketBoundaries = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    };

    public OttMetrics(IMeterFactory factory)
    {
        var meter = factory.Create(MeterName);
        _requests = meter.CreateCounter<long>("ott.room.requests", description: "Room commands applied, by type and outcome");
        _errors = meter.CreateCounter<long>("ott.errors", description: "Rejected messages and requests, by kind and name");
        _sockets = meter.CreateUpDownCounter<long>("ott.sockets.connected", description: "Open room WebSockets on this node");
        meter.CreateObservableCounter("ott.frames.sent", () => Volatile.Read(ref _frames), description: "Server frames written to sockets");
        meter.CreateObservableCounter("ott.frames.bytes", () => Volatile.Read(ref _frameBytes), unit: "By", description: "Bytes of server frames written to sockets");
        _slowConsumers = meter.CreateCounter<long>("ott.sockets.slow_consumer_closes", description: "Sockets closed with 1013 because their outbox was full");
        _fencedWrite = meter.CreateHistogram<double>("ott.redis.fenced_write.duration", unit: "s", description: "Fenced writes of a room's stored record");
        _redisRoundTrip = meter.CreateHistogram<double>("ott.redis.heartbeat.duration", unit: "s", description: "Heartbeat round trips to the store");
        _rejectedWrites = meter.CreateCounter<long>("ott.redis.rejected_writes", description: "Fenced writes refused because the lease token no longer matched");
        _leaseAcquisitions = meter.CreateCounter<long>("ott.lease.acquisitions", description: "Room leases taken by create or activation");
        _leaseLosses = meter.CreateCounter<long>("ott.lease.losses", description: "Room leases lost (demotions)");
        _roomsLoaded = meter.CreateUpDownCounter<long>("ott.rooms.loaded", description: "Rooms owned and loaded on this node");
        _restore = meter.CreateHistogram<double>("ott.rooms.restore.duration", unit: "s", description: "Eager restore of the rooms that were loaded at the last stop");
        _fanOut = meter.CreateHistogram<double>("ott.room.release.duration", unit: "s", description: "Release of a batch's outputs to local sockets (fan-out)");
        _busTimeouts = meter.CreateCounter<long>("ott.bus.timeouts", description: "Requests to another node that got no reply in time");
        _busExpired = meter.CreateCounter<long>("ott.bus.expired", description: "Requests dropped on arrival because their deadline had passed");
        _forwarded = meter.CreateCounter<long>("ott.bus.forwarded", description: "Room commands forwarded to the owner on another node");
        _resyncs = meter.CreateCounter<long>("ott.gateway.resyncs", description: "Rooms whose local clients were re-joined and re-synced (gap, owner change, reconnect)");
        _clientDrift = meter.CreateHistogram("ott.client.drift", unit: "s",
            description: "How far a clock-synced client's player was from the room's live position when it reported (absolute)", advice: DriftBuckets);
        _offsetUncertainty = meter.CreateHistogram("ott.clock.offset_uncertainty", unit: "s",
            description: "A clock-synced client's own bound on its clock-offset error (half its best round trip)", advice: DriftBuckets);
        _buffering = meter.CreateHistogram("ott.buffering", unit: "s", description: "How long a clock-synced client's player buffered, per episode",
            advice: BufferingBuckets);
    }

    public void Request(string type, string outcome) =>
        _requests.Add(1, new KeyValuePair<string, object?>("type", type), new KeyValuePair<string, object?>("outcome", outcome));

    public void Error(string kind, string name) =>
        _errors.Add(1, new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("name", name));

    public void SocketOpened() => _sockets.Add(1);
    public void SocketClosed() => _sockets.Add(-1);

    public void FrameSent(int bytes)
    {
        Interlocked.Increment(ref _frames);
        Interlocked.Add(ref _frameBytes, bytes);
    }

    public void SlowConsumer() => _slowConsumers.Add(1);
    public void FencedWrite(TimeSpan elapsed, bool accepted)
    {
        _fencedWrite.Record(elapsed.TotalSeconds);
        if (!accepted)
        {
            _rejectedWrites.Add(1);
        }
    }

    public void RedisRoundTrip(TimeSpan elapsed) => _redisRoundTrip.Record(elapsed.TotalSeconds);
    public void LeaseAcquired() => _leaseAcquisitions.Add(1);
    public void LeaseLost() => _leaseLosses.Add(1);
    public void RoomLoaded() => _roomsLoaded.Add(1);
    public void RoomStopped() => _roomsLoaded.Add(-1);
    public void Restored(TimeSpan elapsed) => _restore.Record(elapsed.TotalSeconds);
    public void FanOut(TimeSpan elapsed) => _fanOut.Record(elapsed.TotalSeconds);
    public void BusTimeout() => _busTimeouts.Add(1);
    public void BusExpired() => _busExpired.Add(1);
    public void Forwarded() => _forwarded.Add(1);
    public void Resync() => _resyncs.Add(1);
    public void ClientDrift(double seconds) => _clientDrift.Record(Math.Abs(seconds));
    public void OffsetUncertainty(double seconds) => _offsetUncertainty.Record(seconds);
    public void Buffered(double seconds) => _buffering.Record(seconds);
}
