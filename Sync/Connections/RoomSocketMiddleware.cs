using System.Net.WebSockets;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Ott.Sync.Auth;
using Ott.Sync.Cluster;
using Ott.Sync.Limits;
using Ott.Sync.Rooms;
using Ott.Sync.Telemetry;

namespace Ott.Sync.Connections;

/// <summary>
/// Accepts every WebSocket upgrade on any path (docs/protocol.md §1.1): OTT reports a bad path or room name
/// with a close code after accepting, and the REST <c>GET /api/room/{name}</c> shares the socket's path.
/// Other requests pass on.
/// </summary>
internal sealed partial class RoomSocketMiddleware(
    RequestDelegate next,
    RoomManager rooms,
    ApiAuthenticator auth,
    IAccountDirectory accounts,
    ConnectionRegistry registry,
    GatewayRooms gateways,
    NodeIdentity node,
    IOptions<ConnectionsOptions> options,
    IOptions<HttpOptions> http,
    TimeProvider time,
    OttMetrics metrics,
    StallWatch stalls,
    DriftBoard drift,
    ILogger<ClientSession> logger)
{
    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    public static partial Regex RoomName();

    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await next(context);
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            KeepAliveInterval = options.Value.KeepAliveInterval,
            KeepAliveTimeout = options.Value.KeepAliveTimeout,
        });
        if (rooms.IsDraining)
        {
            await CloseAsync(socket, 1001, "Server shutting down");
            return;
        }
        var path = context.Request.PathBase.Add(context.Request.Path).Value ?? "";
        var basePath = http.Value.BasePath;
        if (basePath.Length > 0 && path.StartsWith(basePath, StringComparison.Ordinal))
        {
            path = path[basePath.Length..];
        }
        if (!path.StartsWith("/api/room/", StringComparison.Ordinal))
        {
            await CloseAsync(socket, 4001, "Invalid connection url");
            return;
        }
        var room = path.Split('/')[3];
        if (!RoomName().IsMatch(room))
        {
            await CloseAsync(socket, 4001, "Invalid room name");
            return;
        }
        using var transport = new SocketTransport(socket, options.Value, time, metrics, logger, () => stalls.InGrace);
        var session = new ClientSession(transport, room, rooms, auth, accounts, registry, gateways, node, options.Value, time, logger, metrics, stalls, drift)
        {
            // No address (an in-process test host) is no address, not the shared "unknown" an IP ban would match for all.
            Ip = context.Connection.RemoteIpAddress is null ? null : Limits.ClientIp.Of(context),
        };
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, registry.DrainToken);
        await session.RunAsync(lifetime.Token);
    }

    private static async Task CloseAsync(WebSocket socket, int code, string reason)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await socket.CloseAsync((WebSocketCloseStatus)code, reason, timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            socket.Abort();
        }
    }
}
