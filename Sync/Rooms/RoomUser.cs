using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

/// <summary>One authenticated connection in a room (protocol.md §2 RoomUserInfo, before its role is derived).</summary>
public sealed record RoomUser(
    string ClientId,
    string SessionKey,
    string Name,
    bool IsLoggedIn,
    long? AccountId,
    string Status,
    string GatewayNodeId)
{
    public RoomUserInfo Info(RoomState state) => new(ClientId, Name, IsLoggedIn, Status, RoomRoles.RoleOf(state, IsLoggedIn, AccountId));
}

/// <summary>An event kept for undo (protocol.md §6.7): the room's own record of what happened.</summary>
public sealed record RecordedEvent(
    string Id,
    int Type,
    QueueItem? Video,
    IReadOnlyList<QueueItem>? Videos,
    double? PrevPosition,
    int? QueueIdx,
    bool Undone);

public static class RoomRoles
{
    /// <summary>protocol.md §7.4: the first match wins.</summary>
    public static Role RoleOf(RoomState state, bool isLoggedIn, long? accountId)
    {
        if (!isLoggedIn || accountId is not { } id)
        {
            return Role.Unregistered;
        }
        if (state.Owner?.Id == id)
        {
            return Role.Owner;
        }
        if (state.UserRoles.Administrator.Contains(id)) return Role.Administrator;
        if (state.UserRoles.Moderator.Contains(id)) return Role.Moderator;
        if (state.UserRoles.Trusted.Contains(id)) return Role.Trusted;
        return Role.Registered;
    }
}
