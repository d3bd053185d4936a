using StackExchange.Redis;

namespace Ott.Sync.Storage;

/// <summary>
/// Which store errors mean "not now" rather than "never" (docs/architecture.md §12): a connection lost or
/// timed out, and the replies a restarting, failing-over or busy server gives. A caller retries these within
/// its budget, or answers <c>RoomUnavailable</c>; it never treats them as a fault of the room.
/// </summary>
internal static class StoreErrors
{
    private static readonly string[] TransientReplies = ["LOADING", "READONLY", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"];

    public static bool IsTransient(Exception e) => e switch
    {
        RedisConnectionException or RedisTimeoutException or TimeoutException => true,
        RedisServerException server => TransientReplies.Any(prefix => server.Message.StartsWith(prefix, StringComparison.Ordinal)),
        _ => false,
    };
}
