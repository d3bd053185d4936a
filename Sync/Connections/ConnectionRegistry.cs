using System.Collections.Concurrent;
using Ott.Sync.Auth;
using Ott.Sync.Cluster;
using Ott.Sync.Protocol;

namespace Ott.Sync.Connections;

/// <summary>
/// Every socket on this node, joined or not: announcements and session changes reach them all, a node cut
/// off from its store closes them with 1012, and a drain closes them with 1001. The drain token that ends
/// every socket at shutdown is deliberately not linked to ApplicationStopping (docs/architecture.md §12).
/// </summary>
internal sealed partial class ConnectionRegistry(NodeBus bus, TimeProvider time, ILogger<ConnectionRegistry> logger)
    : ISessionChangeListener, IDisposable
{
    private readonly ConcurrentDictionary<string, ClientSession> _sessions = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _drain = new();

    public CancellationToken DrainToken => _drain.Token;

    public int Count => _sessions.Count;

    public IEnumerable<ClientSession> Sessions => _sessions.Values;

    public void Register(ClientSession session) => _sessions[session.ClientId] = session;

    public void Unregister(ClientSession session) =>
        _sessions.TryRemove(new KeyValuePair<string, ClientSession>(session.ClientId, session));

    /// <summary>Sends an announcement to every socket on every node, joined or not (docs/protocol.md §1.5).</summary>
    public void Announce(string text)
    {
        bus.PublishCluster(new BusHeader(BusType.Announcement), w =>
        {
            w.WriteStartObject();
            w.WriteString("text", text);
            w.WriteEndObject();
        });
        AnnounceLocally(text);
    }

    public void AnnounceLocally(string text)
    {
        var frame = FrameWriter.Write(new AnnouncementFrame(text));
        foreach (var session in _sessions.Values)
        {
            session.Send(frame);
        }
    }

    /// <summary>Every connection using the session, on every node, re-reads it and refreshes its room user (docs/protocol.md §3.3).</summary>
    public async Task SessionChangedAsync(string sessionKey, CancellationToken ct)
    {
        bus.PublishCluster(new BusHeader(BusType.UserChanged), w =>
        {
            w.WriteStartObject();
            w.WriteString("sessionKey", sessionKey);
            w.WriteEndObject();
        });
        await RefreshSessionAsync(sessionKey, ct);
    }

    public async Task RefreshSessionAsync(string sessionKey, CancellationToken ct)
    {
        try
        {
            var refreshes = _sessions.Values.Where(c => c.SessionKey == sessionKey).Select(c => c.RefreshUserAsync(ct));
            await Task.WhenAll(refreshes);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.RefreshFailed(logger, e);
        }
    }

    public void CloseAll(int code, string reason)
    {
        foreach (var session in _sessions.Values)
        {
            session.Close(code, reason);
        }
    }

    /// <summary>§10.4 step 3: closes every direct socket with 1001 and waits (bounded) for them to go.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        CloseAll(1001, "Server shutting down");
        var started = time.GetTimestamp();
        while (!_sessions.IsEmpty && time.GetElapsedTime(started) < timeout)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), time);
        }
        await _drain.CancelAsync();
    }

    public void Dispose() => _drain.Dispose();

    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "Refreshing a session's connections failed")]
        public static partial void RefreshFailed(ILogger logger, Exception e);
    }
}
