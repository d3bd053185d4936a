using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Ott.Sync.Media;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

public static partial class RoomTransitions
{
    // One command's change in progress: the state as the handlers rewrite it and the outputs they
    // emit. The handlers live in the Tx.*.cs files beside this one, one file per feature.
    private sealed partial class Tx(RoomState state, DateTimeOffset now, RoomContext ctx)
    {
        public RoomState State = state;
        public readonly ImmutableList<RoomOutput>.Builder Outputs = ImmutableList.CreateBuilder<RoomOutput>();
        private readonly DateTimeOffset _now = now;

        private RoomState S { get => State; set => State = value; }

        public void Request(RequestCommand cmd)
        {
            var actor = cmd.Actor;
            var user = ActorUser(actor);
            var role = user is not null ? RoomRoles.RoleOf(S, user.IsLoggedIn, user.AccountId)
                : actor.IsAdmin ? Role.Administrator
                : RoomRoles.RoleOf(S, actor.IsLoggedIn, actor.AccountId);
            var media = cmd.Media ?? MediaLookup.None;
            _auditActor = AuditActorOf(user, actor, role);
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
                case BanRequest ban:
                    Ban(role, ban);
                    break;
                case UnbanRequest unban:
                    Unban(role, unban.BanId);
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
