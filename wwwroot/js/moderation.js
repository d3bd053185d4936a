// The room's bans (GET/DELETE /api/room/:name/bans) and its audit log
// (GET /api/room/:name/audit, paged newest first), each in a dialog for the roles whose grants
// allow it (docs/protocol.md §10: manage-users.ban, manage-users.view-audit-log).

import { api, roomApi } from "./api.js";
import { $, formatWhen, openDialog, setUpDialog, showText } from "./dialog.js";
import { roleName } from "./perms.js";
import { fillBanDurations } from "./users.js";

const AUDIT_PAGE = 20;

const ACTION_TEXT = {
  kick: "kicked",
  ban: "banned",
  unban: "unbanned",
  promote: "promoted",
  demote: "demoted",
  settings: "changed the settings",
  permissions: "changed the permissions",
  claim: "claimed the room",
  "clear-queue": "cleared the queue",
};

const targetText = (target) => target?.name ?? target?.user ?? null;

// A short line for an entry's details: role numbers as names, times as dates, ids left out.
function detailsText(details) {
  if (!details || typeof details !== "object") return "";
  const parts = [];
  for (const [key, value] of Object.entries(details)) {
    if (key.endsWith("Id") || value === false || value === undefined) continue;
    if (value === true) parts.push(key);
    else if (key === "expiresAt") parts.push(value === null ? "until unbanned" : `until ${formatWhen(value)}`);
    else if ((key === "from" || key === "to" || key === "role") && typeof value === "number") parts.push(`${key}: ${roleName(value)}`);
    else if (key === "grants" && Array.isArray(value)) parts.push(`for ${value.map(([role]) => roleName(role)).join(", ")}`);
    else parts.push(`${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
  }
  const text = parts.join(" · ");
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

function line(className, text) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  return span;
}

export function createModeration(ctx) {
  const bansDialog = $("bans-dialog");
  const bansList = $("bans-list");
  const bansError = $("bans-error");
  const bansStatus = $("bans-status");
  fillBanDurations($("ban-account-duration"));
  const auditDialog = $("audit-dialog");
  const auditList = $("audit-list");
  const auditError = $("audit-error");
  const more = $("audit-more");
  let next = null;

  // ----- bans -----

  function banItem(ban) {
    const row = document.createElement("li");
    row.className = "admin-item";
    row.dataset.banId = ban.id;
    const name = targetText(ban.target) ?? "Unknown user";
    const kinds = [ban.target?.session ? "session" : null, ban.target?.user ? "account" : null, ban.target?.ip ? "IP address" : null]
      .filter(Boolean).join(", ");
    const text = document.createElement("div");
    text.className = "admin-text";
    text.append(
      line("admin-title", name),
      line("admin-meta", `${kinds ? `By ${kinds} · ` : ""}${ban.expiresAt ? `until ${formatWhen(ban.expiresAt)}` : "until unbanned"}`),
      line("admin-meta", `Banned by ${ban.by ?? "?"} on ${formatWhen(ban.createdAt)}${ban.reason ? ` · “${ban.reason}”` : ""}`),
    );
    const unban = document.createElement("button");
    unban.type = "button";
    unban.textContent = "Unban";
    unban.setAttribute("aria-label", `Unban ${name}`);
    unban.addEventListener("click", () => removeBan(ban, name, row, unban));
    row.append(text, unban);
    return row;
  }

  async function loadBans() {
    showText(bansError, "");
    try {
      const { bans } = await api(ctx.token(), "GET", `${roomApi(ctx.name())}/bans`);
      bansList.replaceChildren(...bans.map(banItem));
      $("bans-empty").hidden = bans.length > 0;
    } catch (failure) {
      showText(bansError, failure.message);
    }
  }

  async function removeBan(ban, name, row, button) {
    showText(bansError, "");
    showText(bansStatus, "");
    button.disabled = true;
    try {
      await api(ctx.token(), "DELETE", `${roomApi(ctx.name())}/bans/${encodeURIComponent(ban.id)}`);
      // Focus moves to the next Unban button (or the previous, or Close) before the row goes.
      const neighbour = row.nextElementSibling ?? row.previousElementSibling;
      row.remove();
      (neighbour?.querySelector("button") ?? bansDialog.querySelector("[data-close]")).focus();
      $("bans-empty").hidden = bansList.children.length > 0;
      showText(bansStatus, `Unbanned ${name}.`);
    } catch (failure) {
      button.disabled = false;
      showText(bansError, failure.message);
    }
  }

  // ----- audit log -----

  function auditItem(entry) {
    const row = document.createElement("li");
    row.className = "admin-item audit-item";
    row.dataset.action = entry.action;
    const when = document.createElement("time");
    when.className = "admin-meta";
    when.dateTime = new Date(entry.at).toISOString();
    when.textContent = formatWhen(entry.at);
    const actor = entry.actor ? `${entry.actor.name} (${roleName(entry.actor.role)})` : "Someone";
    const target = targetText(entry.target);
    const what = `${actor} ${ACTION_TEXT[entry.action] ?? entry.action}${target ? ` ${target}` : ""}`;
    const text = document.createElement("div");
    text.className = "admin-text";
    text.append(line("admin-title", what), when);
    const details = detailsText(entry.details);
    if (details) text.append(line("admin-meta audit-details", details));
    row.append(text);
    return row;
  }

  async function loadAudit(append) {
    showText(auditError, "");
    more.disabled = true;
    const query = new URLSearchParams({ limit: String(AUDIT_PAGE) });
    if (append && next) query.set("before", next);
    try {
      const page = await api(ctx.token(), "GET", `${roomApi(ctx.name())}/audit?${query}`);
      const items = page.entries.map(auditItem);
      if (append) auditList.append(...items);
      else auditList.replaceChildren(...items);
      next = page.next ?? null;
      more.hidden = !next;
      $("audit-empty").hidden = auditList.children.length > 0;
      // After "Load older", focus goes to the first new entry's text so reading continues there.
      if (append && items.length) {
        items[0].tabIndex = -1;
        items[0].focus();
      }
    } catch (failure) {
      showText(auditError, failure.message);
    } finally {
      more.disabled = false;
    }
  }

  // A ban of an account that is not in the room (type 20's `user`).
  $("ban-account-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showText(bansError, "");
    showText(bansStatus, "");
    const user = $("ban-account-user").value.trim();
    if (!user) {
      showText(bansError, "Enter the username of the account to ban.");
      $("ban-account-user").focus();
      return;
    }
    const duration = Number($("ban-account-duration").value);
    const reason = $("ban-account-reason").value.trim();
    const body = { user, duration };
    if (reason) body.reason = reason;
    const submit = event.target.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const { ban } = await api(ctx.token(), "POST", `${roomApi(ctx.name())}/bans`, body);
      bansList.prepend(banItem(ban));
      $("bans-empty").hidden = true;
      event.target.reset();
      showText(bansStatus, `Banned ${user}.`);
    } catch (failure) {
      showText(bansError, failure.message);
    } finally {
      submit.disabled = false;
    }
  });

  more.addEventListener("click", () => loadAudit(true));
  setUpDialog(bansDialog, { onClose: () => showText(bansStatus, "") });
  setUpDialog(auditDialog);

  return {
    async openBans() {
      bansList.replaceChildren();
      $("bans-empty").hidden = true;
      showText(bansStatus, "");
      openDialog(bansDialog, bansDialog.querySelector("[data-close]"));
      await loadBans();
      // The first Unban button, or with nobody banned the username field.
      (bansList.querySelector("button") ?? $("ban-account-user")).focus();
    },
    async openAudit() {
      auditList.replaceChildren();
      $("audit-empty").hidden = true;
      more.hidden = true;
      next = null;
      openDialog(auditDialog, auditDialog.querySelector("[data-close]"));
      await loadAudit(false);
    },
  };
}
