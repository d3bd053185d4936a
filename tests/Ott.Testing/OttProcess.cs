using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Ott.Testing;

// A built ASP.NET Core server (Ott.dll, or the bench's baseline) as a child process (docs/architecture.md
// §15.2): `dotnet <dll> --urls <url>` with the given environment, stdout and stderr captured line
// by line, and every signal sent through one libc kill. The tests' cluster nodes and embedded
// children and the bench's local servers are all this class. Launch and the wait for
// "Now listening on:" are separate so a caller can fork several processes within a few
// milliseconds and only then wait for them (T1).
public sealed partial class OttProcess : IAsyncDisposable
{
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private const int SigCont = 18;
    private const int SigStop = 19;
    private const int NoSuchProcess = 3;
    private const string ListeningMarker = "Now listening on: ";
    private const string ReadyPath = "/health/ready";
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
    // Bounds what a long bench run keeps; a test's whole output is far smaller.
    private const int MaxOutputLines = 100_000;

    private readonly string _dll;
    private readonly Dictionary<string, string?> _environment;
    private readonly string? _workingDirectory;
    private readonly Queue<string> _output = new();
    private Process _process = null!;
    private TaskCompletionSource<Uri> _listening = null!;
    private Uri _url;
    private Uri? _baseAddress;
    private HttpClient? _http;
    private int _droppedLines;
    private volatile bool _addressInUse;

    private OttProcess(string dll, IReadOnlyDictionary<string, string?>? environment, Uri? url, string? name, string? workingDirectory)
    {
        _dll = Path.GetFullPath(dll);
        if (!File.Exists(_dll))
        {
            throw new FileNotFoundException($"{_dll} is missing: build it first (the tests' ProjectReference copies Ott.dll next to them)", _dll);
        }
        _environment = new Dictionary<string, string?>(environment ?? new Dictionary<string, string?>(), StringComparer.Ordinal);
        _url = url ?? new Uri("http://127.0.0.1:0");
        _workingDirectory = workingDirectory;
        Name = name ?? Path.GetFileNameWithoutExtension(_dll);
    }

    public string Name { get; }

    // Known once WaitListeningAsync has returned: the address from the "Now listening on:" line.
    public Uri BaseAddress => _baseAddress ?? throw new InvalidOperationException($"{Name} is not listening yet");

    public bool IsListening => _baseAddress is not null;

    // A client on BaseAddress with a 10 s timeout, owned by this process (do not dispose it).
    public HttpClient Http => _http ?? throw new InvalidOperationException($"{Name} is not listening yet");

    public int Pid => _process.Id;

    public DateTime LaunchedAt { get; private set; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    // stdout and stderr interleaved as the lines arrived, across restarts.
    public string Output
    {
        get
        {
            lock (_output)
            {
                var text = string.Join("\n", _output);
                return _droppedLines == 0 ? text : $"[{_droppedLines} earlier lines dropped]\n{text}";
            }
        }
    }

    // Forks `dotnet <dll> --urls <url>` (http://127.0.0.1:0 unless given) and returns at once. A null
    // environment value removes a variable the child would otherwise inherit.
    public static OttProcess Launch(string dll, IReadOnlyDictionary<string, string?>? environment = null, Uri? url = null,
        string? name = null, string? workingDirectory = null)
    {
        var process = new OttProcess(dll, environment, url, name, workingDirectory);
        process.Spawn();
        return process;
    }

    // Launch, then wait for the listening line; the process is killed if it never listens.
    public static async Task<OttProcess> StartAsync(string dll, IReadOnlyDictionary<string, string?>? environment, CancellationToken ct,
        Uri? url = null, string? name = null, string? workingDirectory = null)
    {
        var process = Launch(dll, environment, url, name, workingDirectory);
        try
        {
            await process.WaitListeningAsync(ct);
            return process;
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    public Task<Uri> WaitListeningAsync(CancellationToken ct) => WaitListeningAsync(DefaultTimeout, ct);

    public async Task<Uri> WaitListeningAsync(TimeSpan timeout, CancellationToken ct)
    {
        Uri address;
        try
        {
            address = await _listening.Task.WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} did not log '{ListeningMarker.Trim()}' within {timeout.TotalSeconds:0.#} s:\n{Output}");
        }
        catch (InvalidOperationException) when (HasExited)
        {
            // The Exited event can precede the last lines; the wait for exit reads the pipes to their end.
            await _process.WaitForExitAsync(CancellationToken.None);
            throw new InvalidOperationException($"{Name} exited ({ExitCode}) before it listened:\n{Output}");
        }
        if (_http is null || _baseAddress != address)
        {
            _http?.Dispose();
            _http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
        }
        _baseAddress = address;
        return address;
    }

    // Waits for the listening line, then polls `path` until it answers 2xx: Ott's /health/ready means
    // the store answered, the node settled and its restore is done.
    public Task WaitReadyAsync(CancellationToken ct) => WaitReadyAsync(ReadyPath, DefaultTimeout, ct);

    // The listening wait has its own 30 s; `timeout` bounds the polling after it.
    public async Task WaitReadyAsync(string path, TimeSpan timeout, CancellationToken ct)
    {
        await WaitListeningAsync(ct);
        var started = Stopwatch.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (HasExited)
            {
                throw new InvalidOperationException($"{Name} exited ({ExitCode}) before it answered on {path}:\n{Output}");
            }
            if (await IsReadyAsync(path, ct))
            {
                return;
            }
            if (Stopwatch.GetElapsedTime(started) >= timeout)
            {
                throw new TimeoutException($"{Name} did not answer 2xx on {path} within {timeout.TotalSeconds:0.#} s:\n{Output}");
            }
            await Task.Delay(delay, ct);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 100));
        }
    }

    public Task<bool> IsReadyAsync(CancellationToken ct) => IsReadyAsync(ReadyPath, ct);

    public async Task<bool> IsReadyAsync(string path, CancellationToken ct)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri(path, UriKind.Relative), ct);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            // HttpClient's own timeout: the process is busy or stopped.
            return false;
        }
    }

    // SIGKILL: no shutdown code runs; clients see no close frame. Also ends a stopped process.
    public async Task KillAsync()
    {
        if (!HasExited)
        {
            Signal(SigKill, exitedIsFine: true);
        }
        await _process.WaitForExitAsync();
    }

    // SIGTERM: the host's graceful shutdown (docs/architecture.md §10.4), awaited to the process's exit.
    public async Task TerminateAsync(CancellationToken ct)
    {
        if (!HasExited)
        {
            Signal(SigTerm);
        }
        await _process.WaitForExitAsync(ct);
    }

    // SIGTERM, and SIGKILL for a process still running killAfter later.
    public async Task TerminateAsync(TimeSpan killAfter, CancellationToken ct)
    {
        if (HasExited)
        {
            return;
        }
        Signal(SigTerm);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(killAfter);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await KillAsync();
        }
    }

    // SIGSTOP: the process freezes mid-flight, sockets and leases and all (T4, T8).
    public void Stop() => Signal(SigStop);

    public void Continue() => Signal(SigCont);

    // Kills the process if it still runs and starts the same dll with the same environment on the
    // port it listened on (the one it was given, or the one it picked for :0), then
    // waits for the listening line. A bind that fails because the port is not yet released is retried.
    public async Task RestartAsync(CancellationToken ct)
    {
        if (_baseAddress is { } address)
        {
            _url = new Uri(address.GetLeftPart(UriPartial.Authority));
        }
        await KillAsync();
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            _process.Dispose();
            AddLine($"----- {Name} restarted on {_url}");
            Spawn();
            try
            {
                await WaitListeningAsync(ct);
                return;
            }
            catch (InvalidOperationException) when (_addressInUse && Stopwatch.GetElapsedTime(started) < DefaultTimeout)
            {
                await Task.Delay(100, ct);
            }
        }
    }

    public override string ToString() => $"{Name} (pid {Pid}, {_baseAddress?.ToString() ?? "not listening"})";

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!HasExited)
            {
                await KillAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }
        _http?.Dispose();
        _process.Dispose();
    }

    private void Spawn()
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (_workingDirectory is not null)
        {
            info.WorkingDirectory = _workingDirectory;
        }
        info.ArgumentList.Add(_dll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(_url.GetLeftPart(UriPartial.Authority));
        // The listening line is logged at Information by this category, whatever the default level.
        info.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        foreach (var (key, value) in _environment)
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

        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnLine(e.Data, listening);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data, listening);
        // WaitListeningAsync turns this into a message with the whole output.
        process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException($"{Name} exited before it listened"));
        _process = process;
        _listening = listening;
        _addressInUse = false;
        LaunchedAt = DateTime.UtcNow;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    private void OnLine(string? line, TaskCompletionSource<Uri> listening)
    {
        if (line is null)
        {
            return;
        }
        AddLine(line);
        if (listening == _listening && line.Contains("address already in use", StringComparison.Ordinal))
        {
            _addressInUse = true;
        }
        var at = line.IndexOf(ListeningMarker, StringComparison.Ordinal);
        if (at >= 0)
        {
            listening.TrySetResult(new Uri(line[(at + ListeningMarker.Length)..].Trim()));
        }
    }

    private void AddLine(string line)
    {
        lock (_output)
        {
            _output.Enqueue(line);
            if (_output.Count > MaxOutputLines)
            {
                _output.Dequeue();
                _droppedLines++;
            }
        }
    }

    private void Signal(int signal, bool exitedIsFine = false)
    {
        if (Kill(Pid, signal) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (exitedIsFine && errno == NoSuchProcess)
            {
                return;
            }
            throw new InvalidOperationException($"kill({Pid}, {signal}) failed: errno {errno}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
