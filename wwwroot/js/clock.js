// Clock sync with the server's cluster clock over the room socket (docs/protocol.md §10, Ott extension):
// NTP-style probes {action:"ott-time", t0} answered with the server's receive (t1) and send (t2) instants.
// A socket that sends a probe also receives "ott-anchor" frames: where playback stands at a server instant.

// One probe's result: offset = server clock − local clock, and the round trip spent on the network.
export function sample(t0, t1, t2, t3) {
  return { offset: (t1 - t0 + (t2 - t3)) / 2, rtt: t3 - t0 - (t2 - t1), at: t3 };
}

export const FILTER = {
  window: 10, // keep the last 10 samples (20 s at the steady refresh)
  tolerance: 4, // ms: samples whose round trip is this close to the best count as equally good
};

// The offset estimate: the best of the recent samples. A sample's true offset lies within ±rtt/2 of its
// estimate, whatever the split of the delay, so the lowest round trip bounds the error best; among samples
// about as good, the newest wins (a path or clock that changed shows there first). Samples that cannot be
// right (negative round trip) are rejected, high round trips lose to low ones by themselves, and a sample
// whose interval does not overlap the estimate's means the local clock stepped: the older ones are dropped.
export class OffsetFilter {
  samples = [];

  constructor(rules = FILTER) {
    this.rules = rules;
  }

  add(s) {
    if (!Number.isFinite(s.offset) || !Number.isFinite(s.rtt) || s.rtt < 0) return false;
    const best = this.best();
    if (best && Math.abs(s.offset - best.offset) > (s.rtt + best.rtt) / 2 + this.rules.tolerance) this.samples = [];
    this.samples.push(s);
    while (this.samples.length > this.rules.window) this.samples.shift();
    return true;
  }

  best() {
    if (this.samples.length === 0) return null;
    const minRtt = Math.min(...this.samples.map((s) => s.rtt));
    const good = this.samples.filter((s) => s.rtt <= minRtt + this.rules.tolerance);
    return good[good.length - 1];
  }

  get ready() {
    return this.samples.length > 0;
  }

  // ms to add to the local clock to read the server's; 0 before the first sample.
  get offset() {
    return this.best()?.offset ?? 0;
  }

  // The bound on the offset's error: half the best round trip.
  get uncertainty() {
    const best = this.best();
    return best ? best.rtt / 2 : Infinity;
  }

  get rtt() {
    return this.best()?.rtt ?? Infinity;
  }
}

// Probes on open (a quick burst, then a steady refresh), and answers.
export class ClockSync {
  filter = new OffsetFilter();
  #send;
  #timer = 0;
  #count = 0;

  constructor({ send, localNow = () => Date.now(), burst = 6, burstMs = 150, refreshMs = 2000, onChange = () => {} }) {
    this.#send = send;
    this.localNow = localNow;
    this.burst = burst;
    this.burstMs = burstMs;
    this.refreshMs = refreshMs;
    this.onChange = onChange;
  }

  // The first probe of a socket; the caller sends it before its auth, so the join already brings an anchor.
  probe() {
    return { action: "ott-time", t0: this.localNow() };
  }

  // Starts the refresh for a newly opened socket (its first probe was already sent).
  start() {
    this.stop();
    this.#count = 1;
    this.filter = new OffsetFilter(this.filter.rules);
    const next = () => {
      this.#timer = setTimeout(() => {
        if (this.#send(this.probe())) this.#count++;
        next();
      }, this.#count < this.burst ? this.burstMs : this.refreshMs);
    };
    next();
  }

  stop() {
    clearTimeout(this.#timer);
  }

  onReply(message) {
    const t3 = this.localNow();
    if (![message.t0, message.t1, message.t2].every(Number.isFinite)) return;
    if (this.filter.add(sample(message.t0, message.t1, message.t2, t3))) this.onChange(this.filter);
  }

  get ready() {
    return this.filter.ready;
  }

  // The server's clock now (ms), by the current estimate.
  serverNow() {
    return this.localNow() + this.filter.offset;
  }
}
