using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Ott.Bench.Wire;

// The REST half of the protocol the bench needs: grant, create, get (docs/protocol.md §3, §4).
internal sealed class OttApi(Uri baseUrl) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        BaseAddress = baseUrl,
        Timeout = TimeSpan.FromSeconds(30),
    };

    public Uri BaseUrl => baseUrl;

    public Uri SocketUrl(string room) => SocketUrl(baseUrl, room);

    public static Uri SocketUrl(Uri node, string room) =>
        new UriBuilder(node) { Scheme = node.Scheme == "https" ? "wss" : "ws", Path = "/api/room/" + room }.Uri;

    public async Task<string> GrantAsync(CancellationToken ct)
    {
        using var response = await _http.GetAsync(new Uri("/api/auth/grant", UriKind.Relative), ct);
        response.EnsureSuccessStatusCode();
        using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct);
        return body.RootElement.GetProperty("token").GetString() ?? throw new InvalidOperationException("grant without a token");
    }

    public async Task CreateRoomAsync(string token, string name, bool temporary, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/api/room/create", UriKind.Relative))
        {
            Content = new StringContent("{\"name\":\"" + name + "\",\"isTemporary\":" + (temporary ? "true" : "false") + "}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request, ct);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"create {name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }
    }

    public async Task<bool> RoomServedAsync(string token, string name, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/room/" + name, UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        // A room that takes longer than this is "not served yet"; the caller polls again until its deadline.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            using var response = await _http.SendAsync(request, timeout.Token);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception e) when (e is OperationCanceledException or HttpRequestException && !ct.IsCancellationRequested)
        {
            return false;
        }
    }

    public async Task<bool> ReadyAsync(CancellationToken ct)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri("/api/status", UriKind.Relative), ct);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    // GET /health/ready: the node reached its store, settled into the live set and finished its
    // restore (docs/architecture.md §10.1).
    public async Task<bool> SettledAsync(CancellationToken ct)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri("/health/ready", UriKind.Relative), ct);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    // Waits until every node answers /health/ready, so each is in the others' live set before a
    // scenario relies on placement or forwarding.
    public static async Task WaitSettledAsync(IReadOnlyList<Uri> nodes, TimeSpan timeout, CancellationToken ct)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (var node in nodes)
        {
            using var api = new OttApi(node);
            while (!await api.SettledAsync(ct))
            {
                if (System.Diagnostics.Stopwatch.GetElapsedTime(started) > timeout)
                {
                    throw new TimeoutException($"{node} did not answer /health/ready within {timeout.TotalSeconds:0} s");
                }
                await Task.Delay(50, ct);
            }
        }
    }

    public void Dispose() => _http.Dispose();
}
