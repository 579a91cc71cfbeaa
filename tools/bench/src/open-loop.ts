import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { percentile } from "@driver-analytics/load";
import { DriverAnalytics, GetStatsRequestSchema, ListTripsRequestSchema } from "@driver-analytics/proto";
import { CONNECTION_LOST, H2GrpcClient, grpcFrame } from "./h2-grpc-client.js";

/** OpenLoopWorkload: what each call asks for. */
export type OpenLoopWorkload = "stats" | "mixed";

export interface OpenLoopOptions {
  /** host:port */
  address: string;
  token: string;
  connections: number;
  /** Calls per second to start, as a function of the time since the run began (a step for recovery). */
  rate: (elapsedMs: number) => number;
  durationMs: number;
  deadlineMs: number;
  workload: OpenLoopWorkload;
  drivers: number;
  /** Retry a refused (UNAVAILABLE) call once, after the pushback the server advised. */
  retryRefused?: boolean;
  /**
   * Threads to offer the load from (default 1). More threads keep each
   * event loop on its schedule, but on 2 cores shared with the server they
   * took its CPU: at 1,000 calls/s offered, 2 threads got 35% OK where 1 got
   * 99.7%, back to back.
   */
  threads?: number;
}

/** OpenLoopPlan: what a thread needs (the rate as a step: before/after stepAtMs). */
interface ThreadPlan {
  options: Omit<OpenLoopOptions, "rate" | "threads">;
  rateBefore: number;
  rateAfter: number;
  stepAtMs: number;
  thread: number;
  threads: number;
}

/** CallRecord: one offered call, by its intended start (open loop: no coordinated omission). */
export interface CallRecord {
  /** When the schedule said to start it, ms since the run began. */
  startMs: number;
  /** From the intended start to the final answer (after the retry, if any). */
  latencyMs: number;
  /** gRPC status code of the final answer. */
  code: number;
  retried: boolean;
  /** How late the generator sent it: from the intended start to the send (the generator's own lag). */
  sendLagMs: number;
}

const TICK_MS = 2;

/**
 * runOpenLoop offers calls at a fixed schedule whatever the server does, as
 * real traffic does (a closed-loop client slows down with the server and
 * hides its collapse). Latency runs from each call's scheduled start, so a
 * client that fell behind its schedule does not flatter the server.
 */
export async function runOpenLoop(options: OpenLoopOptions & { stepAtMs?: number }): Promise<CallRecord[]> {
  const threads = Math.max(1, options.threads ?? 1);
  const { rate, threads: _threads, stepAtMs = Infinity, ...rest } = options;
  // The schedule is a rate, or a step from one rate to another (recovery).
  const rateBefore = rate(0);
  const rateAfter = Number.isFinite(stepAtMs) ? rate(stepAtMs) : rateBefore;
  const plans: ThreadPlan[] = Array.from({ length: threads }, (_, thread) => ({
    options: rest,
    rateBefore,
    rateAfter,
    stepAtMs,
    thread,
    threads,
  }));
  const parts = await Promise.all(
    plans.map(
      (plan) =>
        new Promise<CallRecord[]>((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: plan });
          worker.once("message", (records: CallRecord[]) => resolve(records));
          worker.once("error", reject);
          worker.once("exit", (code) => code !== 0 && reject(new Error(`open-loop thread exited with ${code}`)));
        }),
    ),
  );
  return parts.flat();
}

if (!isMainThread && parentPort !== null && (workerData as ThreadPlan | undefined)?.options !== undefined) {
  const plan = workerData as ThreadPlan;
  void runThread(plan).then((records) => parentPort!.postMessage(records));
}

async function runThread(plan: ThreadPlan): Promise<CallRecord[]> {
  const options = {
    ...plan.options,
    // Each thread offers its share, and numbers its calls apart from the others'.
    rate: (ms: number) => (ms < plan.stepAtMs ? plan.rateBefore : plan.rateAfter) / plan.threads,
    connections: Math.max(1, Math.round(plan.options.connections / plan.threads)),
  };
  const offset = plan.thread;
  const stride = plan.threads;
  const client = new H2GrpcClient(options.address, options.connections);
  await client.waitForReady();
  const call = callMaker(options, `Bearer ${options.token}`, client);
  const records: CallRecord[] = [];
  const pending = new Set<Promise<void>>();
  const begin = performance.now();
  let sent = 0;
  let due = 0;
  let lastTick = 0;

  const callOnce = (local: number) => call(local * stride + offset);

  const offer = (n: number, startMs: number) => {
    const run = (async () => {
      const sendLagMs = performance.now() - begin - startMs;
      let outcome = await callOnce(n);
      let retried = false;
      if (options.retryRefused && outcome.code === Code.Unavailable && outcome.pushbackMs !== undefined) {
        retried = true;
        await new Promise((resolve) => setTimeout(resolve, outcome.pushbackMs));
        outcome = await callOnce(n);
      }
      records.push({ startMs, latencyMs: performance.now() - begin - startMs, code: outcome.code, retried, sendLagMs });
    })();
    pending.add(run);
    void run.finally(() => pending.delete(run));
  };

  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - begin;
      const end = Math.min(elapsed, options.durationMs);
      // Integrate the rate over the time since the last tick.
      due += (options.rate(lastTick) * (end - lastTick)) / 1000;
      lastTick = end;
      while (sent < Math.floor(due)) {
        // Scheduled start: spread the tick's calls over the tick they belong to.
        const startMs = end - ((Math.floor(due) - sent - 1) * TICK_MS) / Math.max(1, Math.floor(due) - sent);
        offer(sent, startMs);
        sent++;
      }
      if (elapsed >= options.durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  await Promise.all(pending);
  client.close();
  return records;
}

type Outcome = { code: number; pushbackMs: number | undefined };

/**
 * callMaker: the n-th call of a workload (GetStats, or GetStats and
 * ListTrips of 50 alternately), its request bytes encoded once per driver.
 */
function callMaker(
  options: { workload: OpenLoopWorkload; drivers: number; deadlineMs: number },
  authorization: string,
  client: H2GrpcClient,
): (n: number) => Promise<Outcome> {
  const frames = (encode: (driverId: bigint) => Uint8Array) =>
    Array.from({ length: options.drivers }, (_, i) => grpcFrame(encode(BigInt(i + 1))));
  const stats = frames((driverId) => toBinary(GetStatsRequestSchema, create(GetStatsRequestSchema, { driverId })));
  const list =
    options.workload === "mixed"
      ? frames((driverId) => toBinary(ListTripsRequestSchema, create(ListTripsRequestSchema, { driverId, pageSize: 50 })))
      : [];
  const statsPath = `/${DriverAnalytics.typeName}/GetStats`;
  const listPath = `/${DriverAnalytics.typeName}/ListTrips`;
  return (n) => {
    const driver = n % options.drivers;
    const listing = options.workload === "mixed" && n % 2 === 1;
    return new Promise((resolve) =>
      client.call(listing ? listPath : statsPath, (listing ? list : stats)[driver]!, authorization, options.deadlineMs, (code, pushbackMs) =>
        resolve({ code, pushbackMs }),
      ),
    );
  };
}

export interface ClosedLoopOptions {
  address: string;
  token: string;
  connections: number;
  concurrency: number;
  durationMs: number;
  deadlineMs: number;
  workload: OpenLoopWorkload;
  drivers: number;
}

/**
 * runClosedLoop keeps `concurrency` calls in flight for durationMs with the
 * open loop's own client and returns the OK calls per second: the capacity
 * the open-loop levels are multiples of, measured with the same client so
 * the generator's share of the machine is alike in both.
 */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<{ okPerSecond: number }> {
  const client = new H2GrpcClient(options.address, options.connections);
  await client.waitForReady();
  const call = callMaker(options, `Bearer ${options.token}`, client);
  let ok = 0;
  let n = 0;
  const begin = performance.now();
  const loop = async () => {
    while (performance.now() - begin < options.durationMs) {
      if ((await call(n++)).code === 0) ok++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  const elapsedS = (performance.now() - begin) / 1000;
  client.close();
  return { okPerSecond: ok / elapsedS };
}

/** OpenLoopSummary: what the tables report for one run. */
export interface OpenLoopSummary {
  offered: number;
  offeredPerSecond: number;
  okPerSecond: number;
  okShare: number;
  admittedP50Ms: number;
  admittedP99Ms: number;
  refusedShare: number;
  refusedP50Ms: number;
  refusedP99Ms: number;
  deadlineShare: number;
  /** Of the other: calls lost with a connection the server ended (the generator then reconnects). */
  connectionLostShare: number;
  otherShare: number;
  /** The generator's own lag behind its schedule, p99 (ms): large, and the figures measure the generator. */
  sendLagP99Ms: number;
}

/** summarize: records whose scheduled start lies in [fromMs, toMs). */
export function summarize(records: readonly CallRecord[], fromMs = 0, toMs = Infinity): OpenLoopSummary {
  const inWindow = records.filter((r) => r.startMs >= fromMs && r.startMs < toMs);
  let lastStart = fromMs;
  for (const r of inWindow) if (r.startMs > lastStart) lastStart = r.startMs;
  const spanS = (Math.min(toMs, lastStart) - fromMs) / 1000 || 1;
  const ok = inWindow.filter((r) => r.code === 0);
  const refused = inWindow.filter((r) => r.code === Code.Unavailable);
  const deadline = inWindow.filter((r) => r.code === Code.DeadlineExceeded);
  const n = inWindow.length || 1;
  return {
    offered: inWindow.length,
    offeredPerSecond: inWindow.length / spanS,
    okPerSecond: ok.length / spanS,
    okShare: ok.length / n,
    admittedP50Ms: rank(ok.map((r) => r.latencyMs), 50),
    admittedP99Ms: rank(ok.map((r) => r.latencyMs), 99),
    refusedShare: refused.length / n,
    refusedP50Ms: rank(refused.map((r) => r.latencyMs), 50),
    refusedP99Ms: rank(refused.map((r) => r.latencyMs), 99),
    deadlineShare: deadline.length / n,
    connectionLostShare: inWindow.filter((r) => r.code === CONNECTION_LOST).length / n,
    otherShare: (inWindow.length - ok.length - refused.length - deadline.length) / n,
    sendLagP99Ms: rank(inWindow.map((r) => r.sendLagMs), 99),
  };
}

/** rank: the load tool's (ghz's) nearest-rank percentile; NaN for no values (the tables print "-"). */
function rank(values: number[], percentage: number): number {
  return values.length === 0 ? NaN : percentile([...values].sort((a, b) => a - b), percentage);
}
