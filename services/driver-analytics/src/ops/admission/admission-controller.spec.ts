// Admission rules on a hand-driven clock: no server, no real timers.
import v8 from "node:v8";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import {
  AdmissionController,
  defaultAdmissionOptions,
  queueBudgetMs,
  type AdmissionOptions,
  type Release,
  type ShedReason,
} from "./admission-controller.js";
import { AdaptiveConcurrencyLimit } from "./concurrency-limit.js";

class FakeClock {
  now = 0;
  read = () => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

interface Outcome {
  release?: Release;
  refused?: ShedReason;
  /** For specs that step through a queue: this call was already counted as running. */
  done?: boolean;
}

function harness(options: Partial<AdmissionOptions> = {}, loopDelay = () => 0) {
  const clock = new FakeClock();
  const shed: ShedReason[] = [];
  const controller = new AdmissionController(
    {
      initialConcurrency: 2,
      minConcurrency: 1,
      maxConcurrency: 2,
      maxQueue: 100,
      maxQueueWaitMs: 10_000,
      maxEventLoopDelayMs: 100,
      ...options,
    },
    { clock: clock.read, eventLoopDelayMs: loopDelay, observer: { onShed: (r) => shed.push(r) }, sweepTimer: false },
  );
  const acquire = (timeoutMs?: number): Outcome & { withdraw: () => void } => {
    const outcome: Outcome & { withdraw: () => void } = { withdraw: () => undefined };
    outcome.withdraw = controller.acquire(timeoutMs, {
      admit: (release) => (outcome.release = release),
      refuse: (reason) => (outcome.refused = reason),
    });
    return outcome;
  };
  return { clock, shed, controller, acquire };
}

describe("AdmissionController", () => {
  it("runs `limit` calls, queues the rest in arrival order, refuses beyond maxQueue at once", () => {
    const { controller, acquire, shed } = harness({ maxQueue: 2 });
    const running = [acquire(), acquire()];
    expect(running.every((o) => o.release !== undefined)).toBe(true);
    const queued = [acquire(), acquire()];
    expect(controller.stats()).toMatchObject({ inFlight: 2, queued: 2 });
    expect(acquire().refused).toBe("queue-full");
    expect(shed).toEqual(["queue-full"]);

    running[0]!.release!();
    expect(queued[0]!.release).toBeDefined();
    expect(queued[1]!.release).toBeUndefined();
    running[1]!.release!();
    expect(queued[1]!.release).toBeDefined();
    queued.forEach((o) => o.release!());
    expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it("a release is counted once, however often it is called", () => {
    const { controller, acquire } = harness();
    const a = acquire();
    a.release!();
    a.release!();
    expect(controller.stats().inFlight).toBe(0);
  });

  it("before any call has finished, queues as if calls took 50 ms (cold start)", () => {
    const { acquire } = harness();
    acquire();
    acquire();
    // Two slots: position n waits ~25n ms. A 2 s deadline allows 480 ms: 19 fit, the 20th does not.
    const queued = Array.from({ length: 19 }, () => acquire(2_000));
    expect(queued.every((o) => o.refused === undefined)).toBe(true);
    expect(acquire(2_000).refused).toBe("deadline");
  });

  it("refuses on arrival a call the queue cannot serve within its deadline's share, queues one it can", () => {
    const { clock, acquire, shed } = harness();
    // Teach it the latency: calls of 100 ms, two at a time, so the queue drains 1 per 50 ms.
    for (let i = 0; i < 4; i++) {
      const pair = [acquire(), acquire()];
      clock.advance(100);
      pair.forEach((o) => o.release!());
    }
    expect(shed).toEqual([]);
    acquire();
    acquire();
    // Position 1 waits ~50 ms: a 1 s deadline allows 100 ms of waiting (its floor, a tenth).
    expect(acquire(1_000).refused).toBeUndefined();
    // Position 2 waits ~100 ms: a 200 ms deadline allows only 20 ms.
    expect(acquire(200).refused).toBe("deadline");
    // No deadline: maxQueueWaitMs decides.
    expect(acquire().refused).toBeUndefined();
    expect(shed).toEqual(["deadline"]);
  });

  it("refuses waiters whose budget ran out, and a withdrawn waiter is skipped", () => {
    const { clock, controller, acquire } = harness({ maxQueueWaitMs: 300 });
    const running = [acquire(), acquire()];
    const withdrawn = acquire();
    const stale = acquire();
    withdrawn.withdraw();
    expect(controller.stats().queued).toBe(1);
    clock.advance(299);
    controller.sweep();
    expect(stale.refused).toBeUndefined();
    clock.advance(2);
    controller.sweep();
    expect(stale.refused).toBe("queue-timeout");
    running.forEach((o) => o.release!());
    expect(withdrawn.release).toBeUndefined();
    expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it("holds nothing of a call that has left the queue, while the queue stays busy", async () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const { controller, acquire } = harness({ initialConcurrency: 1, minConcurrency: 1, maxConcurrency: 1 });
    const running = acquire();
    const releases: Release[] = [];
    // An admission reaches its whole call (stream, headers, response), so
    // the test holds only WeakRefs to them.
    const enqueue = () => {
      const admission = { admit: (release: Release) => releases.push(release), refuse: () => undefined };
      return { withdraw: controller.acquire(10_000, admission), admission: new WeakRef(admission) };
    };
    const admitted = enqueue();
    const withdrawn = enqueue();
    enqueue(); // keeps the queue from emptying, so it does not start over
    withdrawn.withdraw();
    running.release!();
    expect(releases).toHaveLength(1);
    expect(controller.stats().queued).toBe(1);
    await new Promise((resolve) => setImmediate(resolve)); // WeakRef targets are kept to the end of the job
    gc();
    expect(admitted.admission.deref()).toBeUndefined();
    expect(withdrawn.admission.deref()).toBeUndefined();
  });

  it("budgets refusals on arrival (a burst of 4,000, then 16 per finished call): past it a call is held in line", () => {
    const { controller, acquire, shed } = harness({ maxQueue: 10_000 });
    const running = [acquire(), acquire()];
    // 200 ms deadlines may wait 20 ms; first in line (cold: 25 ms) is too far back.
    for (let i = 0; i < 4_000; i++) expect(acquire(200).refused).toBe("deadline");
    const held = acquire(200);
    expect(held.refused).toBeUndefined();
    expect(controller.stats().queued).toBe(1);

    running[0]!.release!(); // admits the held call and earns 16 refusals
    expect(held.release).toBeDefined();
    const next = Array.from({ length: 17 }, () => acquire(200));
    expect(next.map((o) => o.refused)).toEqual([...Array(16).fill("deadline"), undefined]);
    expect(shed).toHaveLength(4_016);
  });

  it("refuses new calls at once while the event loop lags past its bound and calls wait, never into an empty queue", () => {
    let delay = 0;
    const { acquire, shed } = harness({}, () => delay);
    expect(acquire().release).toBeDefined();
    delay = 150;
    // Nothing waits: lag alone refuses nobody (else refused callers asking again keep the loop busy for good).
    expect(acquire().release).toBeDefined();
    const waiting = acquire();
    expect(waiting.refused).toBeUndefined();
    expect(acquire().refused).toBe("event-loop");
    delay = 20;
    expect(acquire().refused).toBeUndefined();
    expect(shed).toEqual(["event-loop"]);
  });

  it("serves the newest waiter first once the oldest has used most of its patience (adaptive LIFO)", () => {
    const { clock, acquire } = harness({ maxConcurrency: 1, initialConcurrency: 1 });
    for (let i = 0; i < 6; i++) {
      const one = acquire();
      clock.advance(10);
      one.release!();
    }
    // FIFO while the oldest is within its patience (1 s deadline: it gives up at ~990 ms).
    let running = acquire();
    const first = acquire(1_000);
    const second = acquire(1_000);
    clock.advance(100);
    running.release!();
    expect(first.release).toBeDefined();
    expect(second.release).toBeUndefined();
    // The running call hangs: capacity dropped. Past 90% of the oldest's patience, the newest goes first.
    running = first;
    clock.advance(850);
    const fresh = acquire(1_000);
    running.release!();
    expect(fresh.release).toBeDefined();
    expect(second.release).toBeUndefined();
  });

  it("lets a call wait what leaves it time to finish within half its deadline, after the estimate's error", () => {
    // (0.5 x deadline - running time - 400 ms) / 1.25, and never under a tenth of the deadline.
    expect(queueBudgetMs(2_000, 30)).toBeCloseTo(456);
    expect(queueBudgetMs(20_000, 30)).toBeCloseTo(7_656);
    expect(queueBudgetMs(500, 30)).toBeCloseTo(50);
    expect(queueBudgetMs(Infinity, 30)).toBe(Infinity);
  });

  it("scales Little's law down while waiters wait less than it estimated, and never up", () => {
    // Calls take 100 ms, two at a time: by Little's law, position n waits 50n ms.
    const taught = () => {
      const h = harness({ maxQueueWaitMs: 60_000 });
      for (let i = 0; i < 10; i++) {
        const pair = [h.acquire(), h.acquire()];
        h.clock.advance(100);
        pair.forEach((o) => o.release!());
      }
      return h;
    };
    // 40 waiters queue behind two calls; each call takes `callMs`, and all but every
    // `keepEvery`-th waiter go away (so those left wait less than estimated). Done in
    // under three rate windows, so Little's law still estimates.
    const drain = (h: ReturnType<typeof taught>, callMs: number, keepEvery: number) => {
      const running = [h.acquire(), h.acquire()];
      const waiting = Array.from({ length: 40 }, () => h.acquire(60_000));
      waiting.forEach((o, i) => (i + 1) % keepEvery !== 0 && o.withdraw());
      while (running.length > 0) {
        h.clock.advance(callMs / 2);
        running.shift()!.release!();
        for (const o of waiting) if (o.release !== undefined && !o.done) running.push(Object.assign(o, { done: true }));
      }
    };
    // Of 30 calls with a 4 s deadline (1.2 s of waiting: position 24 by the raw estimate), how many queue.
    const queuedOf30 = (h: ReturnType<typeof taught>) => {
      h.acquire();
      h.acquire();
      return Array.from({ length: 30 }, () => h.acquire(4_000)).filter((o) => o.refused === undefined).length;
    };
    expect(queuedOf30(taught())).toBe(24);
    const quick = taught();
    drain(quick, 100, 4);
    expect(quick.controller.stats().littleBias).toBeLessThan(0.8);
    expect(queuedOf30(quick)).toBe(30);
    // Waiters that waited three times the estimate leave it as it was.
    const slow = taught();
    drain(slow, 300, 1);
    expect(slow.controller.stats().littleBias).toBe(1);
  });

  it("defaults start at the pool size and allow up to 8 per connection", () => {
    expect(defaultAdmissionOptions(4)).toMatchObject({ initialConcurrency: 4, minConcurrency: 2, maxConcurrency: 32 });
  });
});

describe("AdaptiveConcurrencyLimit", () => {
  function drive(limit: AdaptiveConcurrencyLimit, clock: FakeClock, latencyMs: (limit: number) => number, windows: number) {
    for (let w = 0; w < windows; w++) {
      for (let i = 0; i < 10; i++) {
        clock.advance(11);
        limit.onSample(latencyMs(limit.limit), limit.limit);
      }
    }
  }

  it("grows while latency stays at its floor and the limit is what holds calls back", () => {
    const clock = new FakeClock();
    const limit = new AdaptiveConcurrencyLimit({ initial: 4, min: 1, max: 64 }, clock.read);
    drive(limit, clock, () => 5, 30);
    expect(limit.limit).toBeGreaterThan(20);
  });

  it("does not grow when the server is idle below its limit", () => {
    const clock = new FakeClock();
    const limit = new AdaptiveConcurrencyLimit({ initial: 4, min: 1, max: 64 }, clock.read);
    for (let i = 0; i < 300; i++) {
      clock.advance(11);
      limit.onSample(5, 1);
    }
    expect(limit.limit).toBe(4);
  });

  it("shrinks when latency jumps past twice its long-term average, by at most half a window at a time", () => {
    const clock = new FakeClock();
    const limit = new AdaptiveConcurrencyLimit({ initial: 32, min: 2, max: 64 }, clock.read);
    drive(limit, clock, () => 5, 100);
    const settled = limit.limit;
    // The database slows down 10x: the limit shrinks window by window.
    drive(limit, clock, () => 50, 1);
    expect(limit.limit).toBeLessThan(settled);
    expect(limit.limit).toBeGreaterThanOrEqual(Math.floor(settled * 0.9));
    drive(limit, clock, () => 50, 5);
    expect(limit.limit).toBeLessThan(settled * 0.75);
  });

  it("does not shrink under latency that rose and stays (the event loop shared with refusals): it is the new normal", () => {
    const clock = new FakeClock();
    const limit = new AdaptiveConcurrencyLimit({ initial: 8, min: 2, max: 32 }, clock.read);
    drive(limit, clock, () => 3, 50);
    // Latency creeps up 3x over two seconds and stays there.
    for (let step = 1; step <= 20; step++) drive(limit, clock, () => 3 + (6 * step) / 20, 1);
    drive(limit, clock, () => 9, 100);
    expect(limit.limit).toBe(32);
    expect(limit.longRttMs).toBeCloseTo(9, 0);
  });

  it("recovers after an overload episode: the long-term average comes back down and the limit grows again", () => {
    const clock = new FakeClock();
    const limit = new AdaptiveConcurrencyLimit({ initial: 16, min: 1, max: 64 }, clock.read);
    drive(limit, clock, () => 5, 50);
    const before = limit.limit;
    drive(limit, clock, () => 80, 10);
    const squeezed = limit.limit;
    expect(squeezed).toBeLessThan(before * 0.75);
    drive(limit, clock, () => 5, 100);
    expect(limit.limit).toBeGreaterThan(squeezed);
    expect(limit.longRttMs).toBeLessThan(10);
  });
});

describe("AdmissionController's drain rate", () => {
  it("before the queue has drained for long, trusts the long-term latency over a per-call average a burst inflated", () => {
    const { clock, acquire } = harness({ maxConcurrency: 2, initialConcurrency: 2 });
    // Steady traffic, never queued: pairs of 10 ms calls for a second.
    for (let i = 0; i < 100; i++) {
      const pair = [acquire(), acquire()];
      clock.advance(10);
      pair.forEach((o) => o.release!());
    }
    // A burst's first call is slow (2 s): the latency average jumps to ~200 ms.
    const slow = acquire();
    const other = acquire();
    clock.advance(10);
    other.release!();
    clock.advance(1_990);
    slow.release!();
    const busy = [acquire(), acquire()];
    // By the long-term 10 ms, position 3 is ~15 ms away: a 1 s deadline (100 ms of waiting) queues it;
    // by the per-call average (2 per ~200 ms) it would be ~300 ms away: refused.
    expect([acquire(1_000), acquire(1_000), acquire(1_000)].map((o) => o.refused)).toEqual([undefined, undefined, undefined]);
    busy.forEach((o) => o.release!());
  });

  it("trusts the rate the queue drained at while saturated over the latency average, so one slow call does not refuse those who would be served", () => {
    const { clock, acquire } = harness({ maxConcurrency: 1, initialConcurrency: 1 });
    for (let i = 0; i < 5; i++) {
      const one = acquire();
      clock.advance(10);
      one.release!();
    }
    // Saturated for a second: 10 ms calls, two always waiting.
    let running = acquire();
    let waiting = [acquire(), acquire()];
    for (let i = 0; i < 100; i++) {
      clock.advance(10);
      running.release!();
      running = waiting.find((o) => o.release !== undefined)!;
      waiting = [...waiting.filter((o) => o !== running), acquire()];
    }
    // One call hangs for 2 s: the latency average jumps, the measured rate stands.
    clock.advance(2_000);
    running.release!();
    // Position ~3 at 100/s is ~30 ms away: a 1 s deadline (100 ms of waiting) still queues;
    // by the latency average alone it would be ~600 ms away.
    expect(acquire(1_000).refused).toBeUndefined();
  });
});
