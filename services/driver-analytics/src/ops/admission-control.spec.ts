// The admission controller's rules, without a server: how many run, how many
// wait, who is refused at once and why, and that every slot comes back.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { AdmissionController, defaultAdmissionOptions, requestTimeoutMs, type ShedReason } from "./admission-control.js";

const never = new AbortController().signal;

/** outcome: undefined code when admitted, the refusal's code and retry advice otherwise. */
function outcome(acquired: Promise<unknown>): Promise<{ code: Code | undefined; pushback: string | null }> {
  return acquired.then(() => ({ code: undefined, pushback: null }), refusal);
}

function refusal(error: unknown): { code: Code; pushback: string | null } {
  const e = ConnectError.from(error);
  return { code: e.code, pushback: e.metadata.get("grpc-retry-pushback-ms") };
}

describe("AdmissionController", () => {
  it("runs maxConcurrency calls, queues up to maxQueue, refuses the rest at once with UNAVAILABLE and retry advice", async () => {
    const shed: ShedReason[] = [];
    const controller = new AdmissionController({ maxConcurrency: 2, maxQueue: 3, maxQueueWaitMs: 10_000 }, (r) => shed.push(r));
    const running = await Promise.all([controller.acquire(undefined, never), controller.acquire(undefined, never)]);
    const queued = [0, 1, 2].map(() => controller.acquire(undefined, never));
    expect(controller.stats()).toMatchObject({ inFlight: 2, queued: 3 });
    // Refused while every slot is still held: it waited for nothing.
    const refused = await outcome(controller.acquire(undefined, never));
    expect(refused).toEqual({ code: Code.Unavailable, pushback: "200" });
    expect(shed).toEqual(["queue-full"]);

    // FIFO: releasing a slot admits the oldest waiter.
    const order: number[] = [];
    queued.forEach((p, i) => void p.then(() => order.push(i)));
    running[0]!();
    running[1]!();
    const admitted = [await queued[0]!, await queued[1]!];
    expect(controller.stats()).toMatchObject({ inFlight: 2, queued: 1 });
    admitted.forEach((release) => release());
    (await queued[2]!)();
    expect(order).toEqual([0, 1, 2]);
    expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it("refuses at once a call whose deadline the queue cannot meet, and queues one that it can", async () => {
    const shed: ShedReason[] = [];
    const controller = new AdmissionController({ maxConcurrency: 1, maxQueue: 100, maxQueueWaitMs: 10_000 }, (r) => shed.push(r));
    // Nothing is refused for its deadline before the queue's drain rate is
    // known: a 1 ms deadline queues.
    let release = await controller.acquire(undefined, never);
    const early = controller.acquire(1, never);
    // Teach it the drain rate: keep calls waiting for a while, each taking ~40 ms.
    const started = performance.now();
    const waiting = [early, controller.acquire(undefined, never)];
    while (performance.now() - started < 700) {
      await new Promise((resolve) => setTimeout(resolve, 40));
      waiting.push(controller.acquire(undefined, never));
      release();
      release = await waiting.shift()!;
    }
    expect(shed).toEqual([]);
    // ~25 calls a second drain; with a few ahead, 20 ms cannot be met but 5 s can.
    const hasty = await outcome(controller.acquire(20, never));
    expect(hasty.code).toBe(Code.Unavailable);
    expect(shed).toEqual(["deadline"]);
    const patient = controller.acquire(5_000, never);
    release();
    for (const next of waiting) (await next)();
    (await patient)();
    expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it("takes a waiter whose signal aborts out of the queue, rejecting with the signal's reason", async () => {
    const controller = new AdmissionController({ maxConcurrency: 1, maxQueue: 10, maxQueueWaitMs: 10_000 });
    const release = await controller.acquire(undefined, never);
    const abort = new AbortController();
    const waiting = controller.acquire(undefined, abort.signal);
    abort.abort(new ConnectError("deadline", Code.DeadlineExceeded));
    await expect(waiting).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    expect(controller.stats().queued).toBe(0);
    release();
    expect(controller.stats().inFlight).toBe(0);
  });

  it("refuses a call that waited longer than maxQueueWaitMs", async () => {
    const shed: ShedReason[] = [];
    const controller = new AdmissionController({ maxConcurrency: 1, maxQueue: 10, maxQueueWaitMs: 100 }, (r) => shed.push(r));
    const release = await controller.acquire(undefined, never);
    const started = performance.now();
    const result = await outcome(controller.acquire(undefined, never));
    const waited = performance.now() - started;
    expect(result).toEqual({ code: Code.Unavailable, pushback: "200" });
    expect(shed).toEqual(["queue-timeout"]);
    expect(waited).toBeGreaterThanOrEqual(95);
    expect(waited).toBeLessThan(400);
    release();
    expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it("leaves nothing behind when waiters give up: the count returns to 0 and the next call is admitted at once", async () => {
    const controller = new AdmissionController({ maxConcurrency: 1, maxQueue: 50, maxQueueWaitMs: 10_000 });
    const release = await controller.acquire(undefined, never);
    for (let round = 0; round < 200; round++) {
      const aborts = Array.from({ length: 50 }, () => new AbortController());
      const waits = aborts.map((a) => controller.acquire(undefined, a.signal).catch(() => "gone"));
      aborts.forEach((a) => a.abort());
      await Promise.all(waits);
    }
    expect(controller.stats().queued).toBe(0);
    release();
    // A fresh waiter is admitted straight away: nothing stale is left in front of it.
    (await controller.acquire(undefined, never))();
    expect(controller.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it("derives its defaults from the pool size", () => {
    expect(defaultAdmissionOptions(8)).toEqual({ maxConcurrency: 16, maxQueue: 32_000, maxQueueWaitMs: 30_000 });
  });
});

describe("requestTimeoutMs", () => {
  it("reads gRPC's grpc-timeout and Connect's connect-timeout-ms", () => {
    expect(requestTimeoutMs(new Headers({ "grpc-timeout": "50m" }))).toBe(50);
    expect(requestTimeoutMs(new Headers({ "grpc-timeout": "2S" }))).toBe(2_000);
    expect(requestTimeoutMs(new Headers({ "grpc-timeout": "1500000u" }))).toBe(1_500);
    expect(requestTimeoutMs(new Headers({ "grpc-timeout": "1H" }))).toBe(3_600_000);
    expect(requestTimeoutMs(new Headers({ "connect-timeout-ms": "250" }))).toBe(250);
    expect(requestTimeoutMs(new Headers({ "grpc-timeout": "soon" }))).toBeUndefined();
    expect(requestTimeoutMs(new Headers())).toBeUndefined();
  });
});
