// The room socket: auth on open, reconnect after codes below 4000 with OTT's backoff, and the
// final close reasons of docs/protocol.md §1.7–1.8.

export const CLOSE_REASONS = {
  4000: "Something happened, but we don't know what. Please report this as a bug.",
  4001: "This room address is not valid.",
  4002: "Room not found.",
  4003: "Room was unloaded.",
  4004: "A token was not provided. Refresh the page and try again. Otherwise, please open an issue on GitHub.",
  4005: "You were kicked from the room by a user.",
};

// A ban closes with 4005 too, with the reason text `banned` (docs/protocol.md §10).
export const closeReason = (code, text) => (code === 4005 && text === "banned"
  ? "You are banned from this room."
  : CLOSE_REASONS[code] ?? `The connection was closed (code ${code}).`);

// OTT's client: round((1000 + 2000 × attempts) × (0.5 + random[0,1))) ms.
export const reconnectDelay = (attempts, random = Math.random) => Math.round((1000 + 2000 * attempts) * (0.5 + random()));

export class RoomConnection {
  #url;
  #token;
  #onMessage;
  #onState;
  #socket = null;
  #attempts = 0;
  #timer = 0;
  #stopped = false;
  #beforeAuth;

  // onState(state, detail): "connecting" | "open" | "reconnecting" {code, delay} | "closed" {code, reason}.
  // beforeAuth(): an optional message sent ahead of the auth on every open (the clock probe, clock.js).
  constructor({ roomName, token, onMessage, onState, beforeAuth = null }) {
    this.#beforeAuth = beforeAuth;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.#url = `${scheme}://${location.host}/api/room/${encodeURIComponent(roomName)}`;
    this.#token = token;
    this.#onMessage = onMessage;
    this.#onState = onState;
  }

  start() {
    this.#open(false);
  }

  get isOpen() {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (!this.isOpen) return false;
    this.#socket.send(JSON.stringify(message));
    return true;
  }

  request(request) {
    return this.send({ action: "req", request });
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#socket?.close(1000);
  }

  #open(reconnect) {
    this.#onState("connecting", { reconnect });
    const socket = new WebSocket(reconnect ? `${this.#url}?reconnect=true` : this.#url);
    this.#socket = socket;
    socket.addEventListener("open", () => {
      this.#attempts = 0;
      if (this.#beforeAuth) socket.send(JSON.stringify(this.#beforeAuth()));
      socket.send(JSON.stringify({ action: "auth", token: this.#token }));
      this.#onState("open", { reconnect });
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message && typeof message.action === "string") this.#onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.#socket !== socket || this.#stopped) return;
      this.#socket = null;
      if (event.code >= 4000) {
        this.#onState("closed", { code: event.code, reason: closeReason(event.code, event.reason) });
        return;
      }
      const delay = reconnectDelay(this.#attempts++);
      this.#onState("reconnecting", { code: event.code, delay });
      this.#timer = setTimeout(() => this.#open(true), delay);
    });
  }
}
