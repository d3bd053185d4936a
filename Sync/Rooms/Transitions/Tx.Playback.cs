using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

public static partial class RoomTransitions
{
    // Playback (docs/protocol.md §6.4), advancing, and the time-driven transitions (§6.8, §6.11).
    private sealed partial class Tx
    {
        private void Play()
        {
            ClearHold();
            if (!S.IsPlaying)
            {
                S = S with { IsPlaying = true, PlaybackAnchor = _now };
            }
        }

        private void Pause()
        {
            ClearHold();
            if (S.IsPlaying)
            {
                S = S with { PlaybackPosition = S.LivePosition(_now), PlaybackAnchor = null, IsPlaying = false };
            }
        }

        private void SeekTo(double value)
        {
            var inside = S.VideoSegments.FirstOrDefault(seg => value >= seg.StartTime && value < seg.EndTime);
            var resume = PlayingOrHeld;
            S = S with { PlaybackPosition = value, PlaybackAnchor = _now, SuppressedSegment = inside };
            if (resume)
            {
                StartHold();
            }
        }

        // Wait for buffering (issue 16, docs/protocol.md §10): after a seek or when a new item starts while the room
        // plays, pause at the position and wait for every present member's "ready" (or its leaving), at most
        // WaitForBuffering seconds; the room's tick ends a wait that is due, as it advances at the end of media.
        private void StartHold()
        {
            if (S.WaitForBuffering <= 0 || S.Users.IsEmpty || S.CurrentSource is null)
            {
                return;
            }
            S = S with
            {
                PlaybackPosition = S.LivePosition(_now),
                PlaybackAnchor = null,
                IsPlaying = false,
                Hold = new BufferingHold(_now + TimeSpan.FromSeconds(S.WaitForBuffering), [.. S.Users.Select(u => u.ClientId)]),
            };
        }

        /// <summary>A member is ready or gone: it is no longer waited on, and the last one ends the wait.</summary>
        private void Unhold(string clientId)
        {
            if (S.Hold is { } hold && hold.Pending.Contains(clientId))
            {
                var pending = hold.Pending.Remove(clientId);
                S = S with { Hold = hold with { Pending = pending } };
                if (pending.IsEmpty)
                {
                    EndHold();
                }
            }
        }

        private void EndHold()
        {
            S = S with { Hold = null, IsPlaying = true, PlaybackAnchor = _now };
        }

        // A play or pause ends a wait for buffering; without one the state stays as it is (no new record).
        private void ClearHold()
        {
            if (S.Hold is not null)
            {
                S = S with { Hold = null };
            }
        }

        // Playing, or paused only to wait for buffering (the wait resumes play).
        private bool PlayingOrHeld => S.IsPlaying || S.Hold is not null;

        private void Seek(RoomUser? user, double value, JsonObject raw)
        {
            var prev = S.LivePosition(_now);
            SeekTo(value);
            Emit(user, raw.DeepClone().AsObject(), (int)RequestType.Seek, new JsonObject { ["prevPosition"] = prev },
                new RecordedEvent("", 0, null, null, prev, null, false));
        }

        private void Skip(RoomUser? user, SkipRequest request)
        {
            if (S.CurrentSource is null)
            {
                return;
            }
            if (S.EnableVoteSkip)
            {
                if (user is not null)
                {
                    S = S with
                    {
                        VotesToSkip = S.VotesToSkip.Contains(user.ClientId) ? S.VotesToSkip.Remove(user.ClientId) : S.VotesToSkip.Add(user.ClientId),
                    };
                }
                var eligible = S.Users.Count(u => Permissions.IsGranted(S.Grants, RoomRoles.RoleOf(S, u.IsLoggedIn, u.AccountId), Permissions.Skip));
                if (eligible > 0 && S.VotesToSkip.Count < SkipThreshold(eligible))
                {
                    return;
                }
            }
            var skipped = S.CurrentSource;
            var prev = S.LivePosition(_now);
            Advance();
            Emit(user, request, new JsonObject { ["video"] = Json(skipped), ["prevPosition"] = prev },
                new RecordedEvent("", 0, skipped, null, prev, null, false));
        }

        /// <summary>§6.8 advance: on a skip and at the end of media.</summary>
        private void Advance()
        {
            var wasPlaying = PlayingOrHeld;
            S = S with { VotesToSkip = [], Hold = null };
            if (S.CurrentSource is { } current)
            {
                if (S.QueueMode == QueueMode.Dj)
                {
                    S = S with { CurrentSource = current with { StartAt = null, EndAt = null }, PlaybackPosition = 0, PlaybackAnchor = _now };
                    return;
                }
                if (S.QueueMode == QueueMode.Loop)
                {
                    S = S with { Queue = S.Queue.Add(current with { StartAt = null, EndAt = null }) };
                }
            }
            if (!S.Queue.IsEmpty)
            {
                var next = S.Queue[0];
                S = S with
                {
                    CurrentSource = next,
                    Queue = S.Queue.RemoveAt(0),
                    Votes = S.Votes.Remove(next.Key),
                    PlaybackPosition = next.StartAt ?? 0,
                    PlaybackAnchor = _now,
                    VideoSegments = [],
                    SuppressedSegment = null,
                };
                MaybeFetchSegments();
            }
            else if (S.CurrentSource is not null)
            {
                S = S with { CurrentSource = null, IsPlaying = false, PlaybackPosition = 0, PlaybackAnchor = null, VideoSegments = [], SuppressedSegment = null };
            }
            S = S with { PlaybackSpeed = 1 };
            if (wasPlaying && S.IsPlaying && S.CurrentSource is not null)
            {
                StartHold();
            }
        }

        private void MaybeFetchSegments()
        {
            if (ctx.SponsorBlockEnabled && S.CurrentSource is { } current && !S.AutoSkipSegmentCategories.IsEmpty)
            {
                Outputs.Add(new FetchSegments(current, S.AutoSkipSegmentCategories));
            }
        }

        public void Tick()
        {
            if (S.Hold is { } hold && _now >= hold.Until)
            {
                EndHold();
            }
            if (S.CurrentSource is { } current && S.IsPlaying)
            {
                var live = S.LivePosition(_now);
                var end = current.EndAt ?? current.Length;
                if (end is { } e && live >= e)
                {
                    Advance();
                    return;
                }
                AutoSkip(live);
            }
        }

        private void AutoSkip(double live)
        {
            if (S.SuppressedSegment is { } suppressed)
            {
                if (live >= suppressed.StartTime && live < suppressed.EndTime)
                {
                    return;
                }
                S = S with { SuppressedSegment = null };
            }
            var segment = S.VideoSegments.FirstOrDefault(seg =>
                S.AutoSkipSegmentCategories.Contains(seg.Category) && live >= seg.StartTime && live < seg.EndTime);
            if (segment is not null)
            {
                S = S with { PlaybackPosition = segment.EndTime, PlaybackAnchor = _now };
                Outputs.Add(new Broadcast(new EventCustomFrame($"Skipped {segment.Category}")));
            }
        }

        public void SegmentsLoaded(QueueItem item, ImmutableList<Segment> segments)
        {
            if (S.CurrentSource is { } current && Same(current, item))
            {
                S = S with { VideoSegments = segments };
            }
        }
    }
}
