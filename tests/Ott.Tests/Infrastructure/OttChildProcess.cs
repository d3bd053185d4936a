using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Ott.Testing;

namespace Ott.Tests.Infrastructure;

// The built server as a child process (docs/architecture.md §15.2): `dotnet Ott.dll` from the test output
// directory, where the ProjectReference copies it, run by the shared OttProcess harness. Cluster
// nodes (ClusterNode) and the embedded children below start it the same way, and talk to it with
// the same few calls.
internal static class OttChildProcess
{
    public static string ServerDll => Path.Combine(AppContext.BaseDirectory, "Ott.dll");

    // What every child gets; a cluster node adds its Redis, prefix, name and fast-settling timings.
    public static IReadOnlyDictionary<string, string> BaseEnvironment { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["RateLimit__Enabled"] = "false",
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        // Three or more children and the test host share 2 cores; server GC would make them fight (§15.2).
        ["DOTNET_gcServer"] = "0",
        ["Logging__LogLevel__Default"] = "Warning",
        // No ffprobe, as in OttApplication: a direct URL is accepted with an unknown length without
        // touching the network, so the tests' made-up URLs are never fetched (a media test that wants
        // ffprobe sets its path again).
        ["Media__Ffprobe__Path"] = "",
    };

    // Forks Ott.dll on 127.0.0.1:0 with BaseEnvironment under `environment` and returns at once.
    public static OttProcess Launch(IReadOnlyDictionary<string, string?> environment, string name) =>
        OttProcess.Launch(ServerDll, Merged(environment), name: name, workingDirectory: AppContext.BaseDirectory);

    // An embedded server (no connection string) on dataDir, returned once it listens.
    public static Task<OttProcess> StartAsync(string dataDir, CancellationToken ct) =>
        OttProcess.StartAsync(ServerDll, Merged(new Dictionary<string, string?>
        {
            ["Storage__DataDir"] = dataDir,
            ["ConnectionStrings__Redis"] = "",
        }), ct, name: "embedded", workingDirectory: AppContext.BaseDirectory);

    public static HttpClient ApiClient(this OttProcess process, string? token = null)
    {
        var client = new HttpClient { BaseAddress = process.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    public static async Task<string> GrantAsync(this OttProcess process, CancellationToken ct)
    {
        var body = JsonNode.Parse(await process.Http.GetStringAsync(new Uri("/api/auth/grant", UriKind.Relative), ct))!;
        return body["token"]!.GetValue<string>();
    }

    // A real ClientWebSocket that authenticates (minting a token unless given) and waits for `you`.
    public static async Task<OttTestClient> JoinAsync(this OttProcess process, string room, string? token, CancellationToken ct) =>
        await JoinAsync(process.BaseAddress, room, token ?? await process.GrantAsync(ct), ct);

    // The same through any address that reaches a node (a load balancer in front of several, say).
    public static async Task<OttTestClient> JoinAsync(Uri baseAddress, string room, string token, CancellationToken ct)
    {
        var socket = new ClientWebSocket();
        try
        {
            await socket.ConnectAsync(new Uri(baseAddress, $"/api/room/{room}").ToWs(), ct);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var client = new OttTestClient(socket) { Token = token };
        try
        {
            await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = token }, ct);
            var you = await client.WaitForAsync(m => m.Action() == "you", ct: ct);
            client.ClientId = you["info"]!["id"]!.GetValue<string>();
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    private static Dictionary<string, string?> Merged(IReadOnlyDictionary<string, string?> environment)
    {
        var merged = BaseEnvironment.ToDictionary(e => e.Key, string? (e) => e.Value, StringComparer.Ordinal);
        foreach (var (key, value) in environment)
        {
            merged[key] = value;
        }
        return merged;
    }
}
