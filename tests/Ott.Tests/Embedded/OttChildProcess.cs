using System.Diagnostics;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Ott.Tests.Infrastructure;

namespace Ott.Tests.Embedded;

/// <summary>
/// The built server as a child process (design.md §15.2): <c>dotnet Ott.dll</c> from the test's output
/// directory, where the ProjectReference copies it, with embedded storage in <paramref name="dataDir"/>.
/// </summary>
internal sealed partial class OttChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];

    private OttChildProcess(Process process) => _process = process;

    public Uri BaseAddress { get; private set; } = null!;

    public int Pid => _process.Id;

    public static string ServerDll => Path.Combine(AppContext.BaseDirectory, "Ott.dll");

    public static async Task<OttChildProcess> StartAsync(string dataDir, CancellationToken ct)
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
        info.Environment["Storage__DataDir"] = dataDir;
        info.Environment["ConnectionStrings__Redis"] = "";
        info.Environment["DOTNET_gcServer"] = "0";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        info.Environment["RateLimit__Enabled"] = "false";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";

        var node = new OttChildProcess(new Process { StartInfo = info, EnableRaisingEvents = true });
        node._process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        node._process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        node._process.Exited += (_, _) => node._listening.TrySetException(new InvalidOperationException($"the server exited:\n{node.Output}"));
        node._process.Start();
        node._process.BeginOutputReadLine();
        node._process.BeginErrorReadLine();
        node.BaseAddress = await node._listening.Task.WaitAsync(ct);
        return node;
    }

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

    public HttpClient ApiClient(string? token = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    public async Task<string> GrantAsync(CancellationToken ct)
    {
        using var client = ApiClient();
        return JsonNode.Parse(await client.GetStringAsync("/api/auth/grant", ct))!["token"]!.GetValue<string>();
    }

    /// <summary>A real <see cref="ClientWebSocket"/> that authenticates and waits for <c>you</c>.</summary>
    public async Task<OttTestClient> JoinAsync(string room, string token, CancellationToken ct)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(BaseAddress, $"/api/room/{room}").ToWs(), ct);
        var client = new OttTestClient(socket) { Token = token };
        await client.SendAsync(new JsonObject { ["action"] = "auth", ["token"] = token }, ct);
        var you = await client.WaitForAsync(m => m.Action() == "you", ct: ct);
        client.ClientId = you["info"]!["id"]!.GetValue<string>();
        return client;
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM: the host's graceful shutdown (design.md §10.4).</summary>
    public async Task TerminateAsync(CancellationToken ct)
    {
        if (Kill(_process.Id, 15) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }
        await _process.WaitForExitAsync(ct);
    }

    public int ExitCode => _process.ExitCode;

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
