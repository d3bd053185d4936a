using System.Text.Json.Nodes;
using Ott.Sync.Protocol;

namespace Ott.Sync.Rooms;

public static partial class RoomTransitions
{
    // Ott's moderation (docs/protocol.md §10): bans, the checks that keep banned users out, and the audit log's entries.
    private sealed partial class Tx
    {
        // Who the current request runs as, for its audit entries; null outside requests and claims.
        private AuditActor? _auditActor;

        private void Audit(string action, AuditTarget? target, JsonObject? details = null)
        {
            if (_auditActor is { } actor)
            {
                Outputs.Add(new Audited(new AuditEntry(null, _now.ToUnixTimeMilliseconds(), actor, action, target, details)));
            }
        }

        private static AuditActor AuditActorOf(RoomUser? user, Actor actor, Role role)
        {
            var name = user?.Name ?? (actor.Name.Length > 0 ? actor.Name : actor.IsAdmin ? "(api key)" : "");
            var loggedIn = user?.IsLoggedIn ?? actor.IsLoggedIn;
            return new AuditActor(name, loggedIn ? name : null, (int)role);
        }

        private static AuditTarget TargetOf(RoomUser user) => new(user.Name, user.IsLoggedIn ? user.Name : null);

        /// <summary>§7.6's kick rule, which bans share: the Owner may act on anyone; others only on lower roles, never the Owner.</summary>
        private static void RequireHigherRank(Role actorRole, Role targetRole, string permission)
        {
            var allowed = actorRole == Role.Owner || ((int)actorRole > (int)targetRole && targetRole != Role.Owner);
            if (!allowed)
            {
                throw new OttException(OttFailure.PermissionDenied(permission));
            }
        }

        private bool IsBanned(RoomUser user)
        {
            foreach (var ban in S.Bans)
            {
                if (ban.IsActive(_now) && ban.Matches(user))
                {
                    return true;
                }
            }
            return false;
        }

        private void Ban(Role role, BanRequest request)
        {
            Gate(role, Permissions.Ban);
            var now = _now;
            RoomBan ban;
            Role targetRole;
            if (request.ClientId is { } clientId)
            {
                var target = S.Users.Find(u => u.ClientId == clientId)
                    ?? throw new OttException(OttFailure.ClientNotFoundInRoom(S.Name));
                targetRole = RoomRoles.RoleOf(S, target.IsLoggedIn, target.AccountId);
                // byIp is honoured only when the operator enabled IP bans; the ban's target.ip says whether it was.
                var byIp = request.ByIp && ctx.IpBansEnabled && target.Ip is not null;
                var salt = byIp ? ctx.NewEventId() : null;
                var loggedIn = target.IsLoggedIn && target.AccountId is not null;
                ban = new RoomBan
                {
                    Id = request.BanId ?? ctx.NewEventId(),
                    Name = target.Name,
                    AccountId = loggedIn ? target.AccountId : null,
                    User = loggedIn ? target.Name : null,
                    SessionKey = target.SessionKey,
                    IpSalt = salt,
                    IpHash = byIp ? RoomBan.HashIp(salt!, target.Ip!) : null,
                };
            }
            else
            {
                // The entry node looked the username up; an unknown one arrives without an account.
                if (request.TargetAccountId is not { } accountId)
                {
                    throw new OttException(OttFailure.BadApiArgument("user", "No user with that name."));
                }
                targetRole = RoomRoles.RoleOf(S, true, accountId);
                ban = new RoomBan { Id = request.BanId ?? ctx.NewEventId(), Name = request.User, AccountId = accountId, User = request.User };
            }
            RequireHigherRank(role, targetRole, Permissions.Ban);
            var bans = S.Bans.RemoveAll(b => !b.IsActive(now));
            if (bans.Count >= ctx.MaxBans)
            {
                throw new OttException(OttFailure.TooManyBans(ctx.MaxBans));
            }
            ban = ban with
            {
                Reason = request.Reason,
                CreatedAt = now.ToUnixTimeMilliseconds(),
                ExpiresAt = request.Duration > 0 ? now.ToUnixTimeMilliseconds() + (long)Math.Round(request.Duration * 1000) : null,
                By = _auditActor?.Name ?? "",
            };
            S = S with { Bans = bans.Add(ban) };
            // Every connection the ban matches leaves, on whichever node it is (as a kick's close does).
            foreach (var user in S.Users.Where(ban.Matches))
            {
                Outputs.Add(new CloseClient(user.ClientId, 4005, "banned"));
            }
            var details = new JsonObject
            {
                ["banId"] = ban.Id,
                ["session"] = ban.SessionKey is not null,
                ["ip"] = ban.IpHash is not null,
                ["expiresAt"] = ban.ExpiresAt,
            };
            if (ban.Reason is { } reason)
            {
                details["reason"] = reason;
            }
            Audit(AuditActions.Ban, new AuditTarget(ban.Name, ban.User), details);
        }

        private void Unban(Role role, string banId)
        {
            Gate(role, Permissions.Ban);
            var ban = S.Bans.Find(b => b.Id == banId) ?? throw new OttException(OttFailure.BanNotFound());
            S = S with { Bans = S.Bans.Remove(ban) };
            Audit(AuditActions.Unban, new AuditTarget(ban.Name, ban.User), new JsonObject { ["banId"] = ban.Id });
        }
    }
}
