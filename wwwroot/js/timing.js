// The client half of docs/protocol.md §5's timing model and §6.4's live position, plus the drift rule:
// small drift is taken up by nudging the playback rate, and only large drift seeks.

export class PlaybackClock {
  position = 0; // the last synced position, in seconds
  startedAt = 0; // local clock (ms) at which `position` held
  isPlaying = false;
  speed = 1;

  constructor(now = () => performance.now()) {
    this.now = now;
    this.startedAt = now();
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
