// The client half of docs/protocol.md §5's timing model and §6.4's live position, plus the drift rule:
// small drift is taken up by nudging the playback rate, and only large drift seeks.

export class PlaybackClock {
  position = 0; // the last synced position, in seconds
  startedAt = 0; // local clock (ms) at which `position` held
  #isPlaying = false;
  #speed = 1;
  // An Ott server's anchor (docs/protocol.md §10): {position, at (server ms), isPlaying, speed}. While one is
  // held it is the whole truth about playback; OTT's sync fields only matter to a server that sends none.
  anchor = null;
  anchorArrived = 0;

  // serverNow(): the server's clock by the page's offset estimate, or null while there is none yet.
  constructor(now = () => performance.now(), serverNow = () => null) {
    this.now = now;
    this.serverNow = serverNow;
    this.startedAt = now();
  }

  get isPlaying() {
    return this.anchor ? this.anchor.isPlaying : this.#isPlaying;
  }

  set isPlaying(value) {
    this.#isPlaying = value;
  }

  get speed() {
    return this.anchor ? this.anchor.speed : this.#speed;
  }

  set speed(value) {
    this.#speed = value;
  }

  get synced() {
    return this.anchor !== null;
  }

  applyAnchor(anchor) {
    this.anchor = anchor;
    this.anchorArrived = this.now();
  }

  // A new socket starts over: anchors come again once it has probed.
  dropAnchor() {
    if (!this.anchor) return;
    this.position = this.live();
    this.startedAt = this.now();
    this.#isPlaying = this.anchor.isPlaying;
    this.#speed = this.anchor.speed;
    this.anchor = null;
  }

  // Applies the playback fields of a sync (full or delta). The server always sends the live
  // position, so the local start time is simply "when it arrived" (no latency compensation, as OTT).
  apply(sync) {
    const now = this.now();
    const wasPlaying = this.isPlaying;
    if ("playbackSpeed" in sync && sync.playbackSpeed !== this.speed && !("playbackPosition" in sync)) {
      // OTT sends no position with a speed change; keep continuity by flushing at the old speed.
      this.position = this.live();
      this.startedAt = now;
    }
    if ("playbackSpeed" in sync) this.speed = sync.playbackSpeed;
    if ("isPlaying" in sync) this.isPlaying = sync.isPlaying;
    if ("playbackPosition" in sync) {
      this.position = sync.playbackPosition;
      this.startedAt = now;
    } else if ((this.isPlaying && !wasPlaying) || ("currentSource" in sync && this.isPlaying)) {
      this.startedAt = now;
    }
  }

  live() {
    const a = this.anchor;
    if (a) {
      if (!a.isPlaying) return a.position;
      // Before the first clock sample, the anchor is taken to hold when it arrived (as OTT's sync).
      const server = this.serverNow();
      const elapsed = server === null ? this.now() - this.anchorArrived : server - a.at;
      return a.position + (elapsed / 1000) * a.speed;
    }
    return this.isPlaying ? this.position + ((this.now() - this.startedAt) / 1000) * this.speed : this.position;
  }
}

export const DRIFT = {
  seekAbove: 1.0, // OTT's 1 s rule: beyond this, seek
  pausedSeekAbove: 0.15, // a paused player cannot catch up by playing faster
  deadband: 0.05, // closer than this, play at the room's speed
  gain: 0.5, // rate change per second of drift
  maxNudge: 0.1, // at most ±10 % of the room's speed
};

// With a server anchor and a synced clock the target is exact to a few ms, so the page holds it tightly:
// a 10 ms deadband, and a seek (aimed ahead by the player's seek time) only beyond 100 ms.
export const DRIFT_SYNCED = {
  seekAbove: 0.1,
  pausedSeekAbove: 0.02,
  deadband: 0.01,
  gain: 1.0,
  maxNudge: 0.1,
};

// drift = player position − room position (positive: the player is ahead).
// Returns {seek: true} or {seek: false, rate}.
export function correct(drift, speed, isPlaying, canNudge = true, rules = DRIFT) {
  const size = Math.abs(drift);
  if (!isPlaying) return { seek: size > rules.pausedSeekAbove, rate: speed };
  if (size > rules.seekAbove) return { seek: true, rate: speed };
  if (!canNudge || size < rules.deadband) return { seek: false, rate: speed };
  const nudge = Math.max(-rules.maxNudge, Math.min(rules.maxNudge, drift * rules.gain));
  return { seek: false, rate: speed * (1 - nudge) };
}

export function formatTime(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
  const whole = Math.floor(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}
