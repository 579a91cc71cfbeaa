// The report: ghz's JSON shape (durations in integer nanoseconds, histogram
// marks in seconds, percentages as numbers) plus a few clearly separate
// extensions that ghz does not have (calls, timeline, loadGenerator, workload).
import { SampleRecorder } from "./sample-recorder.js";
import { histogram, percentile, PERCENTILES } from "./stats.js";
import { CODE_OK, statusCodeName, grpcErrorString, STATUS_CODE_COUNT } from "./status-codes.js";

export type EndReason = "normal" | "timeout" | "cancel";

/** The run's options, echoed with ghz's key names (durations in ns). */
export interface ReportOptions {
  host: string;
  call?: string;
  insecure: boolean;
  total?: number;
  concurrency: number;
  connections: number;
  duration?: number;
  "duration-stop"?: string;
  "max-duration"?: number;
  timeout: number;
  "dial-timeout": number;
  skipFirst?: number;
  data?: unknown;
  metadata?: unknown;
  name?: string;
  rps?: number;
  "load-schedule"?: string;
  "load-start"?: number;
  "load-step"?: number;
  "load-end"?: number;
  "load-step-duration"?: number;
  "load-max-duration"?: number;
  "count-errors"?: boolean;
  /** Extension: "grpc", "connect" or "grpcweb". */
  protocol: string;
  /** Extension: the workload, when one was used instead of call/data. */
  workload?: unknown;
}

export interface LatencyPoint {
  /** 10, 25, 50, 75, 90, 95, 99, 99.9 */
  percentage: number;
  /** Nanoseconds. */
  latency: number;
}

export interface Bucket {
  /** Upper bound of the bucket in seconds (ghz's unit for marks). */
  mark: number;
  count: number;
  frequency: number;
}

export interface ResultDetail {
  /** RFC 3339 time the request was sent. */
  timestamp: string;
  /** Nanoseconds. */
  latency: number;
  error: string;
  status: string;
}

/** Extension: per-method figures, for mixed workloads. Durations in ns. */
export interface CallSummary {
  count: number;
  ok: number;
  rps: number;
  average: number;
  p50: number;
  p90: number;
  p99: number;
}

/** Extension: one window of the run, by completion time. Durations in ns. */
export interface TimelinePoint {
  /** End of the window, seconds since the start. */
  time: number;
  count: number;
  errors: number;
  rps: number;
  average: number;
  p50: number;
  p99: number;
}

/** Extension: what the load generator itself spent, to tell whether it was the bottleneck. */
export interface LoadGeneratorStats {
  nodeVersion: string;
  /** CPU time of this process during the measured phase, µs. */
  cpuUserMicros: number;
  cpuSystemMicros: number;
  /** CPU µs per completed call; a Node client costs ~100-300 µs. */
  cpuMicrosPerCall: number;
  /** Of one core: 1.0 = a full core busy; near 1 means the generator may be the limit. */
  cpuUtilization: number;
  /** Event-loop delay while running, ms; a high p99 means the generator was saturated. */
  eventLoopDelayP50Ms: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  maxInFlight: number;
}

/** Extension: what a workload did before and around the measured calls. */
export interface WorkloadReport {
  kind: string;
  warmupRequests?: number;
  warmupErrors?: number;
  warmupMs?: number;
  /** page-depth: drivers that have a page at the requested depth. */
  driversAtDepth?: number;
  /** mixed: ListTrips calls that continued a walk (page 2 and deeper). */
  deeperPages?: number;
}

/**
 * Extension, under a rate (--rps, --load-schedule): the same figures as the
 * report's own, but measured from when each call was actually sent rather
 * than from when the schedule meant to send it. The gap between the two is
 * the time calls waited in this tool for a free worker (coordinated omission).
 */
export interface LatencyFromSend {
  average: number;
  fastest: number;
  slowest: number;
  latencyDistribution: LatencyPoint[];
  /** Calls sent more than 1 ms after their intended start. */
  lateCalls: number;
  /** The largest of those delays, ns. */
  maxSendDelay: number;
}

export interface Report {
  name?: string;
  endReason: EndReason;
  options: ReportOptions;
  date: string;
  count: number;
  total: number;
  average: number;
  fastest: number;
  slowest: number;
  rps: number;
  errorDistribution: Record<string, number>;
  statusCodeDistribution: Record<string, number>;
  latencyDistribution: LatencyPoint[];
  histogram: Bucket[];
  latencyFromSend?: LatencyFromSend;
  details?: ResultDetail[];
  tags?: Record<string, string>;
  calls: Record<string, CallSummary>;
  timeline: TimelinePoint[];
  loadGenerator: LoadGeneratorStats;
  workload?: WorkloadReport;
}

export interface BuildReportInput {
  readonly recorder: SampleRecorder;
  /** Index -> method name, matching SampleRecorder.call. */
  readonly callNames: readonly string[];
  readonly totalMs: number;
  /** Wall-clock time the measured phase started (ms since epoch), for details' timestamps. */
  readonly startedAtEpochMs: number;
  readonly endReason: EndReason;
  readonly options: ReportOptions;
  readonly name?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly details: boolean;
  /** ghz --count-errors: failed calls count in fastest/slowest/histogram/percentiles too. */
  readonly countErrors?: boolean;
  /** Calls had intended start times (--rps, --load-schedule): latency counts from them. */
  readonly paced?: boolean;
  readonly loadGenerator: LoadGeneratorStats;
  readonly workload?: WorkloadReport;
  readonly date?: Date;
}

const MAX_DETAILS = 1_000_000;
const ns = (ms: number): number => Math.round(ms * 1e6);

export function buildReport(input: BuildReportInput): Report {
  const r = input.recorder;
  const n = r.length;
  let sum = 0;
  let okCount = 0;
  const codeCounts = new Array<number>(STATUS_CODE_COUNT).fill(0);
  const errorCounts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    sum += latencyOf(r, i);
    const code = r.code[i] as number;
    codeCounts[code] = (codeCounts[code] as number) + 1;
    if (code === CODE_OK) okCount++;
    else {
      const e = r.error[i] as number;
      errorCounts.set(e, (errorCounts.get(e) ?? 0) + 1);
    }
  }
  // Like ghz: fastest, slowest, histogram and percentiles are over successful
  // calls only, unless --count-errors.
  const counted = (i: number): boolean => input.countErrors === true || r.code[i] === CODE_OK;
  const countedN = input.countErrors ? n : okCount;
  const ok = new Float64Array(countedN);
  for (let i = 0, j = 0; i < n; i++) if (counted(i)) ok[j++] = latencyOf(r, i);
  ok.sort();

  const statusCodeDistribution: Record<string, number> = {};
  codeCounts.forEach((c, code) => {
    if (c > 0) statusCodeDistribution[statusCodeName(code)] = c;
  });
  const errorDistribution: Record<string, number> = {};
  for (const [id, c] of errorCounts) {
    const key = errorKey(r, id);
    errorDistribution[key] = (errorDistribution[key] ?? 0) + c;
  }

  const totalS = input.totalMs / 1000;
  const report: Report = {
    ...(input.name !== undefined ? { name: input.name } : {}),
    endReason: input.endReason,
    options: input.options,
    date: rfc3339(input.date ?? new Date()),
    count: n,
    total: ns(input.totalMs),
    average: n > 0 ? ns(sum / n) : 0,
    fastest: countedN > 0 ? ns(ok[0] as number) : 0,
    slowest: countedN > 0 ? ns(ok[countedN - 1] as number) : 0,
    rps: totalS > 0 ? n / totalS : 0,
    errorDistribution,
    statusCodeDistribution,
    latencyDistribution: countedN > 0 ? PERCENTILES.map((p) => ({ percentage: p, latency: ns(percentile(ok, p)) })) : [],
    histogram: histogram(ok).map((b) => ({ mark: b.mark / 1000, count: b.count, frequency: b.frequency })),
    ...(input.tags ? { tags: { ...input.tags } } : {}),
    ...(input.paced ? { latencyFromSend: latencyFromSend(r, counted, countedN) } : {}),
    calls: callSummaries(r, input.callNames, totalS),
    timeline: timeline(r, input.totalMs),
    loadGenerator: input.loadGenerator,
    ...(input.workload ? { workload: input.workload } : {}),
  };
  if (input.details) report.details = details(r, input.startedAtEpochMs);
  return report;
}

/** A call's latency as the report gives it: from its intended start under a rate, else from its send. */
export function latencyOf(r: SampleRecorder, i: number): number {
  return (r.latencyMs[i] as number) + (r.delayMs[i] as number);
}

function latencyFromSend(r: SampleRecorder, counted: (i: number) => boolean, countedN: number): LatencyFromSend {
  const lat = new Float64Array(countedN);
  let sum = 0;
  let late = 0;
  let maxDelay = 0;
  for (let i = 0, j = 0; i < r.length; i++) {
    const d = r.delayMs[i] as number;
    if (d > 1) late++;
    if (d > maxDelay) maxDelay = d;
    if (!counted(i)) continue;
    lat[j++] = r.latencyMs[i] as number;
    sum += r.latencyMs[i] as number;
  }
  lat.sort();
  return {
    average: countedN > 0 ? ns(sum / countedN) : 0,
    fastest: countedN > 0 ? ns(lat[0] as number) : 0,
    slowest: countedN > 0 ? ns(lat[countedN - 1] as number) : 0,
    latencyDistribution: countedN > 0 ? PERCENTILES.map((p) => ({ percentage: p, latency: ns(percentile(lat, p)) })) : [],
    lateCalls: late,
    maxSendDelay: ns(maxDelay),
  };
}

function errorKey(r: SampleRecorder, id: number): string {
  // The message is stored with its code prefix already ("rpc error: code = ...").
  return r.errorMessages[id] ?? grpcErrorString(2, "unknown");
}

function callSummaries(r: SampleRecorder, names: readonly string[], totalS: number): Record<string, CallSummary> {
  const out: Record<string, CallSummary> = {};
  names.forEach((name, idx) => {
    let count = 0;
    let okN = 0;
    let sum = 0;
    for (let i = 0; i < r.length; i++) {
      if (r.call[i] !== idx) continue;
      count++;
      sum += latencyOf(r, i);
      if (r.code[i] === CODE_OK) okN++;
    }
    if (count === 0) return;
    const lat = new Float64Array(okN);
    for (let i = 0, j = 0; i < r.length; i++) {
      if (r.call[i] === idx && r.code[i] === CODE_OK) lat[j++] = latencyOf(r, i);
    }
    lat.sort();
    out[name] = {
      count,
      ok: okN,
      rps: totalS > 0 ? count / totalS : 0,
      average: ns(sum / count),
      p50: ns(percentile(lat, 50)),
      p90: ns(percentile(lat, 90)),
      p99: ns(percentile(lat, 99)),
    };
  });
  return out;
}

const WINDOWS_MS = [100, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 300_000];

/** Latency over time in at most ~240 windows, by completion time; all calls, errors counted apart. */
export function timeline(r: SampleRecorder, totalMs: number): TimelinePoint[] {
  const n = r.length;
  if (n === 0) return [];
  const window = WINDOWS_MS.find((w) => totalMs / w <= 240) ?? 300_000;
  const count = Math.max(1, Math.ceil(totalMs / window));
  const at = (i: number): number =>
    Math.min(count - 1, Math.max(0, Math.floor(((r.startMs[i] as number) + (r.latencyMs[i] as number)) / window)));
  const counts = new Uint32Array(count);
  const errors = new Uint32Array(count);
  for (let i = 0; i < n; i++) {
    const w = at(i);
    counts[w] = (counts[w] as number) + 1;
    if (r.code[i] !== CODE_OK) errors[w] = (errors[w] as number) + 1;
  }
  const offsets = new Uint32Array(count + 1);
  for (let w = 0; w < count; w++) offsets[w + 1] = (offsets[w] as number) + (counts[w] as number);
  const fill = offsets.slice(0, count);
  const grouped = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const w = at(i);
    grouped[fill[w] as number] = latencyOf(r, i);
    fill[w] = (fill[w] as number) + 1;
  }
  const out: TimelinePoint[] = [];
  for (let w = 0; w < count; w++) {
    const slice = grouped.subarray(offsets[w] as number, offsets[w + 1] as number).sort();
    let sum = 0;
    for (const v of slice) sum += v;
    const end = Math.min((w + 1) * window, totalMs);
    const span = (end - w * window) / 1000;
    out.push({
      time: end / 1000,
      count: slice.length,
      errors: errors[w] as number,
      rps: span > 0 ? slice.length / span : 0,
      average: slice.length ? ns(sum / slice.length) : 0,
      p50: ns(percentile(slice, 50)),
      p99: ns(percentile(slice, 99)),
    });
  }
  return out;
}

function details(r: SampleRecorder, startedAt: number): ResultDetail[] {
  const out: ResultDetail[] = [];
  const n = Math.min(r.length, MAX_DETAILS);
  for (let i = 0; i < n; i++) {
    const code = r.code[i] as number;
    out.push({
      timestamp: new Date(startedAt + (r.startMs[i] as number)).toISOString(),
      latency: ns(latencyOf(r, i)),
      error: code === CODE_OK ? "" : (r.errorMessages[r.error[i] as number] ?? ""),
      status: statusCodeName(code),
    });
  }
  return out;
}

/** RFC 3339 with the local offset, as Go's time.RFC3339 prints time.Now(). */
function rfc3339(d: Date): string {
  const off = -d.getTimezoneOffset();
  const pad = (v: number): string => String(Math.floor(Math.abs(v))).padStart(2, "0");
  const tz = off === 0 ? "Z" : `${off > 0 ? "+" : "-"}${pad(off / 60)}:${pad(off % 60)}`;
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${tz}`
  );
}
