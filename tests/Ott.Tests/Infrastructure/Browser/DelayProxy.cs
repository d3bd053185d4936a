using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Ott.Tests.Infrastructure.Browser;

/// <summary>
/// A loopback TCP proxy that holds every chunk for a fixed time in each direction, as a long network path
/// would: each chunk is forwarded <see cref="UpMs"/> (client to server) or <see cref="DownMs"/> (server to
/// client) after it was read, in order, so the delay adds latency without throttling the stream.
/// </summary>
internal sealed class DelayProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _open = [];
    private readonly Task _accepting;

    public DelayProxy(int targetPort, int upMs, int downMs)
    {
        _targetPort = targetPort;
        UpMs = upMs;
        DownMs = downMs;
        _listener.Start();
        _accepting = AcceptLoopAsync();
    }

    // Read per chunk, so a change applies to the chunks read after it.
    public int UpMs { get; set; }

    public int DownMs { get; set; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var server = new TcpClient { NoDelay = true };
        client.NoDelay = true;
        lock (_open)
        {
            _open.Add(client);
            _open.Add(server);
        }
        try
        {
            await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            await Task.WhenAll(
                PumpAsync(client.GetStream(), server.GetStream(), () => UpMs),
                PumpAsync(server.GetStream(), client.GetStream(), () => DownMs));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            client.Dispose();
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, Func<int> delayMs)
    {
        var chunks = Channel.CreateUnbounded<(long Due, byte[] Bytes)>(new() { SingleReader = true, SingleWriter = true });
        var writing = Task.Run(async () =>
        {
            try
            {
                await foreach (var (due, bytes) in chunks.Reader.ReadAllAsync(_stop.Token))
                {
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, _stop.Token);
                    }
                    await to.WriteAsync(bytes, _stop.Token);
                }
            }
            finally
            {
                to.Socket.Shutdown(SocketShutdown.Send);
            }
        });
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, _stop.Token);
                if (read == 0)
                {
                    break;
                }
                var due = Stopwatch.GetTimestamp() + delayMs() * Stopwatch.Frequency / 1000;
                chunks.Writer.TryWrite((due, buffer[..read]));
            }
        }
        finally
        {
            chunks.Writer.TryComplete();
            await writing;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_open)
        {
            foreach (var c in _open)
            {
                c.Dispose();
            }
        }
        await _accepting;
        _stop.Dispose();
    }
}
