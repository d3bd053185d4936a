using System.Collections.Immutable;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

public static partial class RoomTransitions
{
    // Vote mode: votes on queued items, and dropping a leaving voter.
    private sealed partial class Tx
    {
        private void Vote(RoomUser? user, VideoId id, bool add)
        {
            if (user is null)
            {
                throw new OttException(OttFailure.ClientNotFoundInRoom(S.Name));
            }
            if (!S.Queue.Any(i => i.Is(id)))
            {
                throw new OttException(OttFailure.VideoNotFound());
            }
            var voters = S.Votes.GetValueOrDefault(id.Key, []);
            voters = add ? voters.Add(user.ClientId) : voters.Remove(user.ClientId);
            S = S with { Votes = voters.IsEmpty ? S.Votes.Remove(id.Key) : S.Votes.SetItem(id.Key, voters) };
        }

        private static ImmutableDictionary<string, ImmutableHashSet<string>> RemoveVoter(
            ImmutableDictionary<string, ImmutableHashSet<string>> votes, string clientId)
        {
            var result = votes;
            foreach (var (key, voters) in votes)
            {
                var rest = voters.Remove(clientId);
                if (!ReferenceEquals(rest, voters))
                {
                    result = rest.IsEmpty ? result.Remove(key) : result.SetItem(key, rest);
                }
            }
            return result;
        }
    }
}
