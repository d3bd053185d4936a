namespace Ott.Sync.Rooms;

/// <summary>A local connection as the room sees it: a bounded outbox and a way to close it.</summary>
public interface IRoomClient
{
    string ClientId { get; }

    /// <summary>Queues a serialised frame; never blocks. A full outbox closes the client (slow consumer).</summary>
    void Send(ReadOnlyMemory<byte> frame);

    void Close(int code, string reason);
}
