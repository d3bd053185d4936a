using System.Text.Json.Nodes;
using Ott.Sync.Media;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

public static partial class RoomTransitions
{
    // The queue: add, remove, order, shuffle, restore, edit, play now.
    private sealed partial class Tx
    {
        private bool IsCurrentOrQueued(VideoId id) =>
            (S.CurrentSource?.Is(id) ?? false) || S.Queue.Any(i => i.Is(id));

        private static QueueItem WithSubtitle(QueueItem item, VideoAdd add)
        {
            if (add.Subtitle is { } subtitle)
            {
                if (!IsVttUrl(subtitle))
                {
                    throw new OttException(OttFailure.UnsupportedSubtitleType());
                }
                return item with { SubtitleUrl = subtitle };
            }
            return item;
        }

        private void Add(RoomUser? user, AddRequest add, MediaLookup media)
        {
            var raw = add.Raw.DeepClone().AsObject();
            var video = add.Video;
            if (add.Url is not null)
            {
                if (media.FromUrl is not { } fromUrl)
                {
                    throw new OttException(media.UrlFailure ?? OttFailure.UnsupportedService(add.Url));
                }
                video = new VideoAdd(fromUrl.Service, fromUrl.Id);
                raw["video"] = new JsonObject { ["service"] = fromUrl.Service, ["id"] = fromUrl.Id };
            }
            if (video is not null)
            {
                if (IsCurrentOrQueued(video.VideoId))
                {
                    throw new OttException(OttFailure.VideoAlreadyQueued());
                }
                var item = WithSubtitle(Normalize(media.Get(video.VideoId), video), video);
                S = S with { Queue = S.Queue.Add(item), PrevQueue = null };
                Emit(user, raw, (int)RequestType.Add, new JsonObject { ["video"] = Json(item) },
                    new RecordedEvent("", 0, null, [item], null, null, false));
                return;
            }
            var items = add.Videos!.Select(v => (v, item: media.Get(v.VideoId))).ToList();
            var added = new List<QueueItem>();
            foreach (var (v, item) in items)
            {
                if (IsCurrentOrQueued(v.VideoId) || added.Any(a => a.Is(v.VideoId)))
                {
                    continue;
                }
                added.Add(WithSubtitle(Normalize(item, v), v));
            }
            if (added.Count == 0)
            {
                throw new OttException(OttFailure.VideoAlreadyQueued());
            }
            S = S with { Queue = S.Queue.AddRange(added) };
            Emit(user, raw, (int)RequestType.Add, new JsonObject { ["videos"] = new JsonArray([.. added.Select(Json)]) },
                new RecordedEvent("", 0, null, added, null, null, false));
        }

        /// <summary>The resolver's item, with the start and end the request asked for.</summary>
        private static QueueItem Normalize(QueueItem resolved, VideoAdd add) => resolved with
        {
            Service = add.Service,
            Id = add.Id,
            StartAt = add.StartAt ?? resolved.StartAt,
            EndAt = add.EndAt ?? resolved.EndAt,
            Highlight = null,
        };

        private void Remove(RoomUser? user, VideoId id, JsonObject raw)
        {
            var idx = S.Queue.FindIndex(i => i.Is(id));
            if (idx < 0)
            {
                throw new OttException(OttFailure.VideoNotFound());
            }
            var item = S.Queue[idx];
            S = S with { Queue = S.Queue.RemoveAt(idx), Votes = S.Votes.Remove(item.Key) };
            Emit(user, raw.DeepClone().AsObject(), (int)RequestType.Remove, new JsonObject { ["video"] = Json(item), ["queueIdx"] = idx },
                new RecordedEvent("", 0, item, null, null, idx, false));
        }

        private void Order(int from, int to)
        {
            if (from < 0 || from >= S.Queue.Count)
            {
                throw new OttException(OttFailure.BadApiArgument("fromIdx", "index out of range"));
            }
            if (to < 0 || to >= S.Queue.Count)
            {
                throw new OttException(OttFailure.BadApiArgument("toIdx", "index out of range"));
            }
            if (from != to)
            {
                var item = S.Queue[from];
                S = S with { Queue = S.Queue.RemoveAt(from).Insert(to, item) };
            }
        }

        private void Shuffle()
        {
            var items = S.Queue.ToArray();
            ctx.Random.Shuffle(items);
            S = S with { Queue = [.. items] };
        }

        private void RestoreQueue(bool discard)
        {
            if (S.PrevQueue is null)
            {
                throw new OttException(OttFailure.BadApiArgument("prevQueue", "No previous queue to restore"));
            }
            if (!discard)
            {
                var queue = S.Queue.ToBuilder();
                foreach (var item in S.PrevQueue)
                {
                    if (!IsCurrentOrQueued(new VideoId(item.Service, item.Id)) && !queue.Any(q => Same(q, item)))
                    {
                        queue.Add(item);
                    }
                }
                S = S with { Queue = queue.ToImmutable() };
            }
            S = S with { PrevQueue = null };
        }

        private void UpdateQueueItem(RoomUser? user, UpdateQueueItemRequest request)
        {
            var update = request.Update;
            if (!string.IsNullOrEmpty(update.SubtitleUrl) && !IsVttUrl(update.SubtitleUrl))
            {
                throw new OttException(OttFailure.UnsupportedSubtitleType());
            }
            var idx = S.Queue.FindIndex(i => i.Is(request.Video));
            if (idx < 0)
            {
                throw new OttException(OttFailure.VideoNotFound());
            }
            var item = S.Queue[idx];
            if (update.HasStartAt) item = item with { StartAt = update.StartAt };
            if (update.HasEndAt) item = item with { EndAt = update.EndAt };
            if (update.HasSubtitleUrl) item = item with { SubtitleUrl = string.IsNullOrEmpty(update.SubtitleUrl) ? null : update.SubtitleUrl };
            S = S with { Queue = S.Queue.SetItem(idx, item) };
            Emit(user, request, []);
        }

        private void PlayNow(Role role, VideoAdd video, MediaLookup media)
        {
            if (S.CurrentSource?.Is(video.VideoId) ?? false)
            {
                return;
            }
            var idx = S.Queue.FindIndex(i => i.Is(video.VideoId));
            Gate(role, idx >= 0 ? Permissions.Order : Permissions.Add);
            var item = idx >= 0 ? S.Queue[idx] : media.Get(video.VideoId) with { Service = video.Service, Id = video.Id, Highlight = null };
            if (video.Subtitle is { } subtitle)
            {
                item = IsVttUrl(subtitle) ? item with { SubtitleUrl = subtitle } : throw new OttException(OttFailure.UnsupportedSubtitleType());
            }
            MakeCurrent(item, 0);
        }

        /// <summary>PlayNow and undo-Skip: the current item goes to the queue top, <paramref name="item"/> plays from <paramref name="position"/>.</summary>
        private void MakeCurrent(QueueItem item, double position)
        {
            var queue = S.Queue.RemoveAll(i => Same(i, item));
            // The queue never holds the current item (§6.1): undoing a dj-mode skip replays the same item.
            if (S.CurrentSource is { } current && !Same(current, item))
            {
                queue = queue.Insert(0, current with { StartAt = S.LivePosition(_now) });
            }
            S = S with
            {
                Queue = queue,
                Votes = S.Votes.Remove(item.Key),
                CurrentSource = item,
                PlaybackPosition = position,
                PlaybackAnchor = _now,
                VideoSegments = [],
                SuppressedSegment = null,
                VotesToSkip = [],
            };
            MaybeFetchSegments();
        }
    }
}
