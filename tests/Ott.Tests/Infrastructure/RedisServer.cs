using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Ott.Testing;
using StackExchange.Redis;

namespace Ott.Tests.Infrastructure;

// The shared Redis of docs/architecture.md §15.2: OTT_TEST_REDIS (host:port, exported by .ci/run) when set,
// otherwise a redis-server this fixture starts on a free port. Fault tests call StartPrivateAsync
// for a server of their own that they may stall, pause or shut down.
public sealed class RedisServer : IAsyncLifetime
{
    private const string Missing = "redis-server was not found on PATH: install redis-server (or run bash .ci/run)";

    private Process? _process;
    private string? _binary;
    private int _port;
    private string[] _extraArgs = [];

    public string Endpoint { get; private set; } = "";

    // What a test passes as ConnectionStrings:Redis.
    public string ConnectionString => $"{Endpoint},abortConnect=false";

    public bool IsPrivate => _process is not null;

    // A server (or a Redis Cluster: endpoints separated by commas) that someone else runs; left running on dispose.
    public static RedisServer Existing(string endpoint) => new() { Endpoint = endpoint };

    public static async Task<RedisServer> StartPrivateAsync(params string[] extraArgs)
    {
        var server = new RedisServer();
        await server.StartProcessAsync(extraArgs);
        return server;
    }

    public async Task InitializeAsync()
    {
        var shared = Environment.GetEnvironmentVariable("OTT_TEST_REDIS");
        if (!string.IsNullOrWhiteSpace(shared))
        {
            Endpoint = shared.Trim();
            return;
        }

        await StartProcessAsync([]);
    }

    public Task<ConnectionMultiplexer> ConnectAsync(bool allowAdmin = false)
    {
        var options = ConfigurationOptions.Parse(ConnectionString);
        options.AllowAdmin = allowAdmin;
        return ConnectionMultiplexer.ConnectAsync(options);
    }

    // T10 (docs/architecture.md §15.3): SHUTDOWN NOSAVE, then the same redis-server binary, port and
    // arguments again (so an "--appendonly yes" server with its own "--dir" reloads its AOF, and
    // one without persistence comes back empty). Clients reconnect to the same endpoint.
    public async Task RestartAsync(TimeSpan? downFor = null)
    {
        await ShutdownAsync();
        if (downFor is { } pause)
        {
            await Task.Delay(pause);
        }
        await StartAgainAsync();
    }

    // SHUTDOWN NOSAVE on a private server, waiting for the process to exit (killed if it does not).
    public async Task ShutdownAsync()
    {
        var process = _process ?? throw new InvalidOperationException("only a private redis-server can be shut down");
        if (!process.HasExited)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, _port);
                var stream = client.GetStream();
                await stream.WriteAsync("*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n"u8.ToArray());
                await stream.FlushAsync();
                // The server closes the connection as it exits; nothing is read.
            }
            catch (SocketException)
            {
            }
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
        }
    }

    // Starts a shut-down private server again on its port, with its arguments and, for this start only,
    // extraArgs (e.g. "--key-load-delay", "1000": a slow load, answered LOADING meanwhile).
    public async Task StartAgainAsync(params string[] extraArgs)
    {
        var old = _process ?? throw new InvalidOperationException("only a private redis-server can be started again");
        if (!old.HasExited)
        {
            throw new InvalidOperationException("redis-server is still running; call ShutdownAsync first");
        }
        old.Dispose();
        _process = null;
        // The port was just released; a client's reconnect cannot take a listening port, so only a
        // lingering bind can fail, and that is retried.
        await WaitUntil.WaitUntilAsync(async () =>
        {
            var process = Launch(_binary!, _port, [.. _extraArgs, .. extraArgs]);
            await WaitUntil.WaitUntilAsync(
                async () => process.HasExited || await AcceptsAsync(_port),
                TimeSpan.FromSeconds(10),
                $"redis-server accepts connections on port {_port} again");
            if (process.HasExited)
            {
                process.Dispose();
                return false;
            }
            _process = process;
            return true;
        }, TimeSpan.FromSeconds(10), $"redis-server starts again on port {_port}");
    }

    public async Task DisposeAsync()
    {
        if (_process is { } process)
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }

            process.Dispose();
            _process = null;
        }
    }

    private async Task StartProcessAsync(string[] extraArgs)
    {
        var binary = FindOnPath("redis-server") ?? throw new InvalidOperationException(Missing);
        // The port is free when probed but may be taken before redis-server binds; one retry.
        for (var attempt = 1; ; attempt++)
        {
            var port = LoopbackPort.Free();
            var process = Launch(binary, port, extraArgs);
            try
            {
                await WaitUntil.WaitUntilAsync(
                    async () => process.HasExited || await AcceptsAsync(port),
                    TimeSpan.FromSeconds(10),
                    $"redis-server accepts connections on port {port}");
            }
            catch
            {
                process.Kill();
                process.Dispose();
                throw;
            }

            if (!process.HasExited)
            {
                _process = process;
                _binary = binary;
                _port = port;
                _extraArgs = extraArgs;
                Endpoint = $"127.0.0.1:{port}";
                return;
            }

            process.Dispose();
            if (attempt > 1)
            {
                throw new InvalidOperationException($"redis-server exited at start on port {port}");
            }
        }
    }

    private static Process Launch(string binary, int port, string[] extraArgs)
    {
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["--bind", "127.0.0.1", "--port", port.ToString(), "--save", "", "--appendonly", "no", "--enable-debug-command", "local", .. extraArgs])
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    // One command on a plain socket of its own, its reply as text (an ASCII bulk or simple string, or an integer).
    // For reading a server that answers LOADING (INFO, CLIENT LIST are allowed while it loads) without the
    // client library, which drops a connection that meets LOADING and reconnects.
    public async Task<string> RawCommandAsync(params string[] args)
    {
        var endpoint = IPEndPoint.Parse(Endpoint);
        using var client = new TcpClient();
        await client.ConnectAsync(endpoint.Address, endpoint.Port);
        var stream = client.GetStream();
        var request = new System.Text.StringBuilder($"*{args.Length}\r\n");
        foreach (var arg in args)
        {
            request.Append(System.Globalization.CultureInfo.InvariantCulture, $"${System.Text.Encoding.UTF8.GetByteCount(arg)}\r\n{arg}\r\n");
        }
        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(request.ToString()));
        using var reader = new StreamReader(stream, System.Text.Encoding.UTF8);
        var first = await reader.ReadLineAsync() ?? throw new IOException("no reply");
        switch (first[0])
        {
            case '+' or ':':
                return first[1..];
            case '$':
                var length = int.Parse(first.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    return "";
                }
                var body = new char[length];
                var read = 0;
                while (read < length)
                {
                    var n = await reader.ReadAsync(body.AsMemory(read));
                    if (n == 0)
                    {
                        throw new IOException("reply cut short");
                    }
                    read += n;
                }
                return new string(body);
            default:
                throw new InvalidOperationException($"{string.Join(' ', args)}: {first}");
        }
    }

    private static async Task<bool> AcceptsAsync(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
