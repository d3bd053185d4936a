using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

public static partial class RoomTransitions
{
    // Users: join, leave, rejoin, presence, roles (promote, claim) and kick.
    private sealed partial class Tx
    {
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
            Audit(Rank(newRole) < Rank(current) ? AuditActions.Demote : AuditActions.Promote, TargetOf(target),
                new JsonObject { ["from"] = (int)current, ["to"] = (int)newRole });
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
            RequireHigherRank(actorRole, RoomRoles.RoleOf(S, target.IsLoggedIn, target.AccountId), Permissions.Kick);
            Outputs.Add(new CloseClient(target.ClientId, 4005, "kicked"));
            Audit(AuditActions.Kick, TargetOf(target));
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
            _auditActor = AuditActorOf(ActorUser(actor), actor, RoomRoles.RoleOf(S, actor.IsLoggedIn, actor.AccountId));
            S = S with { Owner = new RoomOwner(id, actor.Name) };
            BroadcastAccount(id);
            Audit(AuditActions.Claim, null);
        }

        public void Join(RoomUser user)
        {
            if (IsBanned(user))
            {
                // Refused before anything changes; the gateway closes the socket with 4005 "banned" (docs/protocol.md §10).
                throw new OttException(OttFailure.Banned());
            }
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
            // A banned connection whose close was lost with its old owner is closed now rather than let back in.
            foreach (var banned in users.Where(IsBanned))
            {
                Outputs.Add(new CloseClient(banned.ClientId, 4005, "banned"));
            }
            users = users.RemoveAll(IsBanned);
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
            if (users.IsEmpty)
            {
                return;
            }
            // One full sync and one user list for all of them (each written once), each client attached between.
            var ids = users.Select(u => u.ClientId).ToImmutableArray();
            Outputs.Add(new SendToMany(ids, new FullSyncFrame(S)));
            foreach (var id in ids)
            {
                Outputs.Add(new Attach(id));
            }
            Outputs.Add(new SendToMany(ids, init));
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
            Unhold(clientId);
            Outputs.Add(new Detach(clientId));
            Outputs.Add(new Broadcast(new UserRemoveFrame(clientId)));
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
            if (IsBanned(user))
            {
                // Logged in to a banned account while in the room.
                Outputs.Add(new CloseClient(user.ClientId, 4005, "banned"));
            }
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
            if (status == "ready")
            {
                Unhold(clientId);
            }
        }
    }
}
