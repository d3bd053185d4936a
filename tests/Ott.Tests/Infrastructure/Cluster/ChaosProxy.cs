using System.Net;
using System.Net.Sockets;

namespace Ott.Tests.Infrastructure.Cluster;

// A TCP proxy between one node and Redis (docs/architecture.md §15.2), so a test can cut that node off
// without root, iptables or Docker. Cut() resets every open connection both ways and resets new
// ones on accept until Heal(); the listener stays bound, so the node's address never changes.
internal sealed class ChaosProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _upstream;
    private readonly HashSet<Pipe> _pipes = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;
    private bool _cut;

    public ChaosProxy(IPEndPoint upstream)
    {
        _upstream = upstream;
        _listener.Start();
        _accepting = AcceptLoopAsync();
    }

    // "127.0.0.1:6379" as RedisServer.Endpoint spells it.
    public ChaosProxy(string upstreamEndpoint) : this(IPEndPoint.Parse(upstreamEndpoint))
    {
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Endpoint => $"127.0.0.1:{Port}";

    // What a node gets as ConnectionStrings:Redis instead of the server's own.
    public string ConnectionString => $"{Endpoint},abortConnect=false";

    public bool IsCut
    {
        get
        {
            lock (_pipes)
            {
                return _cut;
            }
        }
    }

    public int OpenConnections
    {
        get
        {
            lock (_pipes)
            {
                return _pipes.Count;
            }
        }
    }

    public void Cut()
    {
        Pipe[] open;
        lock (_pipes)
        {
            _cut = true;
            open = [.. _pipes];
            _pipes.Clear();
        }
        foreach (var pipe in open)
        {
            pipe.Reset();
        }
    }

    public void Heal()
    {
        lock (_pipes)
        {
            _cut = false;
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _listener.Stop();
        Cut();
        // The accept loop ends on the listener's stop; it never throws.
        _accepting.GetAwaiter().GetResult();
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                // Off the test's synchronisation context, so Dispose may block on this loop.
                client = await _listener.AcceptSocketAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = ConnectAsync(client);
        }
    }

    // Per connection: dial Redis, then pump both ways until either side ends or Cut() resets it.
    private async Task ConnectAsync(Socket client)
    {
        var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var pipe = new Pipe(client, upstream);
        try
        {
            if (IsCut)
            {
                pipe.Reset();
                return;
            }
            await upstream.ConnectAsync(_upstream, _stopping.Token);
            lock (_pipes)
            {
                // A Cut() that ran while dialling must also reset this one.
                if (_cut)
                {
                    pipe.Reset();
                    return;
                }
                _pipes.Add(pipe);
            }
            await Task.WhenAny(PumpAsync(client, upstream), PumpAsync(upstream, client));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        lock (_pipes)
        {
            _pipes.Remove(pipe);
        }
        pipe.Reset();
    }

    private static async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (read == 0)
                {
                    return;
                }
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    private sealed class Pipe(Socket client, Socket upstream)
    {
        // Linger 0 makes Close send RST: both ends see the connection fail at once, as on a
        // broken link, instead of an orderly FIN that Redis might read as a client quitting.
        public void Reset()
        {
            Abort(client);
            Abort(upstream);
        }

        private static void Abort(Socket socket)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
            socket.Dispose();
        }
    }
}
