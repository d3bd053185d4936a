// Managing one user of the room: change role (Promote, type 9), kick (type 18) and ban (the bans
// endpoint of docs/protocol.md §10), each offered only when the page's role and `sync.grants`
// allow it. Socket requests get no reply on success, so the dialog waits for the effect (the
// target's `user` update or removal) or for the `error` the server sends instead.

import { api, roomApi } from "./api.js";
import { $, openDialog, setUpDialog, showText } from "./dialog.js";
import { assignableRoles, mayBan, mayKick, roleName } from "./perms.js";

const ANSWER_MS = 10_000;

// How long a ban lasts, in seconds (0: until unbanned): the one list both ban forms offer.
const BAN_DURATIONS = [[3600, "1 hour"], [86400, "1 day"], [604800, "1 week"], [0, "Until unbanned"]];

export function fillBanDurations(select) {
  select.replaceChildren(...BAN_DURATIONS.map(([seconds, text]) => new Option(text, String(seconds))));
}

export function createUserAdmin(ctx) {
  const dialog = $("user-dialog");
  const error = $("user-error");
  const status = $("user-status");
  const roleSelect = $("role-select");
  fillBanDurations($("ban-duration"));
  let targetId = null;
  let targetName = "";
  let pending = null;
  let pendingTimer = 0;

  const actionsFor = (user) => {
    const me = ctx.me();
    if (!me || !user || user.id === me.id) return { roles: [], kick: false, ban: false };
    return {
      roles: assignableRoles(ctx.room.grants, me.role, user),
      kick: mayKick(ctx.room.grants, me.role, user),
      ban: mayBan(ctx.room.grants, me.role, user),
    };
  };

  function setBusy(busy) {
    for (const control of dialog.querySelectorAll("form button, #kick-user")) control.disabled = busy;
  }

  function settle() {
    pending = null;
    clearTimeout(pendingTimer);
    setBusy(false);
  }

  function expect(kind, extra) {
    pending = { kind, targetId, ...extra };
    setBusy(true);
    clearTimeout(pendingTimer);
    pendingTimer = setTimeout(() => {
      if (!pending) return;
      settle();
      showText(error, "The server has not answered yet. Check the user list, and try again if nothing changed.");
    }, ANSWER_MS);
  }

  function render() {
    const target = ctx.users.get(targetId);
    $("user-title").textContent = `Manage ${target?.name ?? targetName}`;
    if (!target) {
      $("user-summary").textContent = `${targetName} has left the room.`;
      for (const id of ["role-form", "role-none", "kick-row", "ban-form"]) $(id).hidden = true;
      return;
    }
    targetName = target.name;
    $("user-summary").textContent = `${roleName(target.role)} · ${target.isLoggedIn ? "logged in" : "not logged in"}`;
    const { roles, kick, ban } = actionsFor(target);
    $("role-form").hidden = roles.length === 0;
    if (roles.length) {
      const keep = roleSelect.value;
      roleSelect.replaceChildren(...roles.map((role) => new Option(`${role > target.role ? "Promote" : "Demote"} to ${roleName(role)}`, String(role))));
      if (roles.includes(Number(keep))) roleSelect.value = keep;
    }
    const roleNone = $("role-none");
    roleNone.hidden = roles.length > 0;
    roleNone.textContent = !target.isLoggedIn
      ? "Roles belong to accounts, and this user is not logged in."
      : "You may not change this user's role.";
    $("kick-row").hidden = !kick;
    $("ban-form").hidden = !ban;
  }

  function open(user) {
    targetId = user.id;
    targetName = user.name;
    settle();
    showText(error, "");
    showText(status, "");
    $("ban-reason").value = "";
    $("ban-duration").value = "3600";
    $("ban-ip").checked = false;
    render();
    openDialog(dialog);
  }

  $("role-form").addEventListener("submit", (event) => {
    event.preventDefault();
    showText(error, "");
    showText(status, "");
    const role = Number(roleSelect.value);
    if (ctx.request({ type: 9, targetClientId: targetId, role })) expect("promote", { role });
  });

  $("kick-user").addEventListener("click", () => {
    showText(error, "");
    showText(status, "");
    if (ctx.request({ type: 18, clientId: targetId })) expect("kick");
  });

  $("ban-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showText(error, "");
    showText(status, "");
    const duration = Number($("ban-duration").value);
    const reason = $("ban-reason").value.trim();
    const byIp = $("ban-ip").checked;
    const body = { clientId: targetId, duration };
    if (reason) body.reason = reason;
    if (byIp) body.byIp = true;
    const name = targetName;
    const length = $("ban-duration").selectedOptions[0].textContent;
    setBusy(true);
    try {
      const { ban } = await api(ctx.token(), "POST", `${roomApi(ctx.name())}/bans`, body);
      dialog.close();
      // The server honours byIp only with IP bans switched on; the ban it answers says which.
      const ipNote = byIp && !ban?.target?.ip ? " The server has IP bans off, so their IP address is not banned." : "";
      ctx.toast(`${duration ? `Banned ${name} for ${length}.` : `Banned ${name} until unbanned.`}${ipNote}`, { duration: ipNote ? 8000 : 4000 });
    } catch (failure) {
      showText(error, failure.message);
    } finally {
      setBusy(false);
    }
  });

  setUpDialog(dialog, {
    onClose: () => {
      settle();
      targetId = null;
    },
  });

  return {
    manageButton(user) {
      const { roles, kick, ban } = actionsFor(user);
      if (!roles.length && !kick && !ban) return null;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "manage";
      button.id = `manage-${user.id}`;
      button.textContent = "Manage";
      button.dataset.action = "manage";
      button.setAttribute("aria-label", `Manage ${user.name}`);
      button.setAttribute("aria-haspopup", "dialog");
      button.addEventListener("click", () => open(ctx.users.get(user.id) ?? user));
      return button;
    },

    onSync(sync) {
      if (dialog.open && targetId && "grants" in sync) render();
    },

    // Returns true when the message answered this dialog's request and needs no other handling.
    onMessage(message) {
      if (!dialog.open || !targetId) return false;
      if (message.action === "error" && pending) {
        settle();
        showText(error, message.error || message.name);
        return true;
      }
      if (message.action !== "user") return false;
      const { kind, value } = message.update;
      if (kind === "update" && value.id === targetId) {
        if (pending?.kind === "promote" && value.role === pending.role) {
          settle();
          showText(status, `${value.name} is now ${roleName(value.role)}.`);
        }
        queueMicrotask(render);
      } else if (kind === "remove" && value === targetId) {
        if (pending?.kind === "kick") {
          const name = targetName;
          dialog.close();
          ctx.toast(`Kicked ${name}.`);
        } else {
          queueMicrotask(render);
        }
      } else if (kind === "init" || (kind === "update" && value.id === ctx.me()?.id)) {
        // A new socket, or a change of the page's own role, changes what may be offered.
        queueMicrotask(render);
      }
      return false;
    },
  };
}
