using System.Collections.Immutable;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

public static partial class RoomTransitions
{
    // The test-only API's room commands (docs/protocol.md §4.5): what OTT's e2e suite sets up through
    // the room, applied, persisted and synced like every other change.
    private sealed partial class Tx
    {
        public void SeedPrevQueue(ImmutableList<QueueItem> items) => S = S with { PrevQueue = items };

        // The session's first connection in the room, as a REST caller's actor is found (§6.5).
        public void DisconnectSession(string sessionKey, int code, string reason)
        {
            var user = S.Users.Find(u => u.SessionKey == sessionKey)
                ?? throw new OttException(OttFailure.ClientNotFoundInRoom(S.Name));
            Outputs.Add(new CloseClient(user.ClientId, code, reason));
        }
    }
}
