// Roles and permission bits of docs/protocol.md §7, and the rules the page uses to decide which
// admin controls to offer. The server checks everything again; these only hide what would fail.

export const ROLE = { OWNER: -1, UNREGISTERED: 0, REGISTERED: 1, TRUSTED: 2, MODERATOR: 3, ADMINISTRATOR: 4 };
export const ROLE_NAMES = { "-1": "Owner", 0: "Unregistered", 1: "Registered", 2: "Trusted", 3: "Moderator", 4: "Administrator" };
export const roleName = (role) => ROLE_NAMES[role] ?? `Role ${role}`;

// The Owner (−1) outranks everyone (§7.6).
export const rank = (role) => (role === ROLE.OWNER ? 5 : role);

// bit, name, label, min role (§7.1; bits 27 and 28 are the Ott extensions of issue 18).
export const PERMISSIONS = [
  [0, "playback.play-pause", "Play and pause", 0],
  [1, "playback.skip", "Skip", 0],
  [2, "playback.seek", "Seek", 0],
  [23, "playback.speed", "Change the speed", 0],
  [3, "manage-queue.add", "Add to the queue", 0],
  [4, "manage-queue.remove", "Remove from the queue", 0],
  [5, "manage-queue.order", "Reorder the queue", 0],
  [6, "manage-queue.vote", "Vote", 0],
  [25, "manage-queue.play-now", "Play now", 0],
  [26, "manage-queue.edit", "Edit queue items", 0],
  [7, "chat", "Chat", 0],
  [8, "configure-room.set-title", "Set the title", 0],
  [9, "configure-room.set-description", "Set the description", 0],
  [10, "configure-room.set-visibility", "Set the visibility", 0],
  [11, "configure-room.set-queue-mode", "Set the queue mode", 0],
  [22, "configure-room.other", "Other room settings", 0],
  [15, "configure-room.set-permissions.for-all-unregistered-users", "Set permissions of unregistered users", 1],
  [14, "configure-room.set-permissions.for-all-registered-users", "Set permissions of registered users", 2],
  [13, "configure-room.set-permissions.for-trusted-users", "Set permissions of trusted users", 3],
  [12, "configure-room.set-permissions.for-moderator", "Set permissions of moderators", 4],
  [20, "manage-users.promote-trusted-user", "Promote to Trusted", 2],
  [21, "manage-users.demote-trusted-user", "Demote Trusted users", 2],
  [18, "manage-users.promote-moderator", "Promote to Moderator", 3],
  [19, "manage-users.demote-moderator", "Demote Moderators", 3],
  [16, "manage-users.promote-admin", "Promote to Administrator", 4],
  [17, "manage-users.demote-admin", "Demote Administrators", 4],
  [24, "manage-users.kick", "Kick users", 2],
  [27, "manage-users.ban", "Ban users", 3],
  [28, "manage-users.view-audit-log", "View the audit log", 3],
].map(([bit, name, label, minRole]) => ({ bit, mask: 2 ** bit, name, label, minRole }));

const BY_NAME = new Map(PERMISSIONS.map((p) => [p.name, p.mask]));
export const maskOf = (name) => {
  const mask = BY_NAME.get(name);
  if (mask === undefined) throw new Error(`unknown permission ${name}`);
  return mask;
};

// Masks are below 2^31 today, but stay safe past bit 30 by not using 32-bit `&`.
export const hasBit = (mask, bit) => Math.floor(mask / bit) % 2 === 1;

// The roles whose masks a settings change may set, and the grant each needs (§6.6).
export const EDITABLE_ROLES = [
  [0, "configure-room.set-permissions.for-all-unregistered-users"],
  [1, "configure-room.set-permissions.for-all-registered-users"],
  [2, "configure-room.set-permissions.for-trusted-users"],
  [3, "configure-room.set-permissions.for-moderator"],
].map(([role, grant]) => ({ role, grant }));

export const grantsMap = (grants) => new Map((grants ?? []).map(([role, mask]) => [Number(role), Number(mask)]));

// Whether `role` holds `name` under the room's `sync.grants`.
export function can(grants, role, name) {
  if (role === undefined || role === null) return false;
  const mask = grantsMap(grants).get(role);
  return mask !== undefined && hasBit(mask, maskOf(name));
}

const PROMOTE = { 2: "manage-users.promote-trusted-user", 3: "manage-users.promote-moderator", 4: "manage-users.promote-admin" };
const DEMOTE = { 2: "manage-users.demote-trusted-user", 3: "manage-users.demote-moderator", 4: "manage-users.demote-admin" };

// The roles `actor` may give `target` (§7.5): roles belong to accounts, so never to an anonymous
// user or the Owner; a demotion needs the demote grant of the current role, and any new role of
// Trusted or higher the promote grant of that role.
export function assignableRoles(grants, actorRole, target) {
  if (!target?.isLoggedIn || target.role === ROLE.OWNER) return [];
  const current = target.role;
  return [ROLE.REGISTERED, ROLE.TRUSTED, ROLE.MODERATOR, ROLE.ADMINISTRATOR].filter((role) => {
    if (role === current) return false;
    if (role < current && !(DEMOTE[current] && can(grants, actorRole, DEMOTE[current]))) return false;
    return !PROMOTE[role] || can(grants, actorRole, PROMOTE[role]);
  });
}

// Kick and ban share the rule of §7.6: the Owner may act on anyone; otherwise only on a lower role.
export const outranks = (actorRole, targetRole) =>
  actorRole === ROLE.OWNER || (targetRole !== ROLE.OWNER && actorRole > targetRole);

export const mayKick = (grants, actorRole, target) => outranks(actorRole, target.role) && can(grants, actorRole, "manage-users.kick");
export const mayBan = (grants, actorRole, target) => outranks(actorRole, target.role) && can(grants, actorRole, "manage-users.ban");

// The undo of §6.7 checks the undoer for each effect: these are the grants it needs.
export function mayUndo(grants, role, event) {
  const has = (name) => can(grants, role, name);
  switch (event?.request?.type) {
    case 4: return has("playback.seek");
    case 3: return has("manage-queue.play-now") && (has("manage-queue.order") || has("manage-queue.add"));
    case 5: return has("manage-queue.remove");
    case 6: return has("manage-queue.add");
    default: return false;
  }
}
