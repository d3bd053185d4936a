using System.Collections.Concurrent;
using Ott.Sync.Auth;
using Ott.Sync.Protocol;

namespace Ott.Sync.Connections;

/// <summary>
/// Every local socket (design.md §4): announcements, session refreshes and the drain token that
/// closes them all at shutdown. It is deliberately not linked to ApplicationStopping (§12).
/// </summary>
internal sealed class ClientManager(TimeProvider time) : ISessionChangeListener, IDisposable
{
    private readonly ConcurrentDictionary<string, RoomConnection> _connections = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _drain = new();

    public CancellationToken DrainToken => _drain.Token;

    public int Count => _connections.Count;

    public IEnumerable<RoomConnection> Connections => _connections.Values;

    public void Register(RoomConnection connection) => _connections[connection.ClientId] = connection;

    public void Unregister(RoomConnection connection) =>
        _connections.TryRemove(new KeyValuePair<string, RoomConnection>(connection.ClientId, connection));

    /// <summary>Sends an announcement to every local connection, joined or not (protocol.md §1.5).</summary>
    public void Announce(string text)
    {
        var frame = FrameWriter.Write(new AnnouncementFrame(text), time.GetUtcNow());
        foreach (var connection in _connections.Values)
        {
            connection.Send(frame);
        }
    }

    /// <summary>Every connection using the session re-reads it and refreshes its room user (protocol.md §3.3).</summary>
    public async Task SessionChangedAsync(string sessionKey, CancellationToken ct)
    {
        var refreshes = _connections.Values.Where(c => c.SessionKey == sessionKey).Select(c => c.RefreshUserAsync(ct));
        await Task.WhenAll(refreshes);
    }

    /// <summary>§10.4 step 3: closes every direct socket with 1001.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        foreach (var connection in _connections.Values)
        {
            connection.Close(1001, "Server shutting down");
        }
        var deadline = time.GetTimestamp();
        while (!_connections.IsEmpty && time.GetElapsedTime(deadline) < timeout)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), time);
        }
        await _drain.CancelAsync();
    }

    public void Dispose() => _drain.Dispose();
}
