using System.Diagnostics;
using Ott.Bench.Measure;
using Ott.Bench.Wire;

namespace Ott.Bench.Scenarios;

// The open-loop engine behind fanout and chatty. Every sender has a fixed schedule of intended send
// times; a receipt's latency is measured from the intended time, not from when the send actually
// happened, so a server (or generator) that falls behind shows up as latency instead of silently
// lowering the offered load (coordinated omission).
internal sealed class LoadEngine
{
    // Sleeps until the Stopwatch timestamp, never waking before it (Task.Delay truncates to whole
    // milliseconds and may wake early, which would record a receipt before its intended send).
    public static async Task SleepUntilAsync(long timestamp, CancellationToken ct)
    {
        long wait;
        while ((wait = timestamp - Stopwatch.GetTimestamp()) > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(wait * 1000.0 / Stopwatch.Frequency)), ct);
        }
    }

    private readonly long[][] _intended;
    private readonly long[][] _actual;
    private readonly long[] _sent;
    private readonly long[] _lastSeq;
    private readonly int[] _roomSender;
    private readonly int[] _receiversOf;
    private readonly LatencyRecorder _latency = new();
    private readonly LatencyRecorder _sendLag = new();
    private readonly LatencyRecorder _fromActual = new();
    private long _measureFrom = long.MaxValue;
    private long _measureUntil = long.MaxValue;
    private long _delivered;
    private long _unmatched;
    private long _errors;

    // senders: how many schedules; roomSender: the sender whose plays and seeks a room's members see
    // (fanout) or -1 (chatty: every sender marks its chats); receiversOf: members reached per send.
    public LoadEngine(int senders, int maxSendsPerSender, int[] roomSender, int[] receiversOf, int sockets)
    {
        _intended = new long[senders][];
        _actual = new long[senders][];
        for (var i = 0; i < senders; i++)
        {
            _intended[i] = new long[maxSendsPerSender];
            _actual[i] = new long[maxSendsPerSender];
        }
        _sent = new long[senders];
        _lastSeq = new long[sockets];
        Array.Fill(_lastSeq, -1);
        _roomSender = roomSender;
        _receiversOf = receiversOf;
    }

    public long Delivered => Interlocked.Read(ref _delivered);

    public long Unmatched => Interlocked.Read(ref _unmatched);

    public long ErrorFrames => Interlocked.Read(ref _errors);

    public LatencyRecorder Latency => _latency;

    // How late the generator sent, against the schedule: the check that it is not the bottleneck.
    public LatencyRecorder SendLag => _sendLag;

    // From the moment the frame was actually handed to the socket: not coordinated-omission-aware,
    // reported beside the main figure to separate the server's part from the generator's lateness.
    public LatencyRecorder FromActualSend => _fromActual;

    public void OnFrame(BenchSocket socket, Frame frame, long at, int socketId)
    {
        int sender;
        long seq;
        switch (frame.Kind)
        {
            case FrameKind.Error:
                Interlocked.Increment(ref _errors);
                return;
            case FrameKind.Chat when frame.Sender >= 0:
                sender = frame.Sender;
                seq = frame.Seq;
                break;
            case FrameKind.Event when frame.RequestType is 2 or 4 && _roomSender[socket.Room] >= 0:
                sender = _roomSender[socket.Room];
                // A play/pause has no marker: it is the one after the last frame this member matched.
                seq = frame.Seq >= 0 ? frame.Seq : _lastSeq[socketId] + 1;
                break;
            default:
                return;
        }
        _lastSeq[socketId] = seq;
        if ((uint)sender >= (uint)_intended.Length || seq < 0 || seq >= Volatile.Read(ref _sent[sender]))
        {
            Interlocked.Increment(ref _unmatched);
            return;
        }
        var intended = _intended[sender][seq];
        if (intended < _measureFrom || intended >= _measureUntil)
        {
            return;
        }
        Interlocked.Increment(ref _delivered);
        _latency.Record(socketId, LatencyRecorder.Micros(intended, at));
        _fromActual.Record(socketId, LatencyRecorder.Micros(_actual[sender][seq], at));
    }

    // Runs every sender's schedule; returns how many deliveries the measured window should produce.
    public async Task<long> RunAsync(IReadOnlyList<(int Sender, BenchSocket Socket, Func<long, byte[]> Message)> senders,
        double ratePerSender, TimeSpan warmup, TimeSpan duration, CancellationToken ct)
    {
        var interval = (long)(Stopwatch.Frequency / ratePerSender);
        var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
        _measureFrom = start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
        _measureUntil = _measureFrom + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var expected = new long[senders.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, senders.Count), new ParallelOptions { MaxDegreeOfParallelism = senders.Count, CancellationToken = ct },
            async (i, token) =>
            {
                var (sender, socket, message) = senders[i];
                // Senders are staggered evenly over one interval so they do not fire in lockstep.
                var offset = interval * i / senders.Count;
                var times = _intended[sender];
                for (long k = 0; k < times.Length; k++)
                {
                    var intended = start + offset + k * interval;
                    if (intended >= _measureUntil || socket.Closed)
                    {
                        break;
                    }
                    await SleepUntilAsync(intended, token);
                    times[k] = intended;
                    var now = Stopwatch.GetTimestamp();
                    _actual[sender][k] = now;
                    _sendLag.Record(i, LatencyRecorder.Micros(intended, now));
                    Volatile.Write(ref _sent[sender], k + 1);
                    if (intended >= _measureFrom)
                    {
                        expected[i] += _receiversOf[socket.Room];
                    }
                    try
                    {
                        await socket.SendAsync(message(k), token);
                    }
                    catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or IOException)
                    {
                        break;
                    }
                }
            });
        return expected.Sum();
    }

    public static int MaxSends(double rate, TimeSpan warmup, TimeSpan duration) =>
        (int)Math.Ceiling(rate * (warmup + duration).TotalSeconds) + 16;
}
