using System.Text.Json.Nodes;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

public static partial class RoomTransitions
{
    // Undo (docs/protocol.md §6.7).
    private sealed partial class Tx
    {
        private void Undo(RoomUser? user, Role role, JsonObject echo)
        {
            var id = echo["id"] is { } idNode && Zod.IsString(idNode) ? idNode.GetValue<string>() : null;
            var idx = id is null ? -1 : S.RecentEvents.FindIndex(e => e.Id == id);
            if (idx < 0)
            {
                throw new OttException(OttFailure.BadApiArgument("event", "unknown or expired event"));
            }
            var recorded = S.RecentEvents[idx];
            if (recorded.Undone)
            {
                throw new OttException(OttFailure.BadApiArgument("event", "event already undone"));
            }
            switch ((RequestType)recorded.Type)
            {
                case RequestType.Seek:
                    {
                        Gate(role, Permissions.Seek);
                        var echoed = echo["additional"] is JsonObject additional && Zod.TryGetDouble(additional["prevPosition"], out var p) && p >= 0
                            ? p : recorded.PrevPosition ?? 0;
                        MarkUndone(idx);
                        Seek(user, echoed, new JsonObject { ["type"] = (int)RequestType.Seek, ["value"] = echoed });
                        break;
                    }
                case RequestType.Skip:
                    {
                        var item = recorded.Video!;
                        Gate(role, Permissions.PlayNow);
                        Gate(role, S.Queue.Any(i => Same(i, item)) ? Permissions.Order : Permissions.Add);
                        MarkUndone(idx);
                        var speed = S.PlaybackSpeed;
                        MakeCurrent(item, recorded.PrevPosition ?? 0);
                        S = S with { PlaybackSpeed = speed };
                        break;
                    }
                case RequestType.Add:
                    {
                        Gate(role, Permissions.Remove);
                        var queued = recorded.Videos!.Where(v => S.Queue.Any(q => Same(q, v))).ToList();
                        if (queued.Count == 0)
                        {
                            throw new OttException(OttFailure.VideoNotFound());
                        }
                        MarkUndone(idx);
                        foreach (var item in queued)
                        {
                            var videoId = new VideoId(item.Service, item.Id);
                            Remove(user, videoId, new JsonObject
                            {
                                ["type"] = (int)RequestType.Remove,
                                ["video"] = new JsonObject { ["service"] = item.Service, ["id"] = item.Id },
                            });
                        }
                        break;
                    }
                case RequestType.Remove:
                    {
                        Gate(role, Permissions.Add);
                        var item = recorded.Video!;
                        if (IsCurrentOrQueued(new VideoId(item.Service, item.Id)))
                        {
                            throw new OttException(OttFailure.VideoAlreadyQueued());
                        }
                        MarkUndone(idx);
                        var at = Math.Min(recorded.QueueIdx ?? S.Queue.Count, S.Queue.Count);
                        S = S with { Queue = S.Queue.Insert(at, item) };
                        break;
                    }
                default:
                    throw new OttException(OttFailure.BadApiArgument("event", "this event cannot be undone"));
            }
        }

        private void MarkUndone(int idx) =>
            S = S with { RecentEvents = S.RecentEvents.SetItem(idx, S.RecentEvents[idx] with { Undone = true }) };
    }
}
