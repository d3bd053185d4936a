using System.Net;
using System.Net.Sockets;

namespace Ott.Testing;

public static class LoopbackPort
{
    // A port that was free a moment ago: another process may still take it before the caller binds.
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
