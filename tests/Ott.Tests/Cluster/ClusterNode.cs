using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Cluster;

// One node of a multi-node cluster as a child process (design.md §15.2): `dotnet Ott.dll` from the
// test output directory, on an external Redis shared with its siblings, with the fault-test
// timings of §15.3. Launch and the wait for "Now listening on:" are separate so a cluster can
// fork all its nodes within a few milliseconds and only then wait for them (T1).
internal sealed partial class ClusterNode : IAsyncDisposable
{
    public const string ApiKey = "test-api-key";

    private const int SigTerm = 15;
    private const int SigCont = 18;
    private const int SigStop = 19;

    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];
    private HttpClient? _http;

    private ClusterNode(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public static string ServerDll => Path.Combine(AppContext.BaseDirectory, "Ott.dll");

    // The environment every cluster node gets; per-node overrides are applied on top.
    public static IReadOnlyDictionary<string, string> DefaultEnvironment { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Debug__Endpoints"] = "true",
        ["Api__Key"] = ApiKey,
        ["RateLimit__Enabled"] = "false",
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        // Three or more children and the test host share 2 cores; server GC would make them fight (§15.2).
        ["DOTNET_gcServer"] = "0",
        ["Logging__LogLevel__Default"] = "Warning",
        // "Now listening on:" is logged at Information by this category.
        ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
        ["Lease__Ttl"] = "00:00:02",
        ["Lease__RenewInterval"] = "00:00:00.400",
        ["Cluster__HeartbeatInterval"] = "00:00:00.500",
        ["Cluster__NodeTimeout"] = "00:00:01.500",
        ["Lifecycle__DrainTimeout"] = "00:00:05",
    };

    public string Name { get; }

    // The node's own id (Node:Name plus a random suffix), known once WaitReadyAsync has returned.
    public string NodeId { get; private set; } = "";

    public Uri BaseAddress { get; private set; } = null!;

    public int Pid => _process.Id;

    public DateTime LaunchedAt { get; private set; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    // The Redis connection string this node was given (the proxy's, when routed through one).
    public string RedisConnectionString { get; private set; } = "";

    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join("\n", _output);
            }
        }
    }

    // Forks the process and returns at once; await WaitListeningAsync (or use StartAsync).
    public static ClusterNode Launch(string name, string redisConnectionString, string keyPrefix,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        if (!File.Exists(ServerDll))
        {
            throw new InvalidOperationException($"{ServerDll} is missing: the ProjectReference should copy it next to the tests");
        }
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(ServerDll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add("http://127.0.0.1:0");
        foreach (var (key, value) in DefaultEnvironment)
        {
            info.Environment[key] = value;
        }
        info.Environment["ConnectionStrings__Redis"] = redisConnectionString;
        info.Environment["Storage__KeyPrefix"] = keyPrefix;
        info.Environment["Node__Name"] = name;
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(key);
            }
            else
            {
                info.Environment[key] = value;
            }
        }

        var node = new ClusterNode(name, new Process { StartInfo = info, EnableRaisingEvents = true })
        {
            RedisConnectionString = redisConnectionString,
        };
        node._process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        node._process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        node._process.Exited += (_, _) => node._listening.TrySetException(
            new InvalidOperationException($"node {name} exited before listening:\n{node.Output}"));
        node.LaunchedAt = DateTime.UtcNow;
        node._process.Start();
        node._process.BeginOutputReadLine();
        node._process.BeginErrorReadLine();
        return node;
    }

    public static async Task<ClusterNode> StartAsync(string name, string redisConnectionString, string keyPrefix,
        IReadOnlyDictionary<string, string?>? environment, CancellationToken ct)
    {
        var node = Launch(name, redisConnectionString, keyPrefix, environment);
        try
        {
            await node.WaitListeningAsync(ct);
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    public async Task WaitListeningAsync(CancellationToken ct)
    {
        try
        {
            BaseAddress = await _listening.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"node {Name} did not log 'Now listening on:' within 30 s:\n{Output}");
        }
        _http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
    }

    // Polls /health/ready until 200 (store answered, node settled, restore done), then learns the node id.
    public async Task WaitReadyAsync(CancellationToken ct, TimeSpan? timeout = null)
    {
        if (_http is null)
        {
            await WaitListeningAsync(ct);
        }
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        try
        {
            await WaitUntil.WaitUntilAsync(async () =>
            {
                ct.ThrowIfCancellationRequested();
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"node {Name} exited ({_process.ExitCode}) before it was ready:\n{Output}");
                }
                return await IsReadyAsync(ct);
            }, limit, $"node {Name} answers 200 on /health/ready");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\n{Output}", e);
        }
        NodeId = (await OwnershipAsync(ct))["nodeId"]!.GetValue<string>();
    }

    public async Task<bool> IsReadyAsync(CancellationToken ct)
    {
        try
        {
            using var response = await Http.GetAsync("/health/ready", ct);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            // HttpClient's own timeout: the node is busy or stopped.
            return false;
        }
    }

    // GET /debug/ownership: nodeId, liveNodes, clockOffsetMs, draining, rooms[{room, token, epoch, deadlineSeconds, ...}].
    public async Task<JsonObject> OwnershipAsync(CancellationToken ct)
    {
        var text = await Http.GetStringAsync("/debug/ownership", ct);
        return JsonNode.Parse(text)!.AsObject();
    }

    public async Task<IReadOnlyList<string>> LiveNodesAsync(CancellationToken ct) =>
        [.. (await OwnershipAsync(ct))["liveNodes"]!.AsArray().Select(n => n!.GetValue<string>())];

    public HttpClient ApiClient(string? token = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
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

    public async Task<string> GrantAsync(CancellationToken ct)
    {
        var body = JsonNode.Parse(await Http.GetStringAsync("/api/auth/grant", ct))!;
        return body["token"]!.GetValue<string>();
    }

    // A real ClientWebSocket that authenticates (minting a token unless given) and waits for `you`.
    public async Task<OttTestClient> JoinAsync(string room, string? token, CancellationToken ct)
    {
        token ??= await GrantAsync(ct);
        var socket = new ClientWebSocket();
        try
        {
            await socket.ConnectAsync(new Uri(BaseAddress, $"/api/room/{room}").ToWs(), ct);
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

    // SIGKILL: no shutdown code runs; the node's clients see no close frame.
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }
        await _process.WaitForExitAsync();
    }

    // SIGTERM: the host's graceful shutdown (design.md §10.4), awaited to the process's exit.
    public async Task TerminateAsync(CancellationToken ct)
    {
        Signal(SigTerm);
        await _process.WaitForExitAsync(ct);
    }

    // SIGSTOP: the process freezes mid-flight, sockets and leases and all (T4, T8).
    public void Stop() => Signal(SigStop);

    public void Continue() => Signal(SigCont);

    public override string ToString() => $"{Name} ({NodeId}, pid {Pid}, {BaseAddress})";

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                // SIGKILL also ends a stopped process.
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }
        _http?.Dispose();
        _process.Dispose();
    }

    private HttpClient Http => _http ?? throw new InvalidOperationException($"node {Name} is not listening yet");

    private void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.Add(line);
        }
        const string Marker = "Now listening on: ";
        var at = line.IndexOf(Marker, StringComparison.Ordinal);
        if (at >= 0)
        {
            _listening.TrySetResult(new Uri(line[(at + Marker.Length)..].Trim()));
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
