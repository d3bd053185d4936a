using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Ott.Sync.Rooms;
using Ott.Sync.Storage;
using StackExchange.Redis;

namespace Ott.Tests.Infrastructure;

/// <summary>
/// The app in-process against real Redis (docs/architecture.md §15.2): a unique key prefix per factory, fast
/// cluster settings, and helpers that speak OTT over TestServer sockets and REST.
/// </summary>
public class OttApplication : WebApplicationFactory<Program>, IAsyncLifetime
{
    public const string ApiKey = "test-api-key";

    private readonly Dictionary<string, string?> _settings = new(StringComparer.Ordinal);
    private RedisConnection? _store;

    public OttApplication() : this(new RedisServer(), ownsRedis: true, $"test-{Guid.NewGuid():N}:")
    {
    }

    /// <summary>A second app on the same Redis and prefix: a restart of the first.</summary>
    internal OttApplication(RedisServer redis, bool ownsRedis, string keyPrefix, IDictionary<string, string?>? settings = null)
    {
        Backend = redis;
        OwnsRedis = ownsRedis;
        KeyPrefix = keyPrefix;
        if (settings is not null)
        {
            foreach (var (k, v) in settings)
            {
                _settings[k] = v;
            }
        }
    }

    public RedisServer Backend { get; }

    private bool OwnsRedis { get; }

    public string KeyPrefix { get; }

    /// <summary>Extra configuration, applied before the host is built.</summary>
    public IDictionary<string, string?> Settings => _settings;

    internal RoomManager Rooms => Services.GetRequiredService<RoomManager>();

    internal RoomStore Store => Services.GetRequiredService<RoomStore>();

    internal IDatabase Database => Services.GetRequiredService<RedisConnection>().Database;

    public virtual async Task InitializeAsync()
    {
        if (OwnsRedis)
        {
            await Backend.InitializeAsync();
        }
        _ = Server; // build and start the host
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (OwnsRedis)
        {
            await Backend.DisposeAsync();
        }
    }

    // Program's own app.Run() disposes the host, on the entry-point thread, once the factory has stopped it,
    // and the factory's DisposeAsync does not wait for that. The store connection is the part a restart
    // must not overlap (an embedded Garnet checkpoints its data dir at disposal), so this waits for it.
    protected override IHost CreateHost(IHostBuilder builder)
    {
        var host = base.CreateHost(builder);
        _store = host.Services.GetRequiredService<RedisConnection>();
        return host;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_store is { } store)
        {
            await store.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:Redis", Backend.ConnectionString);
        builder.UseSetting("Storage:KeyPrefix", KeyPrefix);
        builder.UseSetting("Api:Key", ApiKey);
        builder.UseSetting("Http:InsecureCookies", "true");
        builder.UseSetting("Cluster:HeartbeatInterval", "00:00:00.100");
        builder.UseSetting("Cluster:NodeTimeout", "00:00:00.300");
        builder.UseSetting("Cluster:SettleHeartbeats", "1");
        builder.UseSetting("Lease:Ttl", "00:00:02");
        builder.UseSetting("Lease:RenewInterval", "00:00:00.400");
        builder.UseSetting("RateLimit:Enabled", "false");
        builder.UseSetting("Debug:Endpoints", "true");
        // No ffprobe: the tests' direct URLs (example.com) are never fetched, so they are accepted without a
        // length (docs/protocol.md §2). Factories that probe real files turn it back on.
        builder.UseSetting("Media:Ffprobe:Path", "");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }

    public HttpClient ApiClient(string? token = null)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    public HttpClient AdminClient()
    {
        var client = ApiClient();
        client.DefaultRequestHeaders.Add("apikey", ApiKey);
        return client;
    }

    public async Task<string> GrantAsync(CancellationToken ct = default)
    {
        using var client = ApiClient();
        var body = JsonNode.Parse(await client.GetStringAsync("/api/auth/grant", ct))!;
        return body["token"]!.GetValue<string>();
    }

    /// <summary>Creates a room through the REST API and returns its name.</summary>
    public async Task<string> CreateRoomAsync(string? name = null, bool permanent = false, string? token = null,
        JsonObject? extra = null, CancellationToken ct = default)
    {
        name ??= NewRoomName();
        token ??= await GrantAsync(ct);
        using var client = ApiClient(token);
        var body = new JsonObject { ["name"] = name, ["isTemporary"] = !permanent };
        foreach (var (k, v) in extra ?? [])
        {
            body[k] = v?.DeepClone();
        }
        using var response = await client.PostAsync("/api/room/create", Json(body), ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if ((int)response.StatusCode != 201)
        {
            throw new InvalidOperationException($"create {name} failed: {(int)response.StatusCode} {text}");
        }
        return name;
    }

    public static string NewRoomName() => "r" + Guid.NewGuid().ToString("N")[..20];

    public static StringContent Json(JsonNode body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    /// <summary>Opens a socket to <paramref name="path"/> (default <c>/api/room/{room}</c>) without authenticating.</summary>
    public async Task<OttTestClient> ConnectAsync(string room, string? path = null, CancellationToken ct = default)
    {
        var client = Server.CreateWebSocketClient();
        var socket = await client.ConnectAsync(new Uri(Server.BaseAddress, path ?? $"/api/room/{room}").ToWs(), ct);
        return new OttTestClient(socket);
    }

    /// <summary>Opens a socket, authenticates (minting a token unless given) and waits for <c>you</c>.</summary>
    public async Task<OttTestClient> JoinAsync(string room, string? token = null, CancellationToken ct = default)
    {
        token ??= await GrantAsync(ct);
        var client = await ConnectAsync(room, ct: ct);
        client.Token = token;
        await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = token }, ct);
        var you = await client.WaitForAsync(m => m.Action() == "you", ct: ct);
        client.ClientId = you["info"]!["id"]!.GetValue<string>();
        return client;
    }
}

public static class OttTestExtensions
{
    public static Uri ToWs(this Uri uri) => new UriBuilder(uri) { Scheme = uri.Scheme == "https" ? "wss" : "ws" }.Uri;

    public static string? Action(this JsonObject message) => message["action"]?.GetValue<string>();
}

/// <summary>A socket that speaks OTT: a background receive loop records every frame in order.</summary>
public sealed class OttTestClient : IAsyncDisposable
{
    private readonly WebSocket _socket;
    private readonly List<JsonObject> _messages = [];
    private readonly SemaphoreSlim _arrived = new(0);
    private readonly Task _receiving;
    private readonly TaskCompletionSource<WebSocketCloseStatus?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _cursor;

    public OttTestClient(WebSocket socket)
    {
        _socket = socket;
        _receiving = ReceiveLoopAsync();
    }

    public static TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public string? Token { get; set; }

    public string ClientId { get; set; } = "";

    public WebSocket Socket => _socket;

    /// <summary>Every frame received so far, in order.</summary>
    public IReadOnlyList<JsonObject> Messages
    {
        get
        {
            lock (_messages)
            {
                return [.. _messages];
            }
        }
    }

    public Task<WebSocketCloseStatus?> Closed => _closed.Task;

    public string? CloseDescription { get; private set; }

    public Task SendAsync(JsonNode message, CancellationToken ct = default) => SendTextAsync(message.ToJsonString(), ct);

    public Task SendTextAsync(string text, CancellationToken ct = default) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, ct);

    /// <summary>Sends <c>{"action":"req","request":…}</c>.</summary>
    public Task RequestAsync(JsonObject request, CancellationToken ct = default) =>
        SendAsync(new JsonObject { ["action"] = "req", ["request"] = request }, ct);

    /// <summary>Waits for the next frame (after those already consumed by a wait) that matches.</summary>
    public async Task<JsonObject> WaitForAsync(Func<JsonObject, bool> match, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout ?? DefaultTimeout);
        while (true)
        {
            lock (_messages)
            {
                for (; _cursor < _messages.Count; _cursor++)
                {
                    if (match(_messages[_cursor]))
                    {
                        return _messages[_cursor++];
                    }
                }
            }
            if (_closed.Task.IsCompleted && _arrived.CurrentCount == 0)
            {
                throw new InvalidOperationException($"Socket closed ({_closed.Task.Result}) before a matching frame arrived. Got: {Dump()}");
            }
            try
            {
                await _arrived.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No matching frame arrived. Got: {Dump()}");
            }
        }
    }

    /// <summary>Waits for the error reply to the last rejected message.</summary>
    public Task<JsonObject> ErrorAsync(CancellationToken ct = default) => WaitForAsync(m => m.Action() == "error", ct: ct);

    /// <summary>Waits until the server closes the socket, returning its close code.</summary>
    public async Task<int?> CloseCodeAsync(CancellationToken ct = default)
    {
        var status = await _closed.Task.WaitAsync(DefaultTimeout, ct);
        return (int?)status;
    }

    /// <summary>Skips every frame received so far.</summary>
    public void SkipReceived()
    {
        lock (_messages)
        {
            _cursor = _messages.Count;
        }
    }

    public string Dump()
    {
        lock (_messages)
        {
            return string.Join("\n", _messages.Select(m => m.ToJsonString()));
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[1 << 20];
        try
        {
            while (true)
            {
                var length = 0;
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(length).ToArraySegment(), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseDescription = result.CloseStatusDescription;
                    _closed.TrySetResult(result.CloseStatus);
                    // Wakes a wait that had seen every frame, so it fails now rather than at its timeout.
                    _arrived.Release();
                    return;
                }
                var message = JsonNode.Parse(buffer.AsSpan(0, length))!.AsObject();
                lock (_messages)
                {
                    _messages.Add(message);
                }
                _arrived.Release();
            }
        }
        catch (Exception)
        {
            _closed.TrySetResult(null);
            _arrived.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
            }
            catch (Exception)
            {
                _socket.Abort();
            }
        }
        _socket.Abort();
        await _receiving;
        _socket.Dispose();
        _arrived.Dispose();
    }
}

internal static class MemoryExtensions2
{
    public static ArraySegment<byte> ToArraySegment(this Memory<byte> memory) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(memory, out var segment) ? segment : throw new InvalidOperationException();
}
