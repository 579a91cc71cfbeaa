import { AdaptiveConcurrencyLimit, type Clock } from "./concurrency-limit.js";

/** AdmissionOptions bound the calls the server works on and the calls it keeps waiting. */
export interface AdmissionOptions {
  /** The adaptive concurrency limit starts here and stays within [min, max]. */
  initialConcurrency: number;
  minConcurrency: number;
  maxConcurrency: number;
  /** Calls waiting at once; beyond it, calls are refused at once. */
  maxQueue: number;
  /** Longest a call may wait, with or without a deadline. */
  maxQueueWaitMs: number;
  /** While the event loop lags more than this, new calls are refused at once. */
  maxEventLoopDelayMs: number;
}

/**
 * Why a call was refused: the queue is full, the queue cannot serve it
 * within its deadline (refused on arrival), it waited its whole budget
 * (queue-timeout: the estimate was wrong), or the event loop lags.
 */
export type ShedReason = "queue-full" | "deadline" | "queue-timeout" | "event-loop";
export const SHED_REASONS: readonly ShedReason[] = ["queue-full", "deadline", "queue-timeout", "event-loop"];

/** Release gives an admitted call's slot back. Call it exactly once (later calls do nothing). */
export type Release = () => void;

/** Admission is told the outcome of acquire: admitted now or later, or refused. */
export interface Admission {
  admit(release: Release): void;
  refuse(reason: ShedReason): void;
}

export interface AdmissionObserver {
  onAdmit?(queuedMs: number): void;
  onShed?(reason: ShedReason): void;
}

export interface AdmissionStats {
  inFlight: number;
  queued: number;
  limit: number;
  /** Mean latency of admitted calls, recent (ms); 0 before the first. */
  latencyMs: number;
  /** The long-term latency average the limit judges the latest against (ms); 0 before the first. */
  longLatencyMs: number;
  /** What Little's-law wait estimates are scaled by (at most 1: see LITTLE_BIAS_WEIGHT). */
  littleBias: number;
  eventLoopDelayMs: number;
}

interface Waiter {
  /**
   * Whom to tell; undefined once settled. The queue keeps spent waiters
   * until it compacts, and each admission reaches its whole call (stream,
   * headers, response): held on, a heap snapshot at 0.8x found 478 finished
   * calls kept alive by the queue.
   */
  admission: Admission | undefined;
  enqueuedAt: number;
  expiresAt: number;
  /** Its wait by Little's law, unscaled (0: the measured drain rate estimated it). */
  littleWaitMs: number;
}

// A call is queued only if it is expected to be admitted in time to finish
// within this share of its remaining deadline (it gives up, refused as
// queue-timeout, only when it could no longer finish at all). The estimate
// errs both ways: by a few hundred ms in absolute terms (a GC pause, a stall
// of the loop, the 250 ms windows the rate is measured over) and by a
// quarter of itself (the drain rate swings that much from second to second
// on a shared machine), so the wait allowed is what is left after the
// call's running time and that error. At 2 s (the open-loop benchmark) that
// is 0.45 s, and admitted calls' p99 stays near 1 s; at ghz's 20 s, 7.7 s,
// four times what a crowd of 10,000 closed-loop clients waits here at
// 1,000 calls/s (the stream limit holds 2,048 of them at the server, the
// rest wait in their client).
// A plain 40% of the deadline let admitted calls reach 1.1-1.7 s of 2 s, 25%
// left that crowd a thin margin, and 80% queued so deep that 12-25% of
// calls missed their deadline. Short deadlines still queue a tenth of it.
const FINISH_WITHIN_SHARE_OF_DEADLINE = 0.5;
const WAIT_ESTIMATE_SLACK_MS = 400;
const WAIT_ESTIMATE_ERROR = 0.25;
const MIN_QUEUE_SHARE_OF_DEADLINE = 0.1;
// Weight of the newest call in the latency average.
const LATENCY_EWMA_WEIGHT = 0.1;
const SWEEP_INTERVAL_MS = 25;
const COLD_LATENCY_MS = 50;
// Waiting on until the deadline (not only the budget) is deliberate: giving
// up at 1.5x the budget held admitted calls' p99 at 4x overload to 0.66 s,
// but 5% of that run's refusals then came after 0.7 s of waiting (refusal
// p99 741 ms, from 125) and the first 5 s after the load dropped were 96% OK
// instead of 99.9%.
// Newest first once the oldest waiter has used this much of its patience:
// it will likely expire anyway, and serving it would make the next ones late too.
const LIFO_AFTER_SHARE_OF_PATIENCE = 0.9;
// The queue's drain rate is also measured directly, over windows in which
// calls waited the whole time (so it is capacity, not demand). The median of
// the last few seconds' windows is trusted over the latency average, which
// one slow call or a GC pause moves by seconds: that refused callers who
// would have been served (a refused closed-loop caller is an error).
const RATE_WINDOW_MS = 250;
const RATE_MEMORY_MS = 5_000;
// Until the drain rate is measured, Little's law is checked against what
// admitted waiters really waited: the ratio (an average over about 1/weight
// admissions) scales its next estimates down while they were pessimistic (a
// cold process, whose limit and JIT grow faster than measured, waited a
// quarter of what it estimated). Never up: estimates scaled up refused a
// crowd of closed-loop clients, whose refused calls came straight back and
// slowed the queue further, until most calls were refused. Estimates under
// the floor are too short to judge by.
const LITTLE_BIAS_WEIGHT = 0.05;
const LITTLE_BIAS_MIN_ESTIMATE_MS = 20;
const LITTLE_BIAS_RANGE = [0.25, 1] as const;
// Refusals on arrival are budgeted: each finished call earns this many, up
// to a burst. A refused closed-loop client (ghz, the load tool, a retry loop
// without backoff) asks again at once, and refused in microseconds it comes
// back hundreds of times a second: with 10,000 of them those refusals took
// the loop and the client's own core, admitted calls slowed, the measured
// drain rate fell and more were refused, until 99% of calls were refused
// (goodput 5% of capacity). A call past the budget is held instead: it waits
// in line with the patience of any waiter, and is served if the line moves
// in time. Open-loop load at 4x needs about 7 refusals per finished call
// (goodput falls to half) and more through GC pauses: 8 held 4x calls in
// line to their deadline (refusal p99 1.9 s), 16 did not; refusals then
// take at most about four calls' worth of work per call served.
const REFUSALS_PER_COMPLETION = 16;
const REFUSAL_BURST = 4_000;

export interface AdmissionDeps {
  clock?: Clock;
  /** The event loop's recent delay in ms (see EventLoopDelayMonitor); 0 when absent. */
  eventLoopDelayMs?: () => number;
  observer?: AdmissionObserver;
  /** Off in specs that drive the clock by hand (they call sweep()). */
  sweepTimer?: boolean;
}

/**
 * AdmissionController decides, when a call arrives and before anything is
 * spent on it, whether it runs now, waits, or is refused at once.
 *
 * - At most `limit` calls run; the limit adapts to measured latency
 *   (AdaptiveConcurrencyLimit) and starts small, so a cold process is not
 *   overrun while its JIT warms up.
 * - A call that cannot run now waits only if the queue can admit it within
 *   its budget (queueBudgetMs: time to finish within half its deadline,
 *   after a margin for the estimate's error; at most maxQueueWaitMs). The
 *   expected wait is its position over the drain rate: the median rate the
 *   queue was measured to drain at over the last seconds, or, until that is
 *   known, limit / mean latency (Little's law over the calls in flight),
 *   scaled down while recent waiters waited less than it said. Otherwise it
 *   is refused on arrival, before its body is read or its token verified,
 *   so a refusal costs a fraction of a call (a fifth to an eighth, measured)
 *   and goodput holds near capacity under more offered load. Refusals are
 *   budgeted (REFUSALS_PER_COMPLETION): past the budget a call is held in
 *   line instead, so clients that ask again the moment they are refused
 *   cannot turn refusals into most of the work.
 * - The queue is FIFO while the estimate holds. Once its oldest call has
 *   used most of its patience (capacity dropped), it serves the newest
 *   first (adaptive LIFO): fresh calls still meet their deadlines while
 *   stale ones expire.
 * - While the event loop lags past maxEventLoopDelayMs and calls wait, new
 *   calls are refused at once: the process is behind on what it accepted.
 *
 * Nothing here outlives the load: the limit recovers with latency, and the
 * queue empties as calls are admitted or expire.
 */
export class AdmissionController {
  readonly #options: AdmissionOptions;
  readonly #clock: Clock;
  readonly #eventLoopDelayMs: () => number;
  readonly #observer: AdmissionObserver;
  readonly #limit: AdaptiveConcurrencyLimit;
  readonly #sweepTimer: boolean;
  #inFlight = 0;
  // Waiters in arrival order; a moving head and lazy removal keep enqueue and
  // dequeue O(1) at either end.
  #queue: Waiter[] = [];
  #head = 0;
  #queued = 0;
  #latencyMs = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #windowStart = 0;
  #windowCompletions = 0;
  #windowSaturated = false;
  #saturatedRates: { at: number; perMs: number }[] = [];
  // The median of #saturatedRates (0: fewer than three), kept as they change:
  // acquire runs for every refused call too, and must not sort.
  #medianRatePerMs = 0;
  // Actual over Little's-law wait, averaged over recent FIFO admissions it estimated.
  #littleBias = 1;
  #refusalTokens = REFUSAL_BURST;

  constructor(options: AdmissionOptions, deps: AdmissionDeps = {}) {
    if (options.maxConcurrency < 1) throw new RangeError("maxConcurrency must be at least 1");
    this.#options = { ...options };
    this.#clock = deps.clock ?? (() => performance.now());
    this.#eventLoopDelayMs = deps.eventLoopDelayMs ?? (() => 0);
    this.#observer = deps.observer ?? {};
    this.#sweepTimer = deps.sweepTimer ?? true;
    this.#limit = new AdaptiveConcurrencyLimit(
      { initial: options.initialConcurrency, min: options.minConcurrency, max: options.maxConcurrency },
      this.#clock,
    );
  }

  get options(): Readonly<AdmissionOptions> {
    return this.#options;
  }

  stats(): AdmissionStats {
    return {
      inFlight: this.#inFlight,
      queued: this.#queued,
      limit: this.#limit.limit,
      latencyMs: this.#latencyMs,
      longLatencyMs: this.#limit.longRttMs,
      littleBias: this.#littleBias,
      eventLoopDelayMs: this.#eventLoopDelayMs(),
    };
  }

  /**
   * acquire decides a call's fate: admission.admit runs now (synchronously)
   * or later, or admission.refuse now or later. timeoutMs is the caller's
   * remaining deadline (undefined: none). The returned function withdraws a
   * waiting call (its caller went away); it does nothing once settled.
   */
  acquire(timeoutMs: number | undefined, admission: Admission): () => void {
    // Only while calls wait: refusing everyone would empty the queue and let
    // the loop catch up, yet refused closed-loop callers ask again at once and
    // keep it busy, so an unconditional guard never let go (measured after an
    // overload episode: 47,877 of 10,000 clients' calls refused in 12 s).
    if (this.#queued > 0 && this.#eventLoopDelayMs() > this.#options.maxEventLoopDelayMs) {
      return this.#refuseNow(admission, "event-loop");
    }
    if (this.#inFlight < this.#limit.limit && this.#queued === 0) {
      this.#inFlight++;
      this.#observer.onAdmit?.(0);
      admission.admit(this.#releaser(this.#clock()));
      return noop;
    }
    if (this.#queued >= this.#options.maxQueue) return this.#refuseNow(admission, "queue-full");
    const deadlineMs = timeoutMs ?? Infinity;
    const budgetMs = Math.min(this.#options.maxQueueWaitMs, queueBudgetMs(deadlineMs, this.#latencyMs));
    const now = this.#clock();
    const position = this.#queued + 1;
    const medianPerMs = this.#medianDrainRatePerMs(now);
    // Little's law is scaled by what it has lately got wrong; the measured rate is not.
    const littleWaitMs = medianPerMs > 0 ? 0 : this.#littleWaitMs(position);
    const expectedWaitMs = medianPerMs > 0 ? position / medianPerMs : littleWaitMs * this.#littleBias;
    if (expectedWaitMs > budgetMs && this.#refusalTokens >= 1) {
      this.#refusalTokens--;
      return this.#refuseNow(admission, "deadline");
    }
    const patienceMs = Math.max(budgetMs, Math.min(this.#options.maxQueueWaitMs, deadlineMs - this.#latencyMs));

    const waiter: Waiter = {
      admission,
      enqueuedAt: now,
      expiresAt: now + patienceMs,
      littleWaitMs,
    };
    this.#queue.push(waiter);
    this.#queued++;
    this.#startSweeper();
    return () => {
      if (waiter.admission === undefined) return;
      waiter.admission = undefined;
      this.#queued--;
    };
  }

  /**
   * sweep refuses the waiters whose budget has run out. A timer runs it
   * while calls wait; specs with a hand-driven clock call it themselves.
   */
  sweep(): void {
    const now = this.#clock();
    for (let i = this.#head; i < this.#queue.length; i++) {
      const waiter = this.#queue[i]!;
      const admission = waiter.admission;
      if (admission === undefined || waiter.expiresAt > now) continue;
      waiter.admission = undefined;
      this.#queued--;
      this.#observer.onShed?.("queue-timeout");
      admission.refuse("queue-timeout");
    }
    this.#compact();
  }

  // The median rate the queue drained at while saturated, over the last
  // seconds (0 until three windows were measured).
  #medianDrainRatePerMs(now: number): number {
    const oldest = this.#saturatedRates[0];
    if (oldest !== undefined && now - oldest.at > RATE_MEMORY_MS) this.#forgetOldRates(now);
    return this.#medianRatePerMs;
  }

  // The wait of the call at `position` in the queue by Little's law over the
  // calls in flight, with the limit's long-term latency average: a burst of
  // arrivals slows its first calls (they wait for the loop to take the burst
  // in), and the per-call average jumps with them; by it, 83 of 10,000
  // closed-loop clients arriving at once were refused. Before any call has
  // finished nothing is known: a cold process assumes its calls take
  // COLD_LATENCY_MS, pessimistic for this service (a warm call takes 1-10
  // ms), so it queues modestly rather than refusing its first callers.
  #littleWaitMs(position: number): number {
    const limit = this.#limit.limit;
    if (this.#latencyMs === 0) return (position * COLD_LATENCY_MS) / limit;
    const latencyMs = this.#limit.longRttMs > 0 ? this.#limit.longRttMs : this.#latencyMs;
    return (position * latencyMs) / limit;
  }

  #forgetOldRates(now: number): void {
    while (this.#saturatedRates.length > 0 && now - this.#saturatedRates[0]!.at > RATE_MEMORY_MS) this.#saturatedRates.shift();
    const rates = this.#saturatedRates.map((r) => r.perMs).sort((a, b) => a - b);
    this.#medianRatePerMs = rates.length >= 3 ? rates[Math.floor(rates.length / 2)]! : 0;
  }

  #countCompletion(now: number): void {
    this.#windowCompletions++;
    const elapsed = now - this.#windowStart;
    if (elapsed < RATE_WINDOW_MS) return;
    if (this.#windowSaturated && this.#queued > 0) {
      this.#saturatedRates.push({ at: now, perMs: this.#windowCompletions / elapsed });
      this.#forgetOldRates(now);
    }
    this.#windowStart = now;
    this.#windowCompletions = 0;
    this.#windowSaturated = this.#queued > 0;
  }

  #refuseNow(admission: Admission, reason: ShedReason): () => void {
    this.#observer.onShed?.(reason);
    admission.refuse(reason);
    return noop;
  }

  #releaser(admittedAt: number): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = this.#clock();
      const latencyMs = now - admittedAt;
      this.#latencyMs =
        this.#latencyMs === 0 ? latencyMs : this.#latencyMs + LATENCY_EWMA_WEIGHT * (latencyMs - this.#latencyMs);
      this.#limit.onSample(latencyMs, this.#inFlight);
      this.#countCompletion(now);
      this.#refusalTokens = Math.min(REFUSAL_BURST, this.#refusalTokens + REFUSALS_PER_COMPLETION);
      this.#inFlight--;
      this.#admitWaiting();
    };
  }

  #admitWaiting(): void {
    while (this.#queued > 0 && this.#inFlight < this.#limit.limit) {
      const now = this.#clock();
      const next = this.#next(now);
      if (next === undefined) return;
      const { waiter, inOrder } = next;
      const admission = waiter.admission!;
      waiter.admission = undefined;
      this.#queued--;
      this.#inFlight++;
      const waitedMs = now - waiter.enqueuedAt;
      // Only calls served in arrival order waited what the estimate predicts.
      if (inOrder && waiter.littleWaitMs >= LITTLE_BIAS_MIN_ESTIMATE_MS) this.#learnLittleBias(waitedMs / waiter.littleWaitMs);
      this.#observer.onAdmit?.(waitedMs);
      admission.admit(this.#releaser(now));
    }
    this.#compact();
  }

  #learnLittleBias(observed: number): void {
    const [low, high] = LITTLE_BIAS_RANGE;
    this.#littleBias = Math.min(high, Math.max(low, this.#littleBias + LITTLE_BIAS_WEIGHT * (observed - this.#littleBias)));
  }

  /** #next is the oldest live waiter, or the newest once the oldest has used most of its patience. */
  #next(now: number): { waiter: Waiter; inOrder: boolean } | undefined {
    this.#skipSettled();
    const oldest = this.#queue[this.#head];
    if (oldest === undefined) return undefined;
    const behind = now - oldest.enqueuedAt > LIFO_AFTER_SHARE_OF_PATIENCE * (oldest.expiresAt - oldest.enqueuedAt);
    if (!behind) return { waiter: oldest, inOrder: true };
    while (this.#queue.length > this.#head) {
      const newest = this.#queue.pop()!;
      if (newest.admission !== undefined) return { waiter: newest, inOrder: false };
    }
    return undefined;
  }

  #skipSettled(): void {
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.admission === undefined) this.#head++;
  }

  #compact(): void {
    this.#skipSettled();
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #startSweeper(): void {
    if (!this.#sweepTimer || this.#sweeper !== undefined) return;
    this.#sweeper = setInterval(() => {
      this.sweep();
      if (this.#queued === 0) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }
}

function noop(): void {}

/** queueBudgetMs: how long a call with this deadline may be expected to wait (see FINISH_WITHIN_SHARE_OF_DEADLINE). */
export function queueBudgetMs(deadlineMs: number, latencyMs: number): number {
  const finishBy = FINISH_WITHIN_SHARE_OF_DEADLINE * deadlineMs - latencyMs - WAIT_ESTIMATE_SLACK_MS;
  return Math.max(MIN_QUEUE_SHARE_OF_DEADLINE * deadlineMs, finishBy / (1 + WAIT_ESTIMATE_ERROR));
}

/**
 * defaultAdmissionOptions derives the limits from the pool size. The limit
 * starts at the pool size (every connection busy, nothing more, while the
 * process is cold) and may grow to 8 calls per connection, where a call
 * spends its time parsing and encoding rather than in PostgreSQL (16 per
 * connection were measured no better: the pool was the bottleneck). The queue
 * is deep (4,000 per connection): callers' deadlines, not its length, decide
 * who waits, so 10,000 closed-loop clients with ghz's 20 s deadline queue and
 * are all served. 10 s bounds the wait of calls that carry no deadline.
 */
export function defaultAdmissionOptions(poolSize: number): AdmissionOptions {
  return {
    initialConcurrency: poolSize,
    minConcurrency: Math.max(1, Math.floor(poolSize / 2)),
    maxConcurrency: poolSize * 8,
    maxQueue: poolSize * 4_000,
    maxQueueWaitMs: 10_000,
    maxEventLoopDelayMs: 1_000,
  };
}
