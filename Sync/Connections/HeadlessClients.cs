using System.Collections.Concurrent;
using Ott.Sync.Auth;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;
using Ott.Sync.Rooms;

namespace Ott.Sync.Connections;

/// <summary>
/// Room users without a socket: the test-only API's fake users (docs/protocol.md §4.5). Each joins its room
/// exactly as a socket's client does after <c>auth</c> (registered with this node's gateway room, then a
/// Join on the room's owner), so it is in the user list, can be promoted, demoted and kicked, and is
/// re-joined with this node's other clients. Frames for it are dropped. A close (a kick, an unload) makes
/// it leave as a closed socket does.
/// </summary>
internal sealed partial class HeadlessClients(
    RoomManager rooms, GatewayRooms gateways, IAccountDirectory accounts, NodeIdentity node, ILogger<HeadlessClients> logger)
{
    private readonly ConcurrentDictionary<string, HeadlessClient> _clients = new(StringComparer.Ordinal);

    /// <summary>Joins a user for <paramref name="token"/>'s <paramref name="session"/>; the join's failure, or null.</summary>
    public async Task<OttFailure?> JoinAsync(string room, string token, Session session, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(session);
        var name = session.IsLoggedIn && session.UserId is { } id
            ? await accounts.FindUsernameAsync(id, ct) ?? ""
            : session.Username ?? "";
        var client = new HeadlessClient(this, room, RoomManager.KeyOf(room));
        client.User = new RoomUser(client.ClientId, SessionStore.KeyOf(token), name, session.IsLoggedIn, session.UserId, "none", node.Id);
        // Registered here (and subscribed to the room channel) before the join goes to the owner (docs/architecture.md §5.3).
        await gateways.AddAsync(client.Key, client, ct);
        _clients[client.ClientId] = client;
        OttFailure? failure;
        try
        {
            failure = await rooms.SendAsync(room, new JoinCommand(client.User), ct);
        }
        catch
        {
            await ForgetAsync(client, leave: true);
            throw;
        }
        if (failure is not null)
        {
            await ForgetAsync(client, leave: false);
        }
        return failure;
    }

    // Closed: out of the gateway room, and a Leave to the owner (harmless if the join never landed).
    private async Task ForgetAsync(HeadlessClient client, bool leave)
    {
        _clients.TryRemove(new KeyValuePair<string, HeadlessClient>(client.ClientId, client));
        try
        {
            await gateways.RemoveAsync(client.Key, client);
            if (leave)
            {
                using var leaving = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await rooms.LeaveAsync(client.Room, client.ClientId, leaving.Token);
            }
        }
        catch (Exception e)
        {
            Log.LeaveFailed(logger, e, client.ClientId, client.Room);
        }
    }

    private sealed class HeadlessClient(HeadlessClients owner, string room, string key) : IRoomClient
    {
        private int _closing;

        public string ClientId { get; } = Guid.NewGuid().ToString();

        public string Room => room;

        public string Key => key;

        public RoomUser? User { get; set; }

        public bool IsClosing => Volatile.Read(ref _closing) != 0;

        public void Send(ReadOnlyMemory<byte> frame)
        {
            // Nobody reads it.
        }

        // Called under the gateway room's lock: the leave runs on its own.
        public void Close(int code, string reason)
        {
            if (Interlocked.Exchange(ref _closing, 1) == 0)
            {
                _ = Task.Run(() => owner.ForgetAsync(this, leave: true));
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "Headless client {ClientId} in room {Room}: leaving failed")]
        public static partial void LeaveFailed(ILogger logger, Exception e, string clientId, string room);
    }
}
