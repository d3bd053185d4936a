namespace Ott.Sync.Rooms;

internal sealed partial class RoomActor
{
    private static partial class Log
    {
        [LoggerMessage(LogLevel.Warning, "Room {Room}: the store is unavailable; the room is handed back")]
        public static partial void StoreUnavailable(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Error, "Room {Room}: the actor failed")]
        public static partial void ActorFailed(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Error, "Room {Room}: command {Command} failed unexpectedly")]
        public static partial void CommandFailed(ILogger logger, Exception e, string room, string command);

        [LoggerMessage(LogLevel.Warning, "Room {Room}: fenced write gave up")]
        public static partial void WriteGaveUp(ILogger logger, Exception e, string room);

        [LoggerMessage(LogLevel.Information, "Room {Room} unloaded ({Reason})")]
        public static partial void Unloaded(ILogger logger, string room, UnloadReason reason);

        [LoggerMessage(LogLevel.Error, "Room {Room}: unload ({Reason}) failed")]
        public static partial void UnloadFailed(ILogger logger, Exception e, string room, UnloadReason reason);

        [LoggerMessage(LogLevel.Warning, "Room {Room}: demoted at epoch {Epoch}")]
        public static partial void Demoted(ILogger logger, string room, long epoch);
    }
}
