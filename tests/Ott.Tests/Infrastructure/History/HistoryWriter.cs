using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Ott.Tests.Infrastructure.History;

internal sealed record HistoryWriterOptions
{
    // Each request starts this long after the previous one started (or at once, if it took longer).
    public TimeSpan MinInterval { get; init; } = TimeSpan.FromMilliseconds(150);

    public TimeSpan MaxInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    // Past the gateway's give-up time (Lease:Ttl + Cluster:RequestTimeout) and a 5 s SIGSTOP.
    public TimeSpan AnswerTimeout { get; init; } = TimeSpan.FromSeconds(12);

    // The share of requests sent over the socket (while it is open); the rest go over REST.
    public double SocketShare { get; init; } = 0.5;

    public double RemoveShare { get; init; } = 0.3;

    // Removes are preferred once the room holds this many acknowledged, unclaimed items, so queues
    // (and the sync frames that carry them) stay small.
    public int TargetQueue { get; init; } = 20;

    public string UrlBase { get; init; } = "https://media.invalid/h";
}

// One client of a room, pinned to one node, that adds unique direct URLs and removes other writers'
// items, half over its socket and half over REST with the same token (so REST changes carry its
// user and raise events too). Every request and answer goes into the History. The socket reconnects
// after any close, with the OTT client's backoff shortened fourfold; REST follows the node when it
// is restarted on a new port (locate).
internal sealed class HistoryWriter : IAsyncDisposable
{
    private readonly History _history;
    private readonly Func<Uri?> _locate;
    private readonly HistoryWriterOptions _options;
    private readonly Random _random;
    // The connect loop's own: Random is not thread-safe, and the two loops run concurrently.
    private readonly Random _backoff;
    private readonly CancellationTokenSource _stopWriting = new();
    private readonly CancellationTokenSource _stopAll = new();
    private volatile RecordedSocket? _socket;
    private HttpClient? _http;
    private readonly List<HttpClient> _oldHttp = [];
    private string _token = "";
    private Task _connecting = Task.CompletedTask;
    private Task _writing = Task.CompletedTask;
    private int _next;
    private int _socketBusy;
    // After a refused connection (the node is down), REST pauses so the history is not flooded with refusals.
    private TimeSpan _refusedUntil;

    public HistoryWriter(History history, string name, string node, string room, Func<Uri?> locate, int seed, HistoryWriterOptions? options = null)
    {
        _history = history;
        Name = name;
        Node = node;
        Room = room;
        _locate = locate;
        _options = options ?? new HistoryWriterOptions();
        _random = new Random(seed);
        _backoff = new Random(~seed);
    }

    public string Name { get; }

    public string Node { get; }

    public string Room { get; }

    // An unexpected exception that ended one of the writer's loops (never a server's answer).
    public Exception? Failure { get; private set; }

    // The open connection's log, once it has had a full sync.
    public ConnectionLog? Current => _socket is { IsOpen: true } s && s.Log.FullSyncs > 0 ? s.Log : null;

    // Grants the token and opens the first socket; then connects and writes in the background.
    public async Task StartAsync(CancellationToken ct)
    {
        var baseAddress = _locate() ?? throw new InvalidOperationException($"{Node} is not listening");
        using (var grant = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) })
        {
            _token = JsonNode.Parse(await grant.GetStringAsync(new Uri("/api/auth/grant", UriKind.Relative), ct))!["token"]!.GetValue<string>();
        }
        _socket = await RecordedSocket.ConnectAsync(_history, Name, Node, Room, baseAddress, _token, TimeSpan.FromSeconds(15), ct);
        var all = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopAll.Token).Token;
        _connecting = Guard(ConnectLoopAsync(all));
    }

    public void StartWriting(CancellationToken ct)
    {
        var writing = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopWriting.Token, _stopAll.Token).Token;
        _writing = Guard(WriteLoopAsync(writing));
    }

    // Stops after the request in flight has its answer (bounded by AnswerTimeout).
    public async Task StopWritingAsync()
    {
        await _stopWriting.CancelAsync();
        await _writing;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopWriting.CancelAsync();
        await _stopAll.CancelAsync();
        await _writing;
        await _connecting;
        if (_socket is { } socket)
        {
            await socket.DisposeAsync();
        }
        _http?.Dispose();
        _oldHttp.ForEach(h => h.Dispose());
        _stopWriting.Dispose();
        _stopAll.Dispose();
    }

    private async Task Guard(Task loop)
    {
        try
        {
            await loop;
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            Failure = e;
        }
    }

    private async Task ConnectLoopAsync(CancellationToken ct)
    {
        var attempts = 0;
        while (!ct.IsCancellationRequested)
        {
            if (_socket is { IsOpen: true } open)
            {
                await Task.WhenAny(open.Closed, Task.Delay(Timeout.Infinite, ct));
                continue;
            }
            if (_socket is { } old)
            {
                _socket = null;
                await old.DisposeAsync();
            }
            // The OTT client's round((1000 + 2000 × attempts) × (0.5 + random)) ms, divided by four.
            var backoff = Math.Min(3000, (250 + 500 * attempts) * (0.5 + _backoff.NextDouble()));
            await Task.Delay(TimeSpan.FromMilliseconds(backoff), ct);
            attempts++;
            if (_locate() is not { } baseAddress)
            {
                continue;
            }
            try
            {
                _socket = await RecordedSocket.ConnectAsync(_history, Name, Node, Room, baseAddress, _token, TimeSpan.FromSeconds(15), ct);
                attempts = 0;
            }
            catch (Exception e) when (e is WebSocketException or HttpRequestException or TimeoutException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                // Refused (node down), closed at auth (recorded in its log), or no answer: try again.
            }
        }
    }

    // One request every MinInterval–MaxInterval, whether or not earlier ones are answered, as an OTT
    // client sends them. The socket carries one request at a time (its only answers are an event or
    // an error, which must be attributable); REST requests run concurrently, so a stalled room
    // collects a backlog that lands on its owner at once when it recovers.
    private async Task WriteLoopAsync(CancellationToken ct)
    {
        var inFlight = new List<Task>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var started = _history.Now;
                inFlight.RemoveAll(t => t.IsCompleted);
                if (_locate() is { } baseAddress && _refusedUntil <= started)
                {
                    inFlight.Add(WriteOnceAsync(baseAddress));
                }
                var interval = _options.MinInterval + (_options.MaxInterval - _options.MinInterval) * _random.NextDouble();
                var wait = started + interval - _history.Now;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, ct);
                }
            }
        }
        finally
        {
            // Every request gets its answer or its timeout before the writer counts as stopped.
            await Task.WhenAll(inFlight);
        }
    }

    private Task WriteOnceAsync(Uri baseAddress)
    {
        var remove = _random.NextDouble() < _options.RemoveShare || _history.Unclaimed(Room) > _options.TargetQueue;
        var socket = _socket;
        var target = remove ? _history.ClaimRemovable(Room, Name, _random, socket?.Log.Queue) : null;
        var kind = target is null ? OpKind.Add : OpKind.Remove;
        target ??= $"{_options.UrlBase}-{Name}-{_next++}.mp4";
        if (socket is { IsOpen: true } && _random.NextDouble() < _options.SocketShare && Interlocked.CompareExchange(ref _socketBusy, 1, 0) == 0)
        {
            return SocketAsync(socket, kind, target);
        }
        return RestAsync(baseAddress, kind, target);
    }

    private async Task SocketAsync(RecordedSocket socket, OpKind kind, string target)
    {
        try
        {
            var record = _history.Begin(Name, Node, Room, kind, EntryPoint.Socket, target, socket.Log.Id);
            var request = new JsonObject
            {
                ["type"] = kind == OpKind.Add ? 5 : 6,
                ["video"] = new JsonObject { ["service"] = "direct", ["id"] = target },
            };
            if (await socket.RequestAsync(record, request, _options.AnswerTimeout, CancellationToken.None) == Outcome.NoAnswer)
            {
                // A late answer must not be taken for the next request's: this connection is done.
                await socket.AbandonAsync();
            }
        }
        finally
        {
            Volatile.Write(ref _socketBusy, 0);
        }
    }

    private async Task RestAsync(Uri baseAddress, OpKind kind, string target)
    {
        var http = _http;
        if (http?.BaseAddress != baseAddress)
        {
            // The old client is left to the requests still using it (a restarted node's old port).
            if (_http is { } old)
            {
                _oldHttp.Add(old);
            }
            http = new HttpClient { BaseAddress = baseAddress, Timeout = _options.AnswerTimeout };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            _http = http;
        }
        var record = _history.Begin(Name, Node, Room, kind, EntryPoint.Rest, target);
        var body = new JsonObject { ["service"] = "direct", ["id"] = target };
        using var request = new HttpRequestMessage(kind == OpKind.Add ? HttpMethod.Post : HttpMethod.Delete, $"/api/room/{Room}/queue")
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        try
        {
            // Not cancelled by StopWritingAsync: the answer of the last request is worth waiting for.
            using var response = await http.SendAsync(request, CancellationToken.None);
            var text = await response.Content.ReadAsStringAsync(CancellationToken.None);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                _history.Complete(record, Outcome.Acked);
            }
            else
            {
                _history.Complete(record, Outcome.Failed, ErrorName(text) ?? $"HTTP {(int)response.StatusCode}");
            }
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            // Never reached the node: definitely not applied.
            _history.Complete(record, Outcome.Failed, "ConnectionRefused");
            _refusedUntil = _history.Now + TimeSpan.FromMilliseconds(500);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            _history.Complete(record, Outcome.NoAnswer);
        }
    }

    private static string? ErrorName(string body)
    {
        try
        {
            return JsonNode.Parse(body)?["error"]?["name"]?.GetValue<string>();
        }
        catch (Exception)
        {
            return null;
        }
    }
}
