import { createAdmin } from "./admin.js";
import { api, grantToken, roomApi, roomPath } from "./api.js";
import { RoomConnection } from "./connection.js";
import { createPlayer } from "./players.js";
import { ClockSync } from "./clock.js";
import { correct, DRIFT, DRIFT_SYNCED, formatTime, PlaybackClock } from "./timing.js";

const $ = (id) => document.getElementById(id);
const ROLES = { "-1": "Owner", 0: "Unregistered", 1: "Registered", 2: "Trusted", 3: "Moderator", 4: "Administrator" };
const STATUS_TEXT = { none: "no status", ready: "ready", buffering: "buffering", error: "player error" };
const TICK_MS = 100;
const REPORT_MS = 1000;

const urlName = decodeURIComponent(location.pathname.replace(/^\/room\//, "").replace(/\/.*$/, ""));
const room = { name: urlName, queue: [], voteCounts: [], currentSource: null, isPlaying: false, playbackSpeed: 1 };
const users = new Map();
const myVotes = new Set();
// Clock sync and anchors (clock.js, docs/protocol.md §10): the room's position by the server's clock.
const timeSync = new ClockSync({ send: (message) => connection?.send(message) ?? false, onChange: renderClock });
const clock = new PlaybackClock(undefined, () => (timeSync.ready ? timeSync.serverNow() : null));
let seekStartedAt = 0;
let waitingOn = new Set(); // whom the room waits on while members buffer (docs/protocol.md §10)
let ackReady = false;
let seekCost = 0.03; // seconds a seek of this player takes, measured; a seek aims this far ahead
let me = null;
let token = null;
let connection = null;
let player = null;
let playerKey = null;
let sentStatus = null;
let wantedStatus = "none";
let statusTimer = 0;
let statusDeadline = 0;
let seekDragging = false;
let playbackBlocked = false;
let volume = { level: 1, muted: false };
let admin = null;

const keyOf = (video) => (video ? `${video.service}${video.id}` : null);
const titleOf = (video) => video?.title || video?.id || "a video";
const canonicalName = () => room.name || urlName;

// ----- toasts -----

// `action`: a button (Undo) shown in the toast; the toast stays while it has focus or the pointer.
function toast(text, { alert = false, duration = 4000, action = null } = {}) {
  const region = alert ? $("alerts") : $("toasts");
  const item = document.createElement("p");
  item.className = alert ? "toast toast-error" : "toast";
  const span = document.createElement("span");
  span.className = "toast-text";
  span.textContent = text;
  item.append(span);
  if (action) item.append(" ", action);
  region.append(item);
  while (region.children.length > 4) region.firstElementChild.remove();
  const expire = () => (item.matches(":focus-within, :hover") ? setTimeout(expire, 1000) : item.remove());
  setTimeout(expire, action ? Math.max(duration, 8000) : duration);
}

function eventText({ request, user, additional }) {
  const who = user?.name ?? "Someone";
  switch (request.type) {
    case 0: return `${who} joined`;
    case 1: return `${additional?.user?.name ?? who} left`;
    case 2: return request.state ? `${who} played` : `${who} paused`;
    case 3: return `${who} skipped ${titleOf(additional?.video)}`;
    case 4: return `${who} seeked to ${formatTime(request.value)}`;
    case 5: return request.videos ? `${who} added ${request.videos.length} videos` : `${who} added ${titleOf(additional?.video)}`;
    case 6: return `${who} removed ${titleOf(additional?.video)}`;
    case 19: return `${who} updated a video's settings`;
    default: return null;
  }
}

// ----- the socket -----

function onMessage(message) {
  if (admin?.onMessage(message)) return;
  switch (message.action) {
    case "sync": return onSync(message);
    case "ott-time": return timeSync.onReply(message);
    case "ott-anchor":
      clock.applyAnchor(message);
      waitingOn = new Set(message.waiting ?? []);
      ackReady = waitingOn.has(me);
      renderUsers();
      return tick();
    case "event": {
      const text = eventText(message);
      if (text) toast(text, { action: admin?.undoButton(message, text) });
      return;
    }
    case "chat": return appendChat(message.from, message.text);
    case "user": return onUser(message.update);
    case "you":
      me = message.info.id;
      renderUsers();
      sendStatus(true);
      return;
    case "error": return toast(message.error || message.name, { alert: true, duration: 6000 });
    case "announcement": return toast(message.text, { duration: 60000 });
    case "eventcustom": return toast(message.text, { duration: message.duration ?? 3000 });
    default:
  }
}

function onState(state, detail) {
  document.body.dataset.connection = state;
  // How many times a socket has opened: lets a reader (or a test) tell a reconnect happened.
  if (state === "open") document.body.dataset.opened = String(Number(document.body.dataset.opened ?? 0) + 1);
  const line = $("connection");
  if (state === "connecting") line.textContent = detail.reconnect ? "Reconnecting…" : "Connecting…";
  else if (state === "open") line.textContent = "Connected";
  else if (state === "reconnecting") line.textContent = `Connection lost; reconnecting in ${Math.ceil(detail.delay / 1000)} s…`;
  else if (state === "closed") {
    line.textContent = "Disconnected";
    $("disconnected-reason").textContent = detail.reason;
    $("disconnected").showModal();
    $("reload").focus();
  }
  if (state === "open") timeSync.start();
  if (state !== "open") {
    timeSync.stop();
    clock.dropAnchor();
    // A reconnect starts over: a new client id, a full sync and a fresh user list; votes stay
    // with the old id (docs/protocol.md §1.8).
    me = null;
    sentStatus = null;
    if (myVotes.size) {
      myVotes.clear();
      renderQueue();
    }
  }
}

function onSync(sync) {
  const oldKey = keyOf(room.currentSource);
  Object.assign(room, sync);
  clock.apply(sync);
  if ("name" in sync && sync.name !== urlName && location.pathname !== roomPath(sync.name)) {
    history.replaceState(null, "", roomPath(sync.name));
  }
  if ("title" in sync || "name" in sync) {
    const title = room.title || room.name;
    $("room-title").textContent = title;
    document.title = `${title} · Ott`;
  }
  if ("currentSource" in sync && keyOf(room.currentSource) !== oldKey) loadCurrent();
  if ("queue" in sync || "voteCounts" in sync) renderQueue();
  if ("isPlaying" in sync) {
    $("play").textContent = room.isPlaying ? "Pause" : "Play";
  }
  if ("playbackSpeed" in sync) $("speed").value = String(room.playbackSpeed);
  // Who may manage whom follows the grants: the user list's Manage buttons too.
  if ("grants" in sync) renderUsers();
  admin?.onSync(sync);
  tick();
}

function onUser(update) {
  if (update.kind === "init") {
    users.clear();
    for (const user of update.value) users.set(user.id, user);
  } else if (update.kind === "update") {
    users.set(update.value.id, update.value);
  } else if (update.kind === "remove") {
    users.delete(update.value);
  }
  renderUsers();
}

// Debounced like OTT's client means to (200 ms, at most 500 ms), and only changes are sent.
function setStatus(status) {
  wantedStatus = status;
  clearTimeout(statusTimer);
  const now = performance.now();
  if (!statusDeadline) statusDeadline = now + 500;
  statusTimer = setTimeout(() => sendStatus(false), Math.max(0, Math.min(200, statusDeadline - now)));
}

function sendStatus(force) {
  statusDeadline = 0;
  if (!me || (!force && wantedStatus === sentStatus) || wantedStatus === "none") return;
  if (connection?.send({ action: "status", status: wantedStatus })) sentStatus = wantedStatus;
}

// ----- the player -----

function loadCurrent() {
  player?.destroy();
  player = null;
  playbackBlocked = false;
  $("player-start").hidden = true;
  $("player-problem").hidden = true;
  const item = room.currentSource;
  playerKey = keyOf(item);
  $("player-empty").hidden = !!item;
  $("now-playing").textContent = item ? `Now playing: ${titleOf(item)}` : "Nothing playing";
  if (!item) {
    setStatus("none");
    renderTime();
    return;
  }
  const key = playerKey;
  player = createPlayer(item, $("player-host"), {
    onStatus: (status) => {
      if (key !== playerKey) return;
      if (status === "ready" && seekStartedAt) {
        seekCost = Math.min(0.3, 0.5 * seekCost + 0.5 * ((performance.now() - seekStartedAt) / 1000));
        seekStartedAt = 0;
      }
      setStatus(status);
    },
    onProblem: (text) => {
      if (key !== playerKey) return;
      $("player-problem").textContent = text;
      $("player-problem").hidden = false;
    },
    onBlocked: () => {
      if (key !== playerKey) return;
      playbackBlocked = true;
      $("player-start").hidden = false;
    },
  });
  player.load(item);
  player.setVolume(volume.level, volume.muted);
}

function mediaLength() {
  const known = room.currentSource?.length;
  if (Number.isFinite(known) && known > 0) return known;
  const measured = player?.duration;
  return Number.isFinite(measured) && measured > 0 ? measured : 0;
}

// The drift loop: follow the room's live position (timing.js has the rule).
function tick() {
  renderTime();
  const p = player;
  if (!p || !p.ready) return;
  const length = mediaLength();
  let target = clock.live();
  if (length > 0) target = Math.min(target, length);
  const atEnd = length > 0 && target >= length - 0.05;
  if (clock.isPlaying && p.paused && !p.ended && !atEnd && !playbackBlocked) p.play();
  if (!clock.isPlaying && !p.paused) p.pause();
  if (p.seeking) return;
  if (ackReady && wantedStatus === "ready") {
    // The room waits on this player: say it is ready even when its status never changed (a quick seek).
    ackReady = !connection?.send({ action: "status", status: "ready" });
  }
  const drift = p.currentTime - target;
  if (atEnd && p.ended) return;
  const synced = clock.synced && timeSync.ready;
  const playing = clock.isPlaying && !p.paused;
  const { seek, rate } = correct(drift, clock.speed, playing, p.canNudge, synced ? DRIFT_SYNCED : DRIFT);
  if (seek) {
    seekStartedAt = performance.now();
    p.seek(synced && playing ? target + seekCost * clock.speed : target);
  }
  p.setRate(rate);
}

// The clock panel, and drift reports: where this player is at a server instant (docs/protocol.md §10).
function renderClock(filter) {
  const body = document.body.dataset;
  body.clockOffset = String(Math.round(filter.offset));
  body.clockSamples = String(filter.samples.length);
  $("clock-debug").textContent =
    `Clock offset ${Math.round(filter.offset)} ms ± ${Math.round(filter.uncertainty)} ms (round trip ${Math.round(filter.rtt)} ms)`;
}

function report() {
  const p = player;
  if (!p || !p.ready || !clock.synced || !timeSync.ready) return;
  const drift = p.currentTime - clock.live();
  $("clock-debug").dataset.drift = String(Math.round(drift * 1000));
  connection?.send({
    action: "ott-report",
    position: Math.max(0, p.currentTime),
    at: timeSync.serverNow(),
    buffering: wantedStatus === "buffering",
    uncertainty: timeSync.filter.uncertainty,
  });
}

function renderTime() {
  const length = mediaLength();
  const position = Math.max(0, Math.min(clock.live(), length || Infinity));
  const slider = $("seek");
  slider.max = String(length);
  slider.disabled = !room.currentSource;
  if (!seekDragging) {
    slider.value = String(position);
    slider.setAttribute("aria-valuetext", `${formatTime(position)} of ${formatTime(length)}`);
  }
  $("time").textContent = `${formatTime(seekDragging ? Number(slider.value) : position)} / ${formatTime(length)}`;
}

// ----- queue -----

function renderQueue() {
  const list = $("queue");
  const focused = document.activeElement?.closest?.("#queue [data-key]") ? {
    key: document.activeElement.closest("[data-key]").dataset.key,
    action: document.activeElement.dataset.action,
  } : null;
  const counts = new Map(room.voteCounts ?? []);
  const items = room.queue ?? [];
  list.replaceChildren(...items.map((video, index) => queueItem(video, index, items.length, counts.get(keyOf(video)) ?? 0)));
  $("queue-count").textContent = `(${items.length})`;
  $("queue-empty").hidden = items.length > 0;
  if (focused) {
    // Keep keyboard focus on the item that moved, or on a neighbour if it went away.
    const row = list.querySelector(`[data-key="${CSS.escape(focused.key)}"]`);
    let button = row?.querySelector(`[data-action="${focused.action}"]:not(:disabled)`) ?? row?.querySelector("button:not(:disabled)");
    button ??= list.querySelector("button:not(:disabled)") ?? $("add-url");
    button.focus();
  }
}

function queueItem(video, index, count, votes) {
  const key = keyOf(video);
  const title = titleOf(video);
  const row = document.createElement("li");
  row.className = "queue-item";
  row.dataset.key = key;
  const text = document.createElement("div");
  text.className = "queue-text";
  const name = document.createElement("span");
  name.className = "queue-title";
  name.textContent = title;
  name.title = title;
  const meta = document.createElement("span");
  meta.className = "queue-meta";
  meta.textContent = [video.length ? formatTime(video.length) : null, video.service, `${votes} vote${votes === 1 ? "" : "s"}`].filter(Boolean).join(" · ");
  text.append(name, meta);
  const actions = document.createElement("div");
  actions.className = "queue-actions";
  const voted = myVotes.has(key);
  actions.append(
    button("↑", `Move ${title} up`, "up", index === 0, () => request({ type: 7, fromIdx: index, toIdx: index - 1 })),
    button("↓", `Move ${title} down`, "down", index === count - 1, () => request({ type: 7, fromIdx: index, toIdx: index + 1 })),
    button(voted ? "Unvote" : "Vote", `${voted ? "Remove vote for" : "Vote for"} ${title}`, "vote", false, () => vote(video, !voted), voted),
    button("Play now", `Play ${title} now`, "playnow", false, () => request({ type: 14, video })),
    button("Remove", `Remove ${title}`, "remove", false, () => rest("DELETE", `${roomApi(canonicalName())}/queue`, { service: video.service, id: video.id })),
  );
  row.append(text, actions);
  return row;
}

function button(label, ariaLabel, action, disabled, onClick, pressed) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.action = action;
  b.setAttribute("aria-label", ariaLabel);
  if (pressed !== undefined) b.setAttribute("aria-pressed", String(pressed));
  b.disabled = disabled;
  b.addEventListener("click", onClick);
  return b;
}

async function vote(video, add) {
  const key = keyOf(video);
  if (await rest(add ? "POST" : "DELETE", `${roomApi(canonicalName())}/vote`, { service: video.service, id: video.id })) {
    if (add) myVotes.add(key);
    else myVotes.delete(key);
    renderQueue();
  }
}

async function rest(method, path, body) {
  try {
    await api(token, method, path, body);
    return true;
  } catch (error) {
    toast(error.message, { alert: true, duration: 6000 });
    return false;
  }
}

// ----- users and chat -----

function renderUsers() {
  const list = $("users");
  // Keep keyboard focus on a user's Manage button across the re-render.
  const focusedUser = document.activeElement?.closest?.("#users [data-user-id]")?.dataset.userId;
  const sorted = [...users.values()].sort((a, b) => (b.id === me) - (a.id === me) || a.name.localeCompare(b.name));
  list.replaceChildren(...sorted.map((user) => {
    const row = document.createElement("li");
    row.className = "user";
    row.dataset.userId = user.id;
    row.dataset.status = user.status;
    const name = document.createElement("span");
    name.className = "user-name";
    name.textContent = user.id === me ? `${user.name} (you)` : user.name;
    const meta = document.createElement("span");
    meta.className = "user-meta";
    const dot = document.createElement("span");
    dot.className = `status-dot status-${user.status}`;
    dot.setAttribute("aria-hidden", "true");
    meta.append(dot, `${ROLES[user.role] ?? `Role ${user.role}`} · ${STATUS_TEXT[user.status] ?? user.status}`);
    if (waitingOn.has(user.id)) meta.append(" · room waits");
    row.append(name, meta);
    const manage = admin?.manageButton(user);
    if (manage) row.append(manage);
    return row;
  }));
  if (focusedUser) list.querySelector(`[data-user-id="${CSS.escape(focusedUser)}"] button`)?.focus();
  $("user-count").textContent = `(${users.size})`;
  admin?.onUsersChanged();
  const self = users.get(me);
  const nameInput = $("name-input");
  if (self && document.activeElement !== nameInput && !nameInput.dataset.dirty) nameInput.value = self.name;
}

function appendChat(from, text) {
  const log = $("chat-log");
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
  const row = document.createElement("li");
  const who = document.createElement("strong");
  who.textContent = `${from?.name ?? "?"}: `;
  row.append(who, text);
  log.append(row);
  while (log.children.length > 200) log.firstElementChild.remove();
  if (stick) log.scrollTop = log.scrollHeight;
}

// ----- controls -----

function request(body) {
  if (connection?.request(body)) return true;
  toast("Not connected; try again in a moment.", { alert: true });
  return false;
}

function wire() {
  $("play").addEventListener("click", () => request({ type: 2, state: !room.isPlaying }));
  $("skip").addEventListener("click", () => request({ type: 3 }));
  $("back").addEventListener("click", () => request({ type: 4, value: Math.max(0, clock.live() - 10) }));
  $("forward").addEventListener("click", () => {
    const length = mediaLength();
    request({ type: 4, value: length ? Math.min(length, clock.live() + 10) : clock.live() + 10 });
  });
  const slider = $("seek");
  slider.addEventListener("input", () => {
    seekDragging = true;
    renderTime();
  });
  slider.addEventListener("change", () => {
    seekDragging = false;
    request({ type: 4, value: Number(slider.value) });
  });
  slider.addEventListener("blur", () => {
    seekDragging = false;
  });
  $("speed").addEventListener("change", (event) => request({ type: 16, speed: Number(event.target.value) }));
  $("volume").addEventListener("input", (event) => {
    volume.level = Number(event.target.value);
    player?.setVolume(volume.level, volume.muted);
  });
  $("mute").addEventListener("click", (event) => {
    volume.muted = !volume.muted;
    event.target.setAttribute("aria-pressed", String(volume.muted));
    event.target.textContent = volume.muted ? "Unmute" : "Mute";
    player?.setVolume(volume.level, volume.muted);
  });
  $("player-start").addEventListener("click", () => {
    playbackBlocked = false;
    $("player-start").hidden = true;
    player?.play();
    tick();
  });

  $("add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("add-url");
    const submit = event.target.querySelector("button");
    submit.disabled = true;
    if (await rest("POST", `${roomApi(canonicalName())}/queue`, { url: input.value.trim() })) input.value = "";
    submit.disabled = false;
  });

  const nameInput = $("name-input");
  nameInput.addEventListener("input", () => {
    nameInput.dataset.dirty = "1";
  });
  $("name-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await rest("POST", "/api/user", { username: nameInput.value.trim() })) {
      delete nameInput.dataset.dirty;
      connection?.send({ action: "notify", message: "usernameChanged" });
    }
  });

  $("chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("chat-input");
    const text = input.value.trim();
    if (!text) return;
    if (request({ type: 11, text })) input.value = "";
  });

  $("reload").addEventListener("click", () => location.reload());
}

async function main() {
  $("room-title").textContent = urlName;
  admin = createAdmin({
    room,
    users,
    me: () => users.get(me),
    token: () => token,
    name: canonicalName,
    request,
    toast,
  });
  wire();
  renderQueue();
  try {
    token = await grantToken();
  } catch (error) {
    onState("closed", { reason: error.message });
    return;
  }
  connection = new RoomConnection({ roomName: urlName, token, onMessage, onState, beforeAuth: () => timeSync.probe() });
  connection.start();
  setInterval(tick, TICK_MS);
  setInterval(report, REPORT_MS);
}

main();
