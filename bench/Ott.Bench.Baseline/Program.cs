using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

// The bench's ceiling (docs/architecture.md §16): raw Kestrel WebSockets with just enough of the OTT protocol for
// the fanout scenario. No storage, no actor, no validation: a req is echoed to the room as an event
// (a chat as a chat frame). It keeps Ott's socket shape (one receive loop, one send loop fed by a
// bounded outbox) so the ratio measures Ott's room machinery, not a different socket model.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var app = builder.Build();
app.UseWebSockets();

var rooms = new ConcurrentDictionary<string, BaselineRoom>(StringComparer.OrdinalIgnoreCase);

app.MapGet("/api/auth/grant", () => Results.Text($$"""{"token":"{{Guid.NewGuid():N}}"}""", "application/json"));
app.MapGet("/api/status", () => Results.Text("""{"status":"ok"}""", "application/json"));
app.MapPost("/api/room/create", async (HttpRequest request) =>
{
    using var body = await JsonDocument.ParseAsync(request.Body, cancellationToken: request.HttpContext.RequestAborted);
    var name = body.RootElement.GetProperty("name").GetString() ?? "";
    return rooms.TryAdd(name, new BaselineRoom())
        ? Results.Text("""{"success":true}""", "application/json", statusCode: 201)
        : Results.Text("""{"success":false,"error":{"name":"RoomNameTakenException"}}""", "application/json", statusCode: 400);
});
app.MapGet("/api/room/{name}", (string name) =>
    rooms.ContainsKey(name) ? Results.Text($$"""{"name":"{{name}}"}""", "application/json") : Results.NotFound());

app.Use(async (context, next) =>
{
    if (!context.WebSockets.IsWebSocketRequest)
    {
        await next(context);
        return;
    }
    using var socket = await context.WebSockets.AcceptWebSocketAsync();
    var segments = (context.Request.Path.Value ?? "").Split('/');
    if (segments.Length < 4 || !rooms.TryGetValue(segments[3], out var room))
    {
        await socket.CloseAsync((WebSocketCloseStatus)4002, "Room not found", CancellationToken.None);
        return;
    }
    await new BaselineConnection(socket, room).RunAsync(context.RequestAborted);
});

app.Run();

internal sealed class BaselineRoom
{
    private readonly Lock _gate = new();
    private BaselineConnection[] _members = [];

    public void Add(BaselineConnection c)
    {
        lock (_gate)
        {
            _members = [.. _members, c];
        }
    }

    public void Remove(BaselineConnection c)
    {
        lock (_gate)
        {
            _members = [.. _members.Where(m => m != c)];
        }
    }

    public void Broadcast(byte[] frame)
    {
        foreach (var m in Volatile.Read(ref _members))
        {
            m.Send(frame);
        }
    }
}

internal sealed class BaselineConnection(WebSocket socket, BaselineRoom room)
{
    private static readonly byte[] EventPrefix = """{"action":"event","request":"""u8.ToArray();
    private static readonly byte[] EventSuffix = ""","user":{"name":"baseline"},"additional":{},"id":"0"}"""u8.ToArray();

    private readonly Channel<byte[]> _outbox = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(256) { SingleReader = true });
    private readonly string _id = Guid.NewGuid().ToString();

    public void Send(byte[] frame)
    {
        if (!_outbox.Writer.TryWrite(frame))
        {
            _outbox.Writer.TryComplete();
        }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var sending = SendLoopAsync(ct);
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var joined = false;
        try
        {
            while (true)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(length), ct);
                    length += result.Count;
                }
                while (!result.EndOfMessage && length < buffer.Length);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                using var doc = JsonDocument.Parse(buffer.AsMemory(0, length));
                var action = doc.RootElement.GetProperty("action").GetString();
                if (action == "auth" && !joined)
                {
                    joined = true;
                    room.Add(this);
                    Send(Encoding.UTF8.GetBytes("{\"action\":\"you\",\"info\":{\"id\":\"" + _id + "\"}}"));
                }
                else if (action == "req" && joined)
                {
                    var request = doc.RootElement.GetProperty("request");
                    room.Broadcast(request.GetProperty("type").GetInt32() == 11
                        ? Encoding.UTF8.GetBytes($$"""{"action":"chat","from":{"name":"baseline"},"text":{{JsonSerializer.Serialize(request.GetProperty("text").GetString(), BaselineJson.Default.String)}}}""")
                        : [.. EventPrefix, .. Encoding.UTF8.GetBytes(request.GetRawText()), .. EventSuffix]);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or JsonException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            room.Remove(this);
            _outbox.Writer.TryComplete();
            await sending;
        }
    }

    private async Task SendLoopAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var frame in _outbox.Reader.ReadAllAsync(ct))
            {
                await socket.SendAsync(frame, WebSocketMessageType.Text, true, ct);
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class BaselineJson : System.Text.Json.Serialization.JsonSerializerContext;
