// The room settings dialog: the settings of docs/protocol.md §4.3 and the permissions grid of §7,
// saved with one `PATCH /api/room/:name` that carries only what the user changed, so a user who
// may change one thing is never refused for the others (§6.6).

import { api, roomApi } from "./api.js";
import { $, openDialog, setUpDialog, showText } from "./dialog.js";
import { can, EDITABLE_ROLES, grantsMap, hasBit, PERMISSIONS, roleName } from "./perms.js";

const CATEGORIES = [
  ["sponsor", "Sponsor"], ["intro", "Intro"], ["outro", "Outro"], ["interaction", "Interaction reminder"],
  ["selfpromo", "Self-promotion"], ["music_offtopic", "Non-music part"], ["preview", "Preview or recap"],
];

// Each setting: its input, how to read and write it, and the grant that allows changing it (§6.6).
const FIELDS = {
  title: { grant: "configure-room.set-title", read: (e) => e.value, write: (e, v) => { e.value = v ?? ""; } },
  description: { grant: "configure-room.set-description", read: (e) => e.value, write: (e, v) => { e.value = v ?? ""; } },
  visibility: { grant: "configure-room.set-visibility", read: (e) => e.value, write: (e, v) => { e.value = v; } },
  queueMode: { grant: "configure-room.set-queue-mode", read: (e) => e.value, write: (e, v) => { e.value = v; } },
  enableVoteSkip: { grant: "configure-room.other", read: (e) => e.checked, write: (e, v) => { e.checked = !!v; } },
  restoreQueueBehavior: { grant: "configure-room.other", read: (e) => Number(e.value), write: (e, v) => { e.value = String(v ?? 1); } },
  waitForBuffering: { grant: "configure-room.other", optional: true, read: (e) => Number(e.value), write: (e, v) => { e.value = String(v ?? 0); } },
};
const SETTINGS_GRANTS = ["configure-room.set-title", "configure-room.set-description", "configure-room.set-visibility",
  "configure-room.set-queue-mode", "configure-room.other", ...EDITABLE_ROLES.map((r) => r.grant)];

const SHORT_ROLE_NAMES = { 0: "Unreg.", 1: "Reg.", 2: "Trusted", 3: "Mod." };

const sameList = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

export function createSettings(ctx) {
  const dialog = $("settings-dialog");
  const form = $("settings-form");
  const error = $("settings-error");
  const grid = $("perm-grid");
  const categoryBox = $("set-categories");
  const dirty = new Set();
  let baseMasks = new Map();
  let masks = new Map();
  let editedRoles = new Set();

  for (const [value, label] of CATEGORIES) {
    const box = document.createElement("label");
    box.className = "check";
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "category";
    input.value = value;
    box.append(input, ` ${label}`);
    categoryBox.append(box);
  }

  const input = (key) => $(`set-${key}`);
  const allowed = (grant) => can(ctx.room.grants, ctx.myRole(), grant);
  const categoryInputs = () => [...categoryBox.querySelectorAll("input")];
  const readCategories = () => categoryInputs().filter((i) => i.checked).map((i) => i.value);
  const hasWait = () => ctx.hasSetting("waitForBuffering");

  // Fields the user has not touched follow the room while the dialog is open.
  function fill(keys) {
    for (const key of keys) {
      if (key === "autoSkipSegmentCategories") {
        if (dirty.has(key)) continue;
        const on = new Set(ctx.room.autoSkipSegmentCategories ?? []);
        for (const box of categoryInputs()) box.checked = on.has(box.value);
      } else if (key === "grants") {
        if (editedRoles.size) continue;
        baseMasks = grantsMap(ctx.room.grants);
        masks = new Map(baseMasks);
        renderGrid();
      } else if (FIELDS[key] && !dirty.has(key)) {
        FIELDS[key].write(input(key), ctx.setting(key));
      }
    }
    $("set-waitForBuffering-row").hidden = !hasWait();
  }

  function applyAccess() {
    for (const [key, field] of Object.entries(FIELDS)) input(key).disabled = !allowed(field.grant);
    const other = allowed("configure-room.other");
    for (const box of categoryInputs()) box.disabled = !other;
    $("permissions-readonly").hidden = EDITABLE_ROLES.some((r) => allowed(r.grant));
    const me = ctx.me();
    $("claim-row").hidden = !(me?.isLoggedIn && ctx.room.hasOwner === false);
  }

  // Rows are permissions, columns the four roles whose masks can be set. A cell is a checkbox
  // unless the role can never hold the permission; it is read-only when the user may not set that
  // role's permissions, or when a lower role grants it (masks are cumulative, §7.2).
  function renderGrid() {
    const focusedId = document.activeElement?.closest?.("#perm-grid") ? document.activeElement.id : null;
    const head = document.createElement("tr");
    const corner = document.createElement("th");
    corner.scope = "col";
    corner.textContent = "Permission";
    head.append(corner);
    for (const { role } of EDITABLE_ROLES) {
      const th = document.createElement("th");
      th.scope = "col";
      // At phone width the short name is shown and the full one stays for screen readers.
      const full = document.createElement("span");
      full.className = "role-full";
      full.textContent = roleName(role);
      const short = document.createElement("span");
      short.className = "role-short";
      short.setAttribute("aria-hidden", "true");
      short.textContent = SHORT_ROLE_NAMES[role];
      th.append(full, short);
      head.append(th);
    }
    grid.tHead.replaceChildren(head);
    const rows = PERMISSIONS.map((perm) => {
      const row = document.createElement("tr");
      const label = document.createElement("th");
      label.scope = "row";
      label.textContent = perm.label;
      label.title = perm.name;
      row.append(label);
      for (const { role, grant } of EDITABLE_ROLES) {
        const cell = document.createElement("td");
        if (perm.minRole > role) {
          cell.className = "na";
          cell.textContent = "–";
          cell.title = `${roleName(role)} users can never hold this permission`;
        } else {
          const box = document.createElement("input");
          box.type = "checkbox";
          box.id = `perm-${perm.bit}-${role}`;
          box.dataset.bit = String(perm.bit);
          box.dataset.role = String(role);
          box.checked = hasBit(masks.get(role) ?? 0, perm.mask);
          const inherited = role > 0 && hasBit(masks.get(role - 1) ?? 0, perm.mask);
          box.disabled = !allowed(grant) || inherited;
          box.setAttribute("aria-label", `${perm.label}: ${roleName(role)}${inherited ? " (inherited)" : ""}`);
          cell.append(box);
        }
        row.append(cell);
      }
      return row;
    });
    grid.tBodies[0].replaceChildren(...rows);
    if (focusedId) $(focusedId)?.focus();
  }

  grid.addEventListener("change", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.dataset.bit) return;
    const mask = 2 ** Number(box.dataset.bit);
    const role = Number(box.dataset.role);
    editedRoles.add(role);
    for (let r = role; r <= 3; r++) {
      const had = hasBit(masks.get(r) ?? 0, mask);
      // Checking grants the higher roles the bit by inheritance; unchecking takes it from this role only.
      if (box.checked && !had) masks.set(r, (masks.get(r) ?? 0) + mask);
      else if (!box.checked && had && r === role) masks.set(r, masks.get(r) - mask);
    }
    renderGrid();
  });

  form.addEventListener("input", (event) => {
    const key = event.target.name === "category" ? "autoSkipSegmentCategories" : event.target.name;
    if (key) dirty.add(key);
    showText(error, "");
  });

  function changes() {
    const body = {};
    for (const [key, field] of Object.entries(FIELDS)) {
      if (field.optional && !hasWait()) continue;
      const value = field.read(input(key));
      if (allowed(field.grant) && value !== ctx.setting(key)) body[key] = value;
    }
    const categories = readCategories();
    if (allowed("configure-room.other") && !sameList(categories, ctx.room.autoSkipSegmentCategories ?? [])) {
      body.autoSkipSegmentCategories = categories;
    }
    // Only the columns the user edited: the server adds the inherited bits to the higher roles.
    const grants = [...editedRoles].sort().filter((role) => masks.get(role) !== baseMasks.get(role))
      .map((role) => [role, masks.get(role)]);
    if (grants.length) body.grants = grants;
    return body;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showText(error, "");
    const wait = input("waitForBuffering");
    if (hasWait() && !wait.disabled && !(Number.isInteger(Number(wait.value)) && Number(wait.value) >= 0 && Number(wait.value) <= 30)) {
      showText(error, "Wait for buffering users must be a whole number of seconds from 0 to 30.");
      wait.focus();
      return;
    }
    const body = changes();
    if (!Object.keys(body).length) {
      dialog.close();
      return;
    }
    const save = $("settings-save");
    save.disabled = true;
    try {
      await api(ctx.token(), "PATCH", roomApi(ctx.name()), body);
      dialog.close();
      ctx.toast("Room settings saved.");
    } catch (failure) {
      // The dialog stays open with every edit in place, so the user can fix and save again.
      showText(error, failure.message);
    } finally {
      save.disabled = false;
    }
  });

  $("claim-room").addEventListener("click", async () => {
    showText(error, "");
    try {
      await api(ctx.token(), "PATCH", roomApi(ctx.name()), { claim: true });
      $("claim-row").hidden = true;
      ctx.toast("You own this room now.");
      $("settings-save").focus();
    } catch (failure) {
      showText(error, failure.message);
    }
  });

  setUpDialog(dialog, {
    onClose: () => {
      dirty.clear();
      editedRoles = new Set();
      showText(error, "");
    },
  });

  return {
    // Shown to anyone who may change a setting or a role's permissions, or claim the room.
    visible: () => !!ctx.me() && (SETTINGS_GRANTS.some(allowed) || (ctx.me().isLoggedIn && ctx.room.hasOwner === false)),
    open() {
      dirty.clear();
      editedRoles = new Set();
      fill([...Object.keys(FIELDS), "autoSkipSegmentCategories", "grants"]);
      applyAccess();
      openDialog(dialog, input("title").disabled ? null : input("title"));
    },
    onSync(sync) {
      if (!dialog.open) return;
      fill(Object.keys(sync));
      if ("grants" in sync || "hasOwner" in sync) {
        applyAccess();
        renderGrid();
      }
    },
    onRoleChange() {
      if (!dialog.open) return;
      applyAccess();
      renderGrid();
    },
  };
}
