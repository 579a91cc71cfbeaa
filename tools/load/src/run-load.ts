// The run itself: open the connections, (warm up,) then drive `concurrency`
// workers, each with at most one call in flight, until -n or -z is reached.
// Workers are small callback state machines: no promise, closure or result
// object per call, so 10,000 of them stay cheap next to the RPC stack.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import type { Message } from "@bufbuild/protobuf";
import type { ListTripsResponse } from "@driver-analytics/proto";
import { resolveOptions, scheduledRate, type LoadOptions, type Progress, type ResolvedOptions, type PageDepthWorkload } from "./options.js";
import { buildReport, type EndReason, type LoadGeneratorStats, type Report, type ReportOptions, type WorkloadReport } from "./report.js";
import {
  callSource,
  mixedSource,
  pageDepthSource,
  pageDepthWarmup,
  type PageAtDepth,
  type PreparedCall,
  type RequestSource,
  type WorkerContext,
} from "./request-source.js";
import { SampleRecorder } from "./sample-recorder.js";
import { CODE_OK, CODE_UNKNOWN, grpcErrorString } from "./status-codes.js";
import { openConnection, type Connection } from "./transport.js";

/**
 * Runs one load test and returns its report. Throws OptionsError for bad
 * options and an Error when a connection cannot be established; call errors
 * are never thrown, they are counted in the report.
 */
export async function runLoad(options: LoadOptions): Promise<Report> {
  const o = resolveOptions(options);
  const onProgress = options.onProgress;
  // Build the source first: bad data or an unknown call fails before connecting.
  const source0 = o.workload?.kind === "page-depth" ? undefined : staticSource(o);
  const conns = Array.from({ length: o.connections }, (_, i) => openConnection(o.protocol, o.host, i));
  try {
    onProgress?.({ elapsedMs: 0, completed: 0, errors: 0, inFlight: 0, currentRps: 0, phase: "connecting" });
    await Promise.all(
      conns.map((c, i) =>
        c.waitForReady(o.connectTimeoutMs).catch((e: unknown) => {
          throw new Error(`cannot connect to ${o.host} (connection ${i + 1} of ${conns.length}): ${(e as Error).message}`);
        }),
      ),
    );
    let source: RequestSource;
    let workload: WorkloadReport | undefined;
    if (o.workload?.kind === "page-depth") {
      const warm = await warmUpPageDepth(o, o.workload, conns, onProgress);
      source = pageDepthSource(warm.pages, o.workload, o.metadata);
      workload = warm.report;
    } else {
      source = source0 as RequestSource;
    }
    const run = new Run(o, conns, source, onProgress, options.signal);
    const result = await run.start();
    if (o.workload?.kind === "mixed") {
      workload = { kind: "mixed", deeperPages: (source as ReturnType<typeof mixedSource>).deeperPages() };
    }
    return buildReport({
      recorder: run.recorder,
      callNames: source.callNames,
      totalMs: result.totalMs,
      startedAtEpochMs: result.startedAtEpochMs,
      endReason: result.endReason,
      options: echoOptions(o),
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(o.tags !== undefined ? { tags: o.tags } : {}),
      details: o.details,
      countErrors: o.countErrors,
      paced: o.rps > 0 || o.loadSchedule !== undefined,
      loadGenerator: result.loadGenerator,
      ...(workload ? { workload } : {}),
    });
  } finally {
    for (const c of conns) c.close();
  }
}

function staticSource(o: ResolvedOptions): RequestSource {
  if (o.workload?.kind === "mixed") return mixedSource(o.workload, o.metadata);
  return callSource(o.call as string, o.data, o.metadata);
}

interface RunResult {
  totalMs: number;
  startedAtEpochMs: number;
  endReason: EndReason;
  loadGenerator: LoadGeneratorStats;
}

class Run {
  readonly recorder: SampleRecorder;
  private issued = 0;
  private finished = 0;
  private errors = 0;
  private inFlight = 0;
  private maxInFlight = 0;
  private activeWorkers = 0;
  private stopped = false;
  private recording = true;
  private endReason: EndReason = "normal";
  private t0 = 0;
  private stopAt = 0;
  /** Under a rate: the intended start of the next request, ms after t0 (ghz's pacer, without its coordinated omission). */
  private nextIntendedMs = 0;
  private readonly paced: boolean;
  private resolve: (() => void) | undefined;

  constructor(
    readonly o: ResolvedOptions,
    private readonly conns: readonly Connection[],
    readonly source: RequestSource,
    private readonly onProgress: ((p: Progress) => void) | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.recorder = new SampleRecorder(o.total);
    this.paced = o.rps > 0 || o.loadSchedule !== undefined;
  }

  async start(): Promise<RunResult> {
    const eld = monitorEventLoopDelay({ resolution: 10 });
    const done = new Promise<void>((resolve) => (this.resolve = resolve));
    const cpu0 = process.cpuUsage();
    const startedAtEpochMs = Date.now();
    eld.enable();
    this.t0 = performance.now();
    const timers: NodeJS.Timeout[] = [];
    const limitMs = this.o.durationMs || this.o.maxDurationMs;
    if (limitMs > 0) timers.push(setTimeout(() => this.stop("timeout"), limitMs));
    const onAbort = (): void => this.stop("cancel");
    if (this.signal?.aborted) this.stop("cancel");
    this.signal?.addEventListener("abort", onAbort, { once: true });
    if (this.onProgress) timers.push(this.progressTimer(this.onProgress));

    // Workers are spread over connections round-robin, like ghz.
    this.activeWorkers = this.o.concurrency;
    for (let w = 0; w < this.o.concurrency; w++) {
      new Worker(this, w, this.conns[w % this.conns.length] as Connection).next();
    }
    await done;
    const end = performance.now();
    for (const t of timers) clearTimeout(t);
    this.signal?.removeEventListener("abort", onAbort);
    eld.disable();
    const cpu = process.cpuUsage(cpu0);
    // With ignore, the calls cut off are not in the count, so neither is the time they took.
    const totalMs = (this.o.durationStop === "ignore" && this.stopAt > 0 ? this.stopAt : end) - this.t0;
    const calls = Math.max(1, this.finished);
    this.onProgress?.(this.progress("draining", 0));
    return {
      totalMs,
      startedAtEpochMs,
      endReason: this.endReason,
      loadGenerator: {
        nodeVersion: process.version,
        cpuUserMicros: cpu.user,
        cpuSystemMicros: cpu.system,
        cpuMicrosPerCall: (cpu.user + cpu.system) / calls,
        cpuUtilization: (cpu.user + cpu.system) / 1000 / Math.max(1, end - this.t0),
        eventLoopDelayP50Ms: eld.percentile(50) / 1e6,
        eventLoopDelayP99Ms: eld.percentile(99) / 1e6,
        eventLoopDelayMaxMs: eld.max / 1e6,
        maxInFlight: this.maxInFlight,
      },
    };
  }

  /** The next request number, or -1 when the run is over. */
  claim(): number {
    if (this.stopped) return -1;
    if (this.o.durationMs === 0 && this.issued >= this.o.total) return -1;
    return this.issued++;
  }

  /**
   * The intended start (performance.now() time) of the request just claimed,
   * or 0 when there is no rate. Requests are claimed in order, so each one is
   * 1/rate after the previous, the rate read from the schedule at that time.
   */
  intendedStart(): number {
    if (!this.paced) return 0;
    const at = this.nextIntendedMs;
    const rate = this.o.loadSchedule ? scheduledRate(this.o.loadSchedule, at) : this.o.rps;
    this.nextIntendedMs = at + 1000 / rate;
    return this.t0 + at;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  sent(): void {
    if (++this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
  }

  completed(intended: number, start: number, end: number, code: number, message: string, methodIndex: number): void {
    this.inFlight--;
    if (!this.recording) return;
    if (code !== CODE_OK) this.errors++;
    // ghz's --skipFirst drops the first N results as they arrive.
    if (this.finished++ < this.o.skipFirst) return;
    this.recorder.record(
      start - this.t0,
      end - start,
      code,
      code === CODE_OK ? undefined : grpcErrorString(code, message),
      methodIndex,
      intended > 0 && start > intended ? start - intended : 0,
    );
  }

  workerDone(): void {
    if (--this.activeWorkers === 0) this.resolve?.();
  }

  private stop(reason: EndReason): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopAt = performance.now();
    this.endReason = reason;
    const mode = reason === "cancel" ? "close" : this.o.durationStop;
    if (mode === "wait") return;
    if (mode === "ignore") this.recording = false;
    for (const c of this.conns) c.abort();
  }

  private progressTimer(onProgress: (p: Progress) => void): NodeJS.Timeout {
    let last = 0;
    let lastAt = performance.now();
    const t = setInterval(() => {
      const now = performance.now();
      const rps = ((this.finished - last) * 1000) / Math.max(1, now - lastAt);
      last = this.finished;
      lastAt = now;
      onProgress(this.progress("running", rps));
    }, this.o.progressIntervalMs);
    t.unref();
    return t;
  }

  private progress(phase: Progress["phase"], currentRps: number): Progress {
    return {
      elapsedMs: performance.now() - this.t0,
      completed: this.finished,
      errors: this.errors,
      inFlight: this.inFlight,
      currentRps,
      phase,
    };
  }
}

class Worker implements WorkerContext {
  requestNumber = 0;
  state = { driverId: 0n, token: "", depth: 0 };
  private readonly call: PreparedCall = { methodIndex: 0, message: undefined as unknown as Message, headers: undefined };
  private start = 0;
  /** Under a rate: when this call should have been sent (0 = no rate). */
  private intended = 0;
  private readonly onDone: (code: number, message: string, response: Message | undefined) => void;
  private readonly sendNow: () => void;

  constructor(
    private readonly run: Run,
    readonly workerId: number,
    private readonly conn: Connection,
  ) {
    this.onDone = (code, message, response) => {
      const end = performance.now();
      const methodIndex = this.call.methodIndex;
      this.run.completed(this.intended, this.start, end, code, message, methodIndex);
      this.run.source.onResult(this, methodIndex, code, response);
      this.next();
    };
    this.sendNow = () => this.send();
  }

  next(): void {
    const n = this.run.claim();
    if (n < 0) {
      this.run.workerDone();
      return;
    }
    this.requestNumber = n;
    this.intended = this.run.intendedStart();
    const wait = this.intended - performance.now();
    if (wait > 1) setTimeout(this.sendNow, wait);
    else this.send();
  }

  private send(): void {
    // A worker that slept for its --rps slot may wake after the run stopped.
    if (this.run.isStopped) {
      this.run.workerDone();
      return;
    }
    const o = this.run.o;
    this.run.sent();
    this.start = performance.now();
    try {
      this.run.source.next(this, this.call);
      this.conn.unary(
        this.run.source.methods[this.call.methodIndex] as never,
        this.call.message,
        this.call.headers,
        o.timeoutMs,
        this.onDone,
      );
    } catch (e) {
      // E.g. templated data that renders into something the schema rejects.
      // Counted as an error; the next call goes on a fresh tick, not deeper in this stack.
      const message = (e as Error).message;
      setImmediate(() => this.onDone(CODE_UNKNOWN, message, undefined));
    }
  }
}

// ---------------------------------------------------------------------------
// page-depth warm-up

async function warmUpPageDepth(
  o: ResolvedOptions,
  w: PageDepthWorkload,
  conns: readonly Connection[],
  onProgress: ((p: Progress) => void) | undefined,
): Promise<{ pages: PageAtDepth[]; report: WorkloadReport }> {
  const plan = pageDepthWarmup(w, o.metadata);
  const started = performance.now();
  const pages: PageAtDepth[] = [];
  let requests = 0;
  let errors = 0;
  let nextDriver = 0;
  const call = (conn: Connection, driverId: bigint, token: string): Promise<string | undefined> =>
    new Promise((resolve) => {
      requests++;
      const headers = plan.headers({ requestNumber: requests, workerId: 0 });
      conn.unary(plan.spec, plan.request(driverId, token), headers, o.timeoutMs, (code, _m, res) => {
        if (code !== CODE_OK) errors++;
        resolve(code === CODE_OK ? ((res as ListTripsResponse).nextPageToken ?? "") : undefined);
      });
    });
  const walker = async (i: number): Promise<void> => {
    const conn = conns[i % conns.length] as Connection;
    for (let d = nextDriver++; d < plan.drivers.length; d = nextDriver++) {
      const driverId = plan.drivers[d] as bigint;
      let token = "";
      let reached = true;
      // Pages 1..depth-1 are walked to learn the token of page `depth`.
      for (let page = 1; page < w.depth; page++) {
        const next = await call(conn, driverId, token);
        if (!next) {
          reached = false; // last page before the depth, or an error
          break;
        }
        token = next;
      }
      if (reached) pages.push({ driverId, token });
    }
  };
  const progress = onProgress
    ? setInterval(() => {
        onProgress({
          elapsedMs: performance.now() - started,
          completed: requests,
          errors,
          inFlight: 0,
          currentRps: 0,
          phase: "warmup",
        });
      }, o.progressIntervalMs).unref()
    : undefined;
  try {
    const walkers = Math.min(o.concurrency, plan.drivers.length);
    await Promise.all(Array.from({ length: walkers }, (_, i) => walker(i)));
  } finally {
    clearInterval(progress);
  }
  // Spread consecutive requests over drivers in id order, deterministic across runs.
  pages.sort((a, b) => (a.driverId < b.driverId ? -1 : a.driverId > b.driverId ? 1 : 0));
  return {
    pages,
    report: {
      kind: "page-depth",
      warmupRequests: requests,
      warmupErrors: errors,
      warmupMs: performance.now() - started,
      driversAtDepth: pages.length,
    },
  };
}

function echoOptions(o: ResolvedOptions): ReportOptions {
  const out: ReportOptions = {
    host: o.host,
    insecure: true,
    concurrency: o.concurrency,
    connections: o.connections,
    timeout: Math.round(o.timeoutMs * 1e6),
    "dial-timeout": Math.round(o.connectTimeoutMs * 1e6),
    protocol: o.protocol,
  };
  if (o.call !== undefined) out.call = o.call;
  if (o.durationMs > 0) {
    out.duration = Math.round(o.durationMs * 1e6);
    out["duration-stop"] = o.durationStop;
  } else {
    out.total = o.total;
  }
  if (o.maxDurationMs > 0) out["max-duration"] = Math.round(o.maxDurationMs * 1e6);
  if (o.rps > 0) out.rps = o.rps;
  if (o.loadSchedule) {
    const s = o.loadSchedule;
    out["load-schedule"] = s.kind;
    out["load-start"] = s.start;
    out["load-step"] = s.step;
    if (s.end !== undefined) out["load-end"] = s.end;
    if (s.stepDurationMs !== undefined) out["load-step-duration"] = Math.round(s.stepDurationMs * 1e6);
    if (s.maxDurationMs !== undefined) out["load-max-duration"] = Math.round(s.maxDurationMs * 1e6);
  }
  if (o.countErrors) out["count-errors"] = true;
  if (o.skipFirst > 0) out.skipFirst = o.skipFirst;
  if (o.data !== undefined) out.data = o.data;
  if (o.metadata.length === 1) out.metadata = o.metadata[0];
  else if (o.metadata.length > 1) out.metadata = o.metadata;
  if (o.name !== undefined) out.name = o.name;
  if (o.workload) out.workload = o.workload;
  return out;
}
