using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Ott.Sync.Media;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

/// <summary>
/// Pure room logic: (state, command, now) → outcome (protocol.md §6). A failing command changes nothing:
/// handlers throw <see cref="OttException"/> and the outcome keeps the state it was given.
/// </summary>
public static class RoomTransitions
{
    public const int KeptEvents = 50;
    public const int KeptRequestIds = 64;

    public static RoomOutcome Apply(RoomState state, RoomCommand command, DateTimeOffset now, RoomContext ctx)
    {
        if (command.ReqId is { } reqId && state.RecentRequestIds.Contains(reqId))
        {
            return new RoomOutcome(state, [], null); // a retry of an applied command: acknowledge only
        }
        var tx = new Tx(state, now, ctx);
        try
        {
            switch (command)
            {
                case RequestCommand r: tx.Request(r); break;
                case JoinCommand j: tx.Join(j.User); break;
                case LeaveCommand l: tx.Leave(l.ClientId); break;
                case RejoinCommand r: tx.Rejoin(r.GatewayNodeId, r.Users); break;
                case GatewayLostCommand g: tx.GatewayLost(g.GatewayNodeId); break;
                case UpdateUserCommand u: tx.UpdateUser(u); break;
                case StatusCommand s: tx.SetStatus(s.ClientId, s.Status); break;
                case ClaimCommand c: tx.Claim(c.Actor); break;
                case TickCommand: tx.Tick(); break;
                case SegmentsLoadedCommand sl: tx.SegmentsLoaded(sl.Item, sl.Segments); break;
                default: throw new InvalidOperationException($"Unknown command {command.GetType().Name}");
            }
            tx.Normalize();
        }
        catch (OttException e)
        {
            return new RoomOutcome(state, [], e.Failure);
        }
        var result = tx.State;
        if (command.ReqId is { } id && !ReferenceEquals(result, state))
        {
            result = result with { RecentRequestIds = result.RecentRequestIds.Add(id) is var ids && ids.Count > KeptRequestIds ? ids.RemoveAt(0) : ids };
        }
        return new RoomOutcome(result, tx.Outputs.ToImmutable(), null);
    }

    /// <summary>§6.10: the restore-queue rules that run on every load.</summary>
    public static RoomState OnLoad(RoomState state, DateTimeOffset now, RoomContext ctx)
    {
        var s = state with { LastActiveAt = now };
        switch (s.RestoreQueueBehavior)
        {
            case RestoreQueueBehavior.Never:
                s = s with { PrevQueue = null };
                break;
            case RestoreQueueBehavior.Always when s.PrevQueue is not null && s.Queue.IsEmpty:
                s = s with { Queue = s.PrevQueue.Where(i => s.CurrentSource is null || !Same(i, s.CurrentSource)).DistinctBy(i => i.Key).ToImmutableList(), PrevQueue = null };
                break;
        }
        var tx = new Tx(s, now, ctx);
        tx.Normalize();
        return tx.State;
    }

    /// <summary>§8.3: the rest form a permanent room is stored in when it unloads idle or by an admin.</summary>
    public static RoomState ToRestForm(RoomState state, DateTimeOffset now)
    {
        var prev = new List<QueueItem>();
        if (state.CurrentSource is { } current)
        {
            prev.Add(current with { StartAt = state.LivePosition(now) });
        }
        prev.AddRange(state.Queue);
        return state with
        {
            PrevQueue = prev.Count == 0 ? null : [.. prev],
            CurrentSource = null,
            Queue = [],
            IsPlaying = false,
            PlaybackPosition = 0,
            PlaybackAnchor = null,
            PlaybackSpeed = 1,
            VideoSegments = [],
        };
    }

    /// <summary>The vote-skip threshold ceil(0.5 × eligible) (protocol.md §6.9).</summary>
    public static int SkipThreshold(int eligible) => (eligible + 1) / 2;

    private static bool Same(QueueItem a, QueueItem b) => a.Service == b.Service && a.Id == b.Id;

    private static bool IsVttUrl(string url)
    {
        var dot = url.LastIndexOf('.');
        return dot >= 0 && url[(dot + 1)..] == "vtt";
    }

    private sealed class Tx(RoomState state, DateTimeOffset now, RoomContext ctx)
    {
        public RoomState State = state;
        public readonly ImmutableList<RoomOutput>.Builder Outputs = ImmutableList.CreateBuilder<RoomOutput>();
        private readonly DateTimeOffset _now = now;

        private RoomState S { get => State; set => State = value; }

        // ----- requests -----

        public void Request(RequestCommand cmd)
        {
            var actor = cmd.Actor;
            var user = ActorUser(actor);
            var role = user is not null ? RoomRoles.RoleOf(S, user.IsLoggedIn, user.AccountId)
                : actor.IsAdmin ? Role.Administrator
                : RoomRoles.RoleOf(S, actor.IsLoggedIn, actor.AccountId);
            var media = cmd.Media ?? MediaLookup.None;
            switch (cmd.Request)
            {
                case PlaybackRequest p:
                    Gate(role, Permissions.PlayPause);
                    if (p.State) Play(); else Pause();
                    Emit(user, p, []);
                    break;
                case SkipRequest sk:
                    Gate(role, Permissions.Skip);
                    Skip(user, sk);
                    break;
                case SeekRequest seek:
                    Gate(role, Permissions.Seek);
                    Seek(user, seek.Value, seek.Raw);
                    break;
                case AddRequest add:
                    Gate(role, Permissions.Add);
                    Add(user, add, media);
                    break;
                case RemoveRequest remove:
                    Gate(role, Permissions.Remove);
                    Remove(user, remove.Video, remove.Raw);
                    break;
                case OrderRequest order:
                    Gate(role, Permissions.Order);
                    Order(order.FromIdx, order.ToIdx);
                    break;
                case VoteRequest vote:
                    Gate(role, Permissions.Vote);
                    Vote(user, vote.Video, vote.Add);
                    break;
                case PromoteRequest promote:
                    Promote(role, promote.TargetClientId, promote.Role);
                    break;
                case ChatRequest chat:
                    Gate(role, Permissions.Chat);
                    if (user is not null) Outputs.Add(new Broadcast(new ChatFrame(user.Info(S), chat.Text)));
                    break;
                case UndoRequest undo:
                    // Undo runs as the actor's connection (§4.3, §6.7): a REST caller must be connected.
                    Undo(user ?? throw new OttException(OttFailure.ClientNotFoundInRoom(S.Name)), role, undo.Event);
                    break;
                case ApplySettingsRequest settings:
                    ApplySettings(role, settings.Settings);
                    break;
                case PlayNowRequest playNow:
                    Gate(role, Permissions.PlayNow);
                    PlayNow(role, playNow.Video, media);
                    break;
                case ShuffleRequest:
                    Gate(role, Permissions.Order);
                    Shuffle();
                    break;
                case PlaybackSpeedRequest speed:
                    Gate(role, Permissions.Speed);
                    S = S with { PlaybackPosition = S.LivePosition(_now), PlaybackAnchor = _now, PlaybackSpeed = speed.Speed };
                    break;
                case RestoreQueueRequest restore:
                    Gate(role, Permissions.Add);
                    RestoreQueue(restore.Discard);
                    break;
                case KickRequest kick:
                    Gate(role, Permissions.Kick);
                    Kick(role, kick.ClientId);
                    break;
                case UpdateQueueItemRequest update:
                    Gate(role, Permissions.Edit);
                    UpdateQueueItem(user, update);
                    break;
                default:
                    throw new OttException(OttFailure.RequestNotAllowed((int)cmd.Request.Type));
            }
        }

        /// <summary>The actor's room user: its own connection, or for REST the token's first connection (§6.5).</summary>
        private RoomUser? ActorUser(Actor actor)
        {
            if (actor.ClientId is { } id)
            {
                return S.Users.Find(u => u.ClientId == id);
            }
            return actor.SessionKey is { } key ? S.Users.Find(u => u.SessionKey == key) : null;
        }

        private void Gate(Role role, string permission)
        {
            if (!Permissions.IsGranted(S.Grants, role, permission))
            {
                throw new OttException(OttFailure.PermissionDenied(permission));
            }
        }

        private RecordedEvent Emit(RoomUser? user, RoomRequest request, JsonObject additional, RecordedEvent? record = null) =>
            Emit(user, request.Raw.DeepClone().AsObject(), (int)request.Type, additional, record);

        /// <summary>Events go out only when the actor is a room user (§1.6); they are kept for undo.</summary>
        private RecordedEvent Emit(RoomUser? user, JsonObject request, int type, JsonObject additional, RecordedEvent? record = null)
        {
            var id = ctx.NewEventId();
            var recorded = (record ?? new RecordedEvent(id, type, null, null, null, null, false)) with { Id = id, Type = type };
            if (user is null)
            {
                return recorded;
            }
            var events = S.RecentEvents.Add(recorded);
            S = S with { RecentEvents = events.Count > KeptEvents ? events.RemoveRange(0, events.Count - KeptEvents) : events };
            Outputs.Add(new Broadcast(new EventFrame(request, user.Info(S), additional, id)));
            return recorded;
        }

        private static JsonNode? Json(QueueItem item) => System.Text.Json.JsonSerializer.SerializeToNode(item, ProtocolJsonContext.Default.QueueItem);

        // ----- playback (§6.4) -----

        private void Play()
        {
            if (!S.IsPlaying)
            {
                S = S with { IsPlaying = true, PlaybackAnchor = _now };
            }
        }

        private void Pause()
        {
            if (S.IsPlaying)
            {
                S = S with { PlaybackPosition = S.LivePosition(_now), PlaybackAnchor = null, IsPlaying = false };
            }
        }

        private void SeekTo(double value)
        {
            var inside = S.VideoSegments.FirstOrDefault(seg => value >= seg.StartTime && value < seg.EndTime);
            S = S with { PlaybackPosition = value, PlaybackAnchor = _now, SuppressedSegment = inside };
        }

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
            S = S with { VotesToSkip = [] };
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
        }

        private void MaybeFetchSegments()
        {
            if (ctx.SponsorBlockEnabled && S.CurrentSource is { } current && !S.AutoSkipSegmentCategories.IsEmpty)
            {
                Outputs.Add(new FetchSegments(current, S.AutoSkipSegmentCategories));
            }
        }

        // ----- queue -----

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

        // ----- users -----

        private void Promote(Role actorRole, string targetClientId, Role newRole)
        {
            var target = S.Users.Find(u => u.ClientId == targetClientId)
                ?? throw new OttException(OttFailure.ClientNotFoundInRoom(S.Name));
            var current = RoomRoles.RoleOf(S, target.IsLoggedIn, target.AccountId);
            var promotion = newRole switch
            {
                Role.Administrator => Permissions.PromoteAdmin,
                Role.Moderator => Permissions.PromoteModerator,
                Role.Trusted => Permissions.PromoteTrusted,
                _ => null,
            };
            if (promotion is not null)
            {
                Gate(actorRole, promotion);
            }
            // The owner ranks above everyone when deciding whether this is a demotion.
            static int Rank(Role r) => r == Role.Owner ? 5 : (int)r;
            if (Rank(newRole) < Rank(current))
            {
                var demotion = current switch
                {
                    Role.Administrator => Permissions.DemoteAdmin,
                    Role.Moderator => Permissions.DemoteModerator,
                    Role.Trusted => Permissions.DemoteTrusted,
                    _ => throw new OttException(OttFailure.ImpossiblePromotion()),
                };
                Gate(actorRole, demotion);
            }
            if (!target.IsLoggedIn || target.AccountId is not { } accountId)
            {
                throw new OttException(OttFailure.ImpossiblePromotion());
            }
            S = S with { UserRoles = S.UserRoles.Assign(accountId, newRole) };
            BroadcastAccount(accountId);
        }

        private void BroadcastAccount(long accountId)
        {
            foreach (var u in S.Users.Where(u => u.AccountId == accountId && u.IsLoggedIn))
            {
                Outputs.Add(new Broadcast(new UserUpdateFrame(u.Info(S))));
            }
        }

        private void Kick(Role actorRole, string clientId)
        {
            var target = S.Users.Find(u => u.ClientId == clientId)
                ?? throw new OttException(OttFailure.ClientNotFoundInRoom(S.Name));
            var targetRole = RoomRoles.RoleOf(S, target.IsLoggedIn, target.AccountId);
            var allowed = actorRole == Role.Owner || ((int)actorRole > (int)targetRole && targetRole != Role.Owner);
            if (!allowed)
            {
                throw new OttException(OttFailure.PermissionDenied(Permissions.Kick));
            }
            Outputs.Add(new CloseClient(target.ClientId, 4005, "kicked"));
        }

        public void Claim(Actor actor)
        {
            if (S.Owner is not null)
            {
                throw new OttException(OttFailure.BadApiArgument("claim", "Room already has owner."));
            }
            if (!actor.IsLoggedIn || actor.AccountId is not { } id)
            {
                throw new OttException(new OttFailure(null, "Must be logged in to claim room ownership.", 401));
            }
            S = S with { Owner = new RoomOwner(id, actor.Name) };
            BroadcastAccount(id);
        }

        public void Join(RoomUser user)
        {
            // A rejoin may have added this client already (its join and the rejoin crossed): one entry each.
            var users = S.Users.RemoveAll(u => u.ClientId == user.ClientId);
            S = S with { Users = users.Add(user), LastActiveAt = _now };
            Outputs.Add(new SendTo(user.ClientId, new FullSyncFrame(S)));
            Outputs.Add(new Attach(user.ClientId));
            var info = new JsonObject { ["id"] = user.ClientId };
            if (user.IsLoggedIn && user.AccountId is { } accountId)
            {
                info["user_id"] = accountId;
            }
            else
            {
                info["username"] = user.Name;
            }
            Emit(user, new JsonObject { ["type"] = 0, ["info"] = info }, 0, []);
            Outputs.Add(new Broadcast(new PositionSyncFrame(S.LivePosition(_now))));
            Outputs.Add(new Broadcast(new UserUpdateFrame(user.Info(S))));
            Outputs.Add(new SendTo(user.ClientId, new UserInitFrame([.. S.Users.Select(u => u.Info(S))])));
            Outputs.Add(new SendTo(user.ClientId, new YouFrame(user.ClientId)));
        }

        public void Rejoin(string gateway, ImmutableList<RoomUser> users)
        {
            var present = users.Select(u => u.ClientId).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in S.Users.Where(u => u.GatewayNodeId == gateway && !present.Contains(u.ClientId)).ToList())
            {
                Leave(gone.ClientId);
            }
            foreach (var user in users)
            {
                var idx = S.Users.FindIndex(u => u.ClientId == user.ClientId);
                if (idx >= 0)
                {
                    continue; // the owner still has it: nothing changes for that client
                }
                S = S with { Users = S.Users.Add(user with { GatewayNodeId = gateway }), LastActiveAt = _now };
                Outputs.Add(new Broadcast(new UserUpdateFrame(user.Info(S))));
            }
            var init = new UserInitFrame([.. S.Users.Select(u => u.Info(S))]);
            foreach (var user in users)
            {
                Outputs.Add(new SendTo(user.ClientId, new FullSyncFrame(S)));
                Outputs.Add(new Attach(user.ClientId));
                Outputs.Add(new SendTo(user.ClientId, init));
            }
        }

        public void GatewayLost(string gateway)
        {
            foreach (var user in S.Users.Where(u => u.GatewayNodeId == gateway).ToList())
            {
                Leave(user.ClientId);
            }
        }

        /// <summary>§1.8: the trusted Leave after a disconnect.</summary>
        public void Leave(string clientId)
        {
            var user = S.Users.Find(u => u.ClientId == clientId);
            if (user is null)
            {
                Outputs.Add(new Detach(clientId));
                return;
            }
            Emit(user, new JsonObject { ["type"] = 1 }, 1, new JsonObject { ["user"] = System.Text.Json.JsonSerializer.SerializeToNode(user.Info(S), ProtocolJsonContext.Default.RoomUserInfo) });
            if (S.EnableVoteSkip)
            {
                S = S with { VotesToSkip = S.VotesToSkip.Remove(clientId) };
            }
            if (S.QueueMode == QueueMode.Vote)
            {
                S = S with { Votes = RemoveVoter(S.Votes, clientId) };
            }
            S = S with { Users = S.Users.Remove(user), LastActiveAt = _now };
            Outputs.Add(new Detach(clientId));
            Outputs.Add(new Broadcast(new UserRemoveFrame(clientId)));
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

        public void UpdateUser(UpdateUserCommand cmd)
        {
            var idx = S.Users.FindIndex(u => u.ClientId == cmd.ClientId);
            if (idx < 0)
            {
                return;
            }
            var user = S.Users[idx] with { Name = cmd.Name, IsLoggedIn = cmd.IsLoggedIn, AccountId = cmd.AccountId };
            S = S with { Users = S.Users.SetItem(idx, user) };
            Outputs.Add(new Broadcast(new UserUpdateFrame(user.Info(S))));
        }

        public void SetStatus(string clientId, string status)
        {
            var idx = S.Users.FindIndex(u => u.ClientId == clientId);
            if (idx < 0)
            {
                return;
            }
            var user = S.Users[idx] with { Status = status };
            S = S with { Users = S.Users.SetItem(idx, user) };
            Outputs.Add(new Broadcast(new UserUpdateFrame(user.Info(S))));
        }

        // ----- settings (§6.6) -----

        private void ApplySettings(Role role, SettingsPatch patch)
        {
            var needed = new List<string>();
            var title = patch.Title is { } t && t != S.Title ? t : null;
            var description = patch.Description is { } d && d != S.Description ? d : null;
            var visibility = patch.Visibility is { } v && v != S.Visibility ? v : (Visibility?)null;
            var queueMode = patch.QueueMode is { } q && q != S.QueueMode ? q : (QueueMode?)null;
            // Categories are compared and stored normalised, whoever built the patch (§6.6).
            var categories = patch.AutoSkipSegmentCategories is { } c && SegmentCategories.Normalize(c) is var normal
                && !normal.SequenceEqual(S.AutoSkipSegmentCategories) ? normal : null;
            var restore = patch.RestoreQueueBehavior is { } r && r != S.RestoreQueueBehavior ? r : (RestoreQueueBehavior?)null;
            var voteSkip = patch.EnableVoteSkip is { } vs && vs != S.EnableVoteSkip ? vs : (bool?)null;
            var grantChanges = new Dictionary<Role, int>();
            foreach (var (gRole, mask) in patch.Grants ?? [])
            {
                if (gRole is Role.Administrator or Role.Owner || mask == S.Grants[gRole])
                {
                    continue;
                }
                grantChanges[gRole] = mask;
            }
            if (title is not null) needed.Add(Permissions.SetTitle);
            if (description is not null) needed.Add(Permissions.SetDescription);
            if (visibility is not null) needed.Add(Permissions.SetVisibility);
            if (queueMode is not null) needed.Add(Permissions.SetQueueMode);
            if (categories is not null || restore is not null || voteSkip is not null) needed.Add(Permissions.Other);
            needed.AddRange(grantChanges.Keys.Order().Select(Permissions.SetPermissionsFor));
            foreach (var permission in needed)
            {
                Gate(role, permission);
            }
            S = S with
            {
                Title = title ?? S.Title,
                Description = description ?? S.Description,
                Visibility = visibility ?? S.Visibility,
                QueueMode = queueMode ?? S.QueueMode,
                AutoSkipSegmentCategories = categories ?? S.AutoSkipSegmentCategories,
                RestoreQueueBehavior = restore ?? S.RestoreQueueBehavior,
                EnableVoteSkip = voteSkip ?? S.EnableVoteSkip,
                Grants = grantChanges.Count > 0 ? S.Grants.With(grantChanges) : S.Grants,
            };
            if (voteSkip == false)
            {
                S = S with { VotesToSkip = [] };
            }
            if (categories is { IsEmpty: false } && S.VideoSegments.IsEmpty && S.CurrentSource is not null)
            {
                MaybeFetchSegments();
            }
        }

        // ----- undo (§6.7) -----

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

        // ----- time-driven (§6.8, §6.11) -----

        public void Tick()
        {
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

        /// <summary>Invariants that hold after every command: something plays if anything is queued; vote order.</summary>
        public void Normalize()
        {
            if (S.CurrentSource is null && !S.Queue.IsEmpty)
            {
                Advance();
            }
            if (S.QueueMode == QueueMode.Vote && S.Queue.Count > 1)
            {
                var counts = S.VoteCounts;
                var sorted = S.Queue.OrderByDescending(i => counts[i.Key]).ToImmutableList(); // OrderBy is stable
                if (!sorted.SequenceEqual(S.Queue))
                {
                    S = S with { Queue = sorted };
                }
            }
        }
    }
}
