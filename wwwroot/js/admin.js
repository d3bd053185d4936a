// The watch page's admin side (issue 18): room settings and the permissions grid (settings.js),
// role changes, kicks and bans (users.js), the bans list and audit log (moderation.js), and undo on
// event toasts. room.js owns the room state and calls the hooks below; this module only reads it.

import { api, roomApi } from "./api.js";
import { $ } from "./dialog.js";
import { can, mayUndo } from "./perms.js";
import { createModeration } from "./moderation.js";
import { createSettings } from "./settings.js";
import { createUserAdmin } from "./users.js";

// ctx: { room, users, me(), token(), name(), request(body), toast(text, options) } from room.js.
export function createAdmin(ctx) {
  // Settings that reach the page outside `sync`: the wait-for-buffering seconds (issue 16) come
  // in the `ott-anchor` frames of clock-synced pages, not as a sync key.
  const extra = {};
  const full = {
    ...ctx,
    myRole: () => ctx.me()?.role,
    hasSetting: (key) => key in ctx.room || key in extra,
    setting: (key) => (key in ctx.room ? ctx.room[key] : extra[key]),
  };
  const settings = createSettings(full);
  const userAdmin = createUserAdmin(full);
  const moderation = createModeration(full);
  $("room-title").tabIndex = -1;

  $("open-settings").addEventListener("click", () => settings.open());
  $("open-bans").addEventListener("click", () => moderation.openBans());
  $("open-audit").addEventListener("click", () => moderation.openAudit());

  // The header offers only what the page's role may use; the server checks again.
  function renderNav() {
    const role = full.myRole();
    $("open-settings").hidden = !settings.visible();
    $("open-bans").hidden = !can(ctx.room.grants, role, "manage-users.ban");
    $("open-audit").hidden = !can(ctx.room.grants, role, "manage-users.view-audit-log");
  }

  async function undo(event, item, button) {
    // Disabling a focused button drops its focus: note it first, and keep keyboard focus in the
    // notifications when the button goes away.
    const hadFocus = document.activeElement === button;
    button.disabled = true;
    try {
      await api(ctx.token(), "POST", `${roomApi(ctx.name())}/undo`, { data: { event } });
      if (hadFocus) $("toasts").focus();
      button.remove();
      const text = item.querySelector(".toast-text");
      text.textContent = `Undone: ${text.textContent}`;
    } catch (failure) {
      button.disabled = false;
      if (hadFocus) button.focus();
      ctx.toast(`Undo failed: ${failure.message}`, { alert: true, duration: 6000 });
    }
  }

  return {
    renderNav,
    onSync(sync) {
      settings.onSync(sync);
      userAdmin.onSync(sync);
      if ("grants" in sync || "hasOwner" in sync) renderNav();
    },
    // Called before room.js handles a message; true means it was an answer to an admin dialog.
    onMessage(message) {
      if (message.action === "ott-anchor" && typeof message.waitForBuffering === "number"
        && message.waitForBuffering !== extra.waitForBuffering) {
        extra.waitForBuffering = message.waitForBuffering;
        settings.onSync({ waitForBuffering: message.waitForBuffering });
      }
      return userAdmin.onMessage(message);
    },
    onUsersChanged() {
      settings.onRoleChange();
      renderNav();
    },
    manageButton: (user) => userAdmin.manageButton(user),
    // An Undo button for the toast of a Seek, Skip, Add or Remove event (docs/protocol.md §6.7),
    // when the page's role holds what the undo needs; null otherwise.
    undoButton(event, text) {
      if (!event.id || !mayUndo(ctx.room.grants, full.myRole(), event)) return null;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "toast-undo";
      button.textContent = "Undo";
      button.setAttribute("aria-label", `Undo: ${text}`);
      button.addEventListener("click", () => undo(event, button.closest(".toast"), button));
      return button;
    },
  };
}
