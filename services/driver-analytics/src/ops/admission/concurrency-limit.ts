/**
 * ConcurrencyLimitOptions bound the adaptive limit: it starts at `initial`
 * and moves between `min` and `max` as it measures.
 */
export interface ConcurrencyLimitOptions {
  initial: number;
  min: number;
  max: number;
}

/** Clock returns milliseconds from an arbitrary origin; injected so specs need no real timers. */
export type Clock = () => number;

// A window closes after this long, if it has seen enough calls to judge.
const WINDOW_MS = 100;
const MIN_SAMPLES_PER_WINDOW = 5;
// The long-term latency is an average over about this many windows (~5 s).
const LONG_WINDOWS = 50;
// Latency may rise this far above its long-term average before the limit shrinks.
const TOLERANCE = 2;
// A shrinking limit moves this share of the way to its new estimate per window.
const SMOOTHING = 0.2;

/**
 * AdaptiveConcurrencyLimit is Netflix concurrency-limits' Gradient2 applied
 * to this server's calls: the gradient between the long-term latency
 * average and the last window's latency scales the limit, plus a little
 * headroom (sqrt of the limit) to probe for more. While latency holds near
 * its average the limit grows (up to max); when it jumps past TOLERANCE x
 * the average (a database slowing down, a lock) the limit shrinks (by at
 * most half per window), and once latency falls the average follows it and
 * the limit grows back.
 *
 * Why not Vegas (a minimum latency as the yardstick): in one event loop,
 * the refusals of an open-loop overload slow every admitted call's turns
 * on the loop, and Vegas read that as too many calls in flight: the limit
 * fell to 6-12 with 400-1,600 calls queued and the loop 23% idle, and
 * goodput at 4x fell to a quarter of capacity. Latency that rises and
 * stays is this server's new normal, and fewer calls in flight would not
 * bring it down.
 */
export class AdaptiveConcurrencyLimit {
  readonly #options: ConcurrencyLimitOptions;
  readonly #clock: Clock;
  #limit: number;
  #windowStart: number;
  #windowSamples = 0;
  #windowSumMs = 0;
  #windowMaxInFlight = 0;
  #windows = 0;
  #longRttMs = 0;

  constructor(options: ConcurrencyLimitOptions, clock: Clock) {
    if (options.min < 1 || options.max < options.min) throw new RangeError("need 1 <= min <= max");
    this.#options = { ...options };
    this.#clock = clock;
    this.#limit = clamp(options.initial, options.min, options.max);
    this.#windowStart = clock();
  }

  /** limit is how many calls may be in flight now. */
  get limit(): number {
    return Math.floor(this.#limit);
  }

  /** longRttMs is the long-term latency average the last window is judged against (0 before the first window). */
  get longRttMs(): number {
    return this.#longRttMs;
  }

  /** onSample records one finished call: how long it ran and how many calls were in flight with it. */
  onSample(latencyMs: number, inFlight: number): void {
    this.#windowSamples++;
    this.#windowSumMs += latencyMs;
    if (inFlight > this.#windowMaxInFlight) this.#windowMaxInFlight = inFlight;
    const now = this.#clock();
    if (now - this.#windowStart < WINDOW_MS || this.#windowSamples < MIN_SAMPLES_PER_WINDOW) return;
    this.#closeWindow(now);
  }

  #closeWindow(now: number): void {
    const rtt = this.#windowSumMs / this.#windowSamples;
    const maxInFlight = this.#windowMaxInFlight;
    this.#windowStart = now;
    this.#windowSamples = 0;
    this.#windowSumMs = 0;
    this.#windowMaxInFlight = 0;
    // A plain mean over the first windows, then an exponential average.
    this.#windows++;
    const weight = Math.max(1 / this.#windows, 2 / (LONG_WINDOWS + 1));
    this.#longRttMs += weight * (rtt - this.#longRttMs);
    // After an episode of high latency, let the average come down quickly.
    if (this.#longRttMs > 2 * rtt) this.#longRttMs *= 0.95;

    const limit = this.#limit;
    // A server using under half its limit learns nothing about capacity from its own idleness.
    if (maxInFlight < limit / 2) return;
    const gradient = clamp((TOLERANCE * this.#longRttMs) / rtt, 0.5, 1);
    const estimate = limit * gradient + Math.sqrt(limit);
    // Growth at once (a cold process gets to its full limit in about a
    // second), shrinking smoothed (one slow window is not a trend).
    const next = estimate > limit ? estimate : limit + SMOOTHING * (estimate - limit);
    this.#limit = clamp(next, this.#options.min, this.#options.max);
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
