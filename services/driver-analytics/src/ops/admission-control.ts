import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { RETRY_PUSHBACK_MS } from "../core/error-mapping.js";

/** AdmissionOptions bounds the calls the server works on and the calls it keeps waiting. */
export interface AdmissionOptions {
  /** Calls running at once; the rest wait in the queue. */
  maxConcurrency: number;
  /** Calls waiting at once; beyond it, calls are refused at once. */
  maxQueue: number;
  /** Longest a call may wait in the queue, deadline or not. */
  maxQueueWaitMs: number;
}

/** Why a call was refused: full queue, a deadline the queue cannot meet, or a wait too long. */
export type ShedReason = "queue-full" | "deadline" | "queue-timeout";

export interface AdmissionStats {
  inFlight: number;
  queued: number;
  /** Moving average of how long an admitted call runs, in ms (0 until the first one ends). */
  serviceTimeMs: number;
}

/** Release gives an admitted call's slot to the next waiting call. Call it exactly once. */
export type Release = () => void;

interface Waiter {
  admit: (release: Release) => void;
  refuse: (error: unknown) => void;
  expiresAt: number;
  settled: boolean;
}

// Weight of the newest call in the service-time average: about the last 20 calls.
const EWMA_WEIGHT = 0.05;
// Length of the windows over which the queue's drain rate is measured, and
// how much of the best rate seen survives each window (half after ~35 s).
const RATE_WINDOW_MS = 500;
const RATE_DECAY_PER_WINDOW = 0.99;
// A window with more arrivals than this per completion is a burst, not a
// measure of capacity (open-loop overload at twice capacity is 2 per completion).
const BURST_ARRIVALS_PER_COMPLETION = 4;
// How often the queue's oldest waiters are checked against maxQueueWaitMs.
const SWEEP_INTERVAL_MS = 50;

/**
 * AdmissionController is a concurrency limit with a bounded FIFO queue that
 * knows the callers' deadlines. A call the queue cannot serve in time (it is
 * full, or the expected wait is longer than the caller's deadline allows) is
 * refused at once, so it can retry elsewhere instead of timing out here, and
 * the admitted calls keep their latency. The expected wait is the queue
 * length divided by the rate at which the queue drains while saturated:
 * cheap, and good enough to tell "about a second" from "far past your
 * deadline".
 */
export class AdmissionController {
  readonly #options: AdmissionOptions;
  readonly #onShed: (reason: ShedReason) => void;
  #inFlight = 0;
  // FIFO as an array with a moving head: O(1) enqueue/dequeue without a
  // linked list; compacted when the dead prefix grows.
  #queue: Waiter[] = [];
  #head = 0;
  #queued = 0;
  #serviceTimeMs = 0;
  #sweeper: NodeJS.Timeout | undefined;
  // Completions per ms over windows in which calls were waiting the whole
  // time (so it is capacity, not demand); 0 until one such window.
  #saturatedRatePerMs = 0;
  #windowStart = performance.now();
  #windowCompletions = 0;
  #windowArrivals = 0;
  #windowSaturated = false;

  constructor(options: AdmissionOptions, onShed: (reason: ShedReason) => void = () => undefined) {
    if (options.maxConcurrency < 1) throw new RangeError("maxConcurrency must be at least 1");
    this.#options = { ...options };
    this.#onShed = onShed;
  }

  get options(): Readonly<AdmissionOptions> {
    return this.#options;
  }

  stats(): AdmissionStats {
    return { inFlight: this.#inFlight, queued: this.#queued, serviceTimeMs: this.#serviceTimeMs };
  }

  /**
   * acquire admits a call now, queues it, or refuses it with UNAVAILABLE.
   * timeoutMs is the caller's remaining deadline (undefined: none). The
   * signal aborting (deadline, cancel, shutdown) takes the call out of the
   * queue and rejects with the signal's reason.
   */
  acquire(timeoutMs: number | undefined, signal: AbortSignal): Promise<Release> {
    if (signal.aborted) return Promise.reject(signal.reason);
    this.#windowArrivals++;
    if (this.#inFlight < this.#options.maxConcurrency && this.#queued === 0) {
      this.#inFlight++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#queued >= this.#options.maxQueue) return Promise.reject(this.#shed("queue-full"));
    const budgetMs = Math.min(this.#options.maxQueueWaitMs, (timeoutMs ?? Infinity) - this.#serviceTimeMs);
    const expectedWaitMs = (this.#queued + 1) / this.#drainRatePerMs();
    if (expectedWaitMs > budgetMs || budgetMs <= 0) return Promise.reject(this.#shed("deadline"));

    return new Promise<Release>((resolve, reject) => {
      const onAbort = () => {
        if (waiter.settled) return;
        waiter.settled = true;
        this.#queued--;
        reject(signal.reason);
      };
      const waiter: Waiter = {
        admit: (release) => {
          signal.removeEventListener("abort", onAbort);
          resolve(release);
        },
        refuse: (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
        expiresAt: performance.now() + this.#options.maxQueueWaitMs,
        settled: false,
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(waiter);
      this.#queued++;
      this.#startSweeper();
    });
  }

  #releaser(): Release {
    const started = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const elapsed = performance.now() - started;
      this.#serviceTimeMs =
        this.#serviceTimeMs === 0 ? elapsed : this.#serviceTimeMs + EWMA_WEIGHT * (elapsed - this.#serviceTimeMs);
      this.#inFlight--;
      this.#countCompletion();
      this.#admitNext();
    };
  }

  /**
   * #drainRatePerMs is how fast the queue empties, measured while saturated.
   * That is robust where an average of service times is not: one call that
   * hangs until its deadline moves it little, and the CPU-starved first
   * moments of a burst do not count. Until a saturated window has been seen
   * nothing is refused for its deadline: an estimate from unloaded service
   * times shed 10,000 arriving clients who would all have been served, and
   * each one retried at once, which kept the server from serving anyone.
   */
  #drainRatePerMs(): number {
    return this.#saturatedRatePerMs > 0 ? this.#saturatedRatePerMs : Infinity;
  }

  #countCompletion(): void {
    const now = performance.now();
    this.#windowCompletions++;
    const elapsed = now - this.#windowStart;
    if (elapsed < RATE_WINDOW_MS) return;
    const completions = this.#windowCompletions;
    const burst = this.#windowArrivals > BURST_ARRIVALS_PER_COMPLETION * completions;
    if (this.#windowSaturated && this.#queued > 0 && completions >= 2 * this.#options.maxConcurrency && !burst) {
      // The best recent drain rate, slowly forgotten: shed only the calls
      // that clearly cannot be served in time. A burst of arrivals slows the
      // windows it lands in (the CPU is parsing requests), so those do not
      // count: estimating from them would shed callers who would have been
      // served, and a shed caller retrying at once only adds to the burst.
      const rate = completions / elapsed;
      this.#saturatedRatePerMs = Math.max(rate, this.#saturatedRatePerMs * RATE_DECAY_PER_WINDOW);
    }
    this.#windowStart = now;
    this.#windowCompletions = 0;
    this.#windowArrivals = 0;
    this.#windowSaturated = this.#queued > 0;
  }

  #admitNext(): void {
    while (this.#inFlight < this.#options.maxConcurrency) {
      const waiter = this.#dequeue();
      if (waiter === undefined) return;
      this.#inFlight++;
      waiter.admit(this.#releaser());
    }
  }

  /** #dequeue takes the oldest waiter still waiting, skipping those that gave up. */
  #dequeue(): Waiter | undefined {
    while (this.#head < this.#queue.length) {
      const waiter = this.#queue[this.#head++]!;
      if (waiter.settled) continue;
      waiter.settled = true;
      this.#queued--;
      this.#compact();
      return waiter;
    }
    this.#compact();
    return undefined;
  }

  #compact(): void {
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  // Every waiter gets the same maximum wait, so the oldest expire first: the
  // sweep looks only at the head of the queue. (Callers' own deadlines are
  // enforced by their abort signals.)
  #startSweeper(): void {
    if (this.#sweeper !== undefined) return;
    this.#sweeper = setInterval(() => {
      const now = performance.now();
      while (this.#head < this.#queue.length) {
        const waiter = this.#queue[this.#head]!;
        if (!waiter.settled) {
          if (waiter.expiresAt > now) break;
          waiter.settled = true;
          this.#queued--;
          waiter.refuse(this.#shed("queue-timeout"));
        }
        this.#head++;
      }
      this.#compact();
      if (this.#queued === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  #shed(reason: ShedReason): ConnectError {
    this.#onShed(reason);
    return new ConnectError("server is at capacity, retry later", Code.Unavailable, {
      "grpc-retry-pushback-ms": String(RETRY_PUSHBACK_MS),
    });
  }
}

/**
 * admissionControlInterceptor runs every call of a service that is not
 * exempt through the controller. Health checks and reflection must answer
 * while the server is saturated, so callers exempt them.
 */
export function admissionControlInterceptor(
  controller: AdmissionController,
  isExempt: (serviceTypeName: string) => boolean,
): Interceptor {
  return (next) => async (request) => {
    if (isExempt(request.service.typeName)) return next(request);
    const release = await controller.acquire(requestTimeoutMs(request.header), request.signal);
    let response;
    try {
      response = await next(request);
    } catch (error) {
      release();
      throw error;
    }
    if (!response.stream) {
      release();
      return response;
    }
    return { ...response, message: releaseWhenDone(response.message, release) } satisfies StreamResponse;
  };
}

async function* releaseWhenDone<T>(messages: AsyncIterable<T>, release: Release): AsyncIterable<T> {
  try {
    yield* messages;
  } finally {
    release();
  }
}

const GRPC_TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * requestTimeoutMs reads the caller's deadline from the request headers:
 * grpc-timeout (gRPC, gRPC-Web) or connect-timeout-ms (Connect). Malformed
 * values never get this far: connect-node rejects them first.
 */
export function requestTimeoutMs(header: Headers): number | undefined {
  const grpc = header.get("grpc-timeout");
  if (grpc !== null) {
    const match = /^(\d{1,8})([HMSmun])$/.exec(grpc);
    if (match !== null) return Number(match[1]) * GRPC_TIMEOUT_UNIT_MS[match[2]!]!;
  }
  const connect = header.get("connect-timeout-ms");
  if (connect !== null && /^\d{1,10}$/.test(connect)) return Number(connect);
  return undefined;
}

/**
 * defaultAdmissionOptions derives the limits from the pool size: twice as
 * many calls running as there are connections keeps every connection busy
 * (one call holds a connection while the next is parsed and queued for it).
 * The queue is deep (4,000 per connection, 32,000 at the default pool): a
 * waiter costs a few hundred bytes (its stream is open either way) and the
 * callers' deadlines, not the length, decide who is refused, so 10,000
 * clients with ghz's 20 s deadline queue and are served. The 30 s cap on
 * waiting is for calls that carry no deadline.
 */
export function defaultAdmissionOptions(poolSize: number): AdmissionOptions {
  return { maxConcurrency: poolSize * 2, maxQueue: poolSize * 4_000, maxQueueWaitMs: 30_000 };
}
