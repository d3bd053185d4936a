// Media players behind one small interface, so the drift loop in room.js does not care which it has:
//   load(item), play(), pause(), seek(t), setRate(r), destroy()
//   currentTime, duration, paused, ended, seeking, ready, canNudge
// Callbacks: onStatus("ready" | "buffering" | "error"), onProblem(text), onBlocked() when the
// browser refuses to start playback without a click.

const HLS_MIME = "application/vnd.apple.mpegurl";

export function createPlayer(item, host, callbacks) {
  if (item.service === "youtube") return new YouTubePlayer(host, callbacks);
  if (item.service === "direct" || item.service === "hls" || item.hls_url || item.src_url) return new MediaElementPlayer(host, callbacks);
  return new UnsupportedPlayer(host, callbacks, `This page cannot play ${item.service} media.`);
}

class MediaElementPlayer {
  canNudge = true;

  constructor(host, { onStatus, onProblem, onBlocked }) {
    this.onStatus = onStatus;
    this.onProblem = onProblem;
    this.onBlocked = onBlocked;
    const video = document.createElement("video");
    video.playsInline = true;
    video.preload = "auto";
    // Text of the shared controls describes it; the element's own controls would fight the room.
    video.setAttribute("aria-label", "Video");
    for (const type of ["loadstart", "waiting", "seeking"]) video.addEventListener(type, () => this.onStatus("buffering"));
    for (const type of ["canplay", "playing", "seeked"]) {
      video.addEventListener(type, () => {
        if (video.readyState >= HTMLMediaElement.HAVE_FUTURE_DATA || type === "playing") this.onStatus("ready");
      });
    }
    video.addEventListener("error", () => {
      this.onStatus("error");
      this.onProblem("The media could not be loaded or decoded.");
    });
    this.video = video;
    host.append(video);
  }

  load(item) {
    const hls = item.hls_url ?? (item.service === "hls" ? item.id : null);
    if (item.service === "dash" || (item.dash_url && !hls && !item.src_url)) {
      this.onStatus("error");
      this.onProblem("DASH streams cannot be played by this page.");
      return;
    }
    if (hls && !this.video.canPlayType(HLS_MIME)) {
      this.onStatus("error");
      this.onProblem("This browser cannot play HLS streams natively.");
      return;
    }
    this.video.src = hls ?? item.src_url ?? item.id;
    if (item.subtitleUrl) {
      const track = document.createElement("track");
      track.kind = "subtitles";
      track.label = "Subtitles";
      track.src = item.subtitleUrl;
      track.default = true;
      this.video.append(track);
    }
  }

  play() {
    this.video.play().catch((error) => {
      if (error.name === "NotAllowedError") this.onBlocked();
    });
  }

  pause() {
    this.video.pause();
  }

  seek(seconds) {
    this.video.currentTime = Math.max(0, seconds);
  }

  setRate(rate) {
    if (Math.abs(this.video.playbackRate - rate) > 0.001) this.video.playbackRate = rate;
  }

  setVolume(volume, muted) {
    this.video.volume = volume;
    this.video.muted = muted;
  }

  get currentTime() {
    return this.video.currentTime;
  }

  get duration() {
    return this.video.duration;
  }

  get paused() {
    return this.video.paused;
  }

  get ended() {
    return this.video.ended;
  }

  get seeking() {
    return this.video.seeking;
  }

  get ready() {
    return this.video.readyState >= HTMLMediaElement.HAVE_METADATA && !this.video.error;
  }

  destroy() {
    this.video.removeAttribute("src");
    this.video.load();
    this.video.remove();
  }
}

let youTubeApi = null;

// The IFrame Player API is the only script the page loads from elsewhere.
function loadYouTubeApi() {
  youTubeApi ??= new Promise((resolve, reject) => {
    const previous = window.onYouTubeIframeAPIReady;
    window.onYouTubeIframeAPIReady = () => {
      previous?.();
      resolve(window.YT);
    };
    const script = document.createElement("script");
    script.src = "https://www.youtube.com/iframe_api";
    script.onerror = () => {
      youTubeApi = null;
      reject(new Error("YouTube's player could not be loaded."));
    };
    document.head.append(script);
  });
  return youTubeApi;
}

class YouTubePlayer {
  // YouTube offers only a few fixed rates, so small drift cannot be nudged away: it seeks (OTT's rule).
  canNudge = false;
  ready = false;
  #state = -1;
  #destroyed = false;

  constructor(host, { onStatus, onProblem, onBlocked }) {
    this.host = host;
    this.onStatus = onStatus;
    this.onProblem = onProblem;
    this.onBlocked = onBlocked;
  }

  async load(item) {
    this.onStatus("buffering");
    let YT;
    try {
      YT = await loadYouTubeApi();
    } catch (error) {
      this.onStatus("error");
      this.onProblem(error.message);
      return;
    }
    if (this.#destroyed) return;
    this.YT = YT;
    const target = document.createElement("div");
    this.host.append(target);
    this.player = new YT.Player(target, {
      videoId: item.id,
      width: "100%",
      height: "100%",
      playerVars: { playsinline: 1, rel: 0, controls: 0, disablekb: 1 },
      events: {
        onReady: () => {
          this.ready = true;
          this.onStatus("ready");
        },
        onStateChange: (event) => {
          this.#state = event.data;
          this.onStatus(event.data === YT.PlayerState.BUFFERING ? "buffering" : "ready");
        },
        onError: () => {
          this.onStatus("error");
          this.onProblem("YouTube could not play this video.");
        },
        onAutoplayBlocked: () => this.onBlocked(),
      },
    });
  }

  play() {
    this.player?.playVideo();
  }

  pause() {
    this.player?.pauseVideo();
  }

  seek(seconds) {
    this.player?.seekTo(Math.max(0, seconds), true);
  }

  setRate(rate) {
    if (this.player && this.player.getPlaybackRate() !== rate) this.player.setPlaybackRate(rate);
  }

  setVolume(volume, muted) {
    if (!this.player) return;
    this.player.setVolume(Math.round(volume * 100));
    if (muted) this.player.mute();
    else this.player.unMute();
  }

  get currentTime() {
    return this.ready ? this.player.getCurrentTime() : NaN;
  }

  get duration() {
    return this.ready ? this.player.getDuration() : NaN;
  }

  get paused() {
    return this.#state !== this.YT?.PlayerState.PLAYING && this.#state !== this.YT?.PlayerState.BUFFERING;
  }

  get ended() {
    return this.#state === this.YT?.PlayerState.ENDED;
  }

  get seeking() {
    return false;
  }

  destroy() {
    this.#destroyed = true;
    this.player?.destroy();
    this.host.replaceChildren();
  }
}

class UnsupportedPlayer {
  canNudge = false;
  ready = false;
  currentTime = NaN;
  duration = NaN;
  paused = true;
  ended = false;
  seeking = false;

  constructor(host, { onStatus, onProblem }, problem) {
    this.onStatus = onStatus;
    this.onProblem = onProblem;
    this.problem = problem;
  }

  load() {
    this.onStatus("error");
    this.onProblem(this.problem);
  }

  play() {}
  pause() {}
  seek() {}
  setRate() {}
  setVolume() {}
  destroy() {}
}
