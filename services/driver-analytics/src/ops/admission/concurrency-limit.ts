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
// The no-load latency is the smallest window mean of the last few seconds:
// old enough minima are forgotten, so a slower database (or a cold JIT
// turning warm) moves the floor instead of shrinking the limit for good.
const MIN_RTT_BUCKET_MS = 1_000;
const MIN_RTT_BUCKETS = 10;

/**
 * AdaptiveConcurrencyLimit is TCP Vegas applied to calls, as in Netflix's
 * concurrency-limits: from the no-load latency (minRtt) and the latency of
 * the last window (rtt), `limit * (1 - minRtt / rtt)` estimates how many of
 * the calls in flight are queueing rather than being worked on (for CPU, a
 * pool connection, a lock). While that is small the limit grows, once it is
 * large the limit shrinks, so the server keeps just enough calls in flight to
 * stay busy and every extra call waits outside, where waiting is cheap and
 * bounded, instead of slowing every call in flight.
 */
export class AdaptiveConcurrencyLimit {
  readonly #options: ConcurrencyLimitOptions;
  readonly #clock: Clock;
  #limit: number;
  #windowStart: number;
  #windowSamples = 0;
  #windowSumMs = 0;
  #windowMaxInFlight = 0;
  // Minimum window mean per bucket of MIN_RTT_BUCKET_MS, newest last.
  #minRttBuckets: { start: number; minMs: number }[] = [];
  #lastRttMs = 0;

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

  /** rttMs is the mean latency of the last closed window (0 before the first). */
  get rttMs(): number {
    return this.#lastRttMs;
  }

  /** minRttMs is the no-load latency the limit is judged against (0 before the first window). */
  get minRttMs(): number {
    return this.#minRttBuckets.reduce((min, b) => Math.min(min, b.minMs), Infinity) || 0;
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
    const limitBound = this.#windowMaxInFlight >= this.#limit * 0.8;
    this.#windowStart = now;
    this.#windowSamples = 0;
    this.#windowSumMs = 0;
    this.#windowMaxInFlight = 0;
    this.#lastRttMs = rtt;
    this.#recordMinRtt(now, rtt);

    const minRtt = this.minRttMs;
    const limit = this.#limit;
    const queueing = limit * (1 - minRtt / rtt);
    const log = Math.max(1, Math.log10(limit));
    const alpha = 3 * log;
    const beta = 6 * log;
    let next = limit;
    // Grow only when the limit was what held calls back: a lightly loaded
    // server learns nothing about capacity from its own idleness.
    if (queueing < alpha && limitBound) next = limit + log;
    else if (queueing > beta) next = limit - log;
    this.#limit = clamp(next, this.#options.min, this.#options.max);
  }

  #recordMinRtt(now: number, rtt: number): void {
    const newest = this.#minRttBuckets.at(-1);
    if (newest !== undefined && now - newest.start < MIN_RTT_BUCKET_MS) {
      newest.minMs = Math.min(newest.minMs, rtt);
      return;
    }
    this.#minRttBuckets.push({ start: now, minMs: rtt });
    if (this.#minRttBuckets.length > MIN_RTT_BUCKETS) this.#minRttBuckets.shift();
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
