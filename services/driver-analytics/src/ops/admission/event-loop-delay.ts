import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";

const SAMPLE_INTERVAL_MS = 100;

/**
 * EventLoopDelayMonitor keeps the event loop's delay over the last 100 ms
 * (the mean of Node's own histogram, which samples every 10 ms): how far
 * behind the process is on the work it has already accepted.
 */
export class EventLoopDelayMonitor {
  readonly #histogram: IntervalHistogram;
  readonly #timer: NodeJS.Timeout;
  #delayMs = 0;

  constructor() {
    this.#histogram = monitorEventLoopDelay({ resolution: 10 });
    this.#histogram.enable();
    this.#timer = setInterval(() => {
      // The histogram counts the sampling interval itself; only the excess is delay.
      const mean = this.#histogram.count > 0 ? this.#histogram.mean / 1e6 - 10 : 0;
      this.#delayMs = Math.max(0, mean);
      this.#histogram.reset();
    }, SAMPLE_INTERVAL_MS);
    this.#timer.unref();
  }

  /** delayMs is the mean delay of the last interval, in ms. */
  delayMs(): number {
    return this.#delayMs;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }
}
