// The options of one load run, as the library takes them. The CLI maps ghz's
// flags and config files onto this; an orchestrator can build it directly.
import { parseDuration } from "./duration.js";

export type Protocol = "grpc" | "connect" | "grpcweb";

export const PROTOCOLS: readonly Protocol[] = ["grpc", "connect", "grpcweb"];

/**
 * ghz's --load-schedule: how the request rate changes over the run. "const"
 * is --rps throughout; "step" starts at `start` and adds `step` every
 * `stepDurationMs`; "line" adds `step` per second, continuously. Both stop
 * changing at `end` (when given) or after `maxDurationMs` (when given), then
 * hold that rate. `step` may be negative.
 */
export interface LoadSchedule {
  readonly kind: "step" | "line";
  readonly start: number;
  readonly step: number;
  readonly end?: number;
  readonly stepDurationMs?: number;
  readonly maxDurationMs?: number;
}

/** What happens to calls still in flight when -z/--duration runs out (ghz's --duration-stop). */
export type DurationStop = "close" | "wait" | "ignore";

export interface DriverRange {
  readonly min: number;
  readonly max: number;
}

/** GetStats and ListTrips over the seeded drivers, ListTrips walking pages per worker. */
export interface MixedWorkload {
  readonly kind: "mixed";
  /** Relative weights; default { stats: 50, list: 50 }. */
  readonly mix?: { readonly stats: number; readonly list: number };
  /** Drivers are drawn uniformly from this inclusive range; default 1..1000. */
  readonly drivers?: DriverRange;
  /**
   * A worker follows next_page_token for up to this many pages of one driver,
   * then starts over with another driver. 1 (default) = first pages only.
   */
  readonly maxDepth?: number;
  /** ListTrips page_size; 0 (default) = the server's default (50). */
  readonly pageSize?: number;
}

/**
 * ListTrips at one fixed page depth: a warm-up walks each driver's first
 * depth-1 pages to collect the token for page `depth`; the measured calls then
 * fetch only that page, so the report is the cost of page N alone.
 */
export interface PageDepthWorkload {
  readonly kind: "page-depth";
  /** 1-based page number to measure. */
  readonly depth: number;
  readonly drivers?: DriverRange;
  readonly pageSize?: number;
}

export type Workload = MixedWorkload | PageDepthWorkload;

export interface Progress {
  readonly elapsedMs: number;
  readonly completed: number;
  readonly errors: number;
  readonly inFlight: number;
  /** Completions per second over the last progress interval. */
  readonly currentRps: number;
  readonly phase: "connecting" | "warmup" | "running" | "draining";
}

export interface LoadOptions {
  /** host:port of a DriverAnalytics server (plaintext HTTP/2). */
  readonly host: string;
  /** Fully-qualified method, e.g. driveranalytics.v1.DriverAnalytics.GetStats. Required unless `workload`. */
  readonly call?: string;
  /**
   * "grpc" (default, via @grpc/grpc-js), "connect" (Connect protocol via
   * connect-node) or "grpcweb" (gRPC-Web via connect-node), each over HTTP/2.
   */
  readonly protocol?: Protocol;
  /** Workers, i.e. calls in flight at once (default 50). */
  readonly concurrency?: number;
  /** HTTP/2 connections the workers are spread over, round-robin (default 1). */
  readonly connections?: number;
  /** Requests to make, including skipped ones (default 200). Ignored when durationMs is set. */
  readonly total?: number;
  /** Run for this long instead of `total` requests. */
  readonly durationMs?: number;
  /** With `total`: stop after this long even if `total` is not reached (ghz -x). */
  readonly maxDurationMs?: number;
  /** Default "close", like ghz: in-flight calls are cancelled and reported as Canceled. */
  readonly durationStop?: DurationStop;
  /**
   * Constant request rate across all workers; 0 or absent = as fast as
   * possible. With a rate, every call has an intended start time and latency
   * is measured from it (no coordinated omission); the report also gives the
   * latency from the actual send (`latencyFromSend`).
   */
  readonly rps?: number;
  /** A changing rate instead of `rps` (ghz's --load-schedule step|line). */
  readonly loadSchedule?: LoadSchedule;
  /** Include failed calls in fastest/slowest/histogram/percentiles (ghz --count-errors). */
  readonly countErrors?: boolean;
  /**
   * Request data: a JSON object (or array of objects, sent round-robin by
   * request number), or JSON text that may contain ghz templates.
   */
  readonly data?: unknown;
  /** Request headers; values may contain templates. An array is used round-robin. */
  readonly metadata?: Readonly<Record<string, string>> | readonly Readonly<Record<string, string>>[];
  /** Per-call deadline (default 20 s). 0 = none. */
  readonly timeoutMs?: number;
  /** How long to wait for every connection to be ready before starting (default 10 s). */
  readonly connectTimeoutMs?: number;
  /** Leave this many first results out of the report (ghz --skipFirst). */
  readonly skipFirst?: number;
  readonly workload?: Workload;
  readonly name?: string;
  readonly tags?: Readonly<Record<string, string>>;
  /** Put per-request details (up to 1M) in the report, as ghz does. Default false: they are big. */
  readonly details?: boolean;
  /** Aborting ends the run early; the report is still built (endReason "cancel"). */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: Progress) => void;
  /** Default 250 ms. */
  readonly progressIntervalMs?: number;
}

export interface ResolvedOptions {
  readonly host: string;
  readonly call: string | undefined;
  readonly protocol: Protocol;
  readonly concurrency: number;
  readonly connections: number;
  readonly total: number;
  readonly durationMs: number;
  readonly maxDurationMs: number;
  readonly durationStop: DurationStop;
  readonly rps: number;
  readonly loadSchedule: LoadSchedule | undefined;
  readonly countErrors: boolean;
  readonly data: unknown;
  readonly metadata: readonly Readonly<Record<string, string>>[];
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly skipFirst: number;
  readonly workload: Workload | undefined;
  readonly name: string | undefined;
  readonly tags: Readonly<Record<string, string>> | undefined;
  readonly details: boolean;
  readonly progressIntervalMs: number;
}

export const DEFAULTS = {
  concurrency: 50,
  connections: 1,
  total: 200,
  timeoutMs: 20_000,
  connectTimeoutMs: 10_000,
  progressIntervalMs: 250,
} as const;

export class OptionsError extends Error {
  override readonly name = "OptionsError";
}

/** Fills defaults and rejects contradictions before any connection is opened. */
export function resolveOptions(o: LoadOptions): ResolvedOptions {
  if (!o.host || !/^[^\s/]+:\d+$/.test(o.host)) {
    throw new OptionsError(`host must be host:port, got ${JSON.stringify(o.host)}`);
  }
  const concurrency = positiveInt("concurrency", o.concurrency ?? DEFAULTS.concurrency);
  const connections = positiveInt("connections", o.connections ?? DEFAULTS.connections);
  if (connections > concurrency) {
    throw new OptionsError(`connections (${connections}) cannot exceed concurrency (${concurrency}), as in ghz`);
  }
  const durationMs = nonNegative("duration", o.durationMs ?? 0);
  const total = durationMs > 0 ? 0 : positiveInt("total", o.total ?? DEFAULTS.total);
  const skipFirst = nonNegativeInt("skipFirst", o.skipFirst ?? 0);
  if (durationMs === 0 && skipFirst >= total) {
    throw new OptionsError(`skipFirst (${skipFirst}) must be below total (${total})`);
  }
  if (o.workload && (o.call !== undefined || o.data !== undefined)) {
    throw new OptionsError("a workload picks its own calls and data: drop call/data, or drop the workload");
  }
  if (!o.workload && !o.call) throw new OptionsError("call is required (e.g. driveranalytics.v1.DriverAnalytics.GetStats)");
  if (o.workload) validateWorkload(o.workload);
  if (o.protocol !== undefined && !PROTOCOLS.includes(o.protocol)) {
    throw new OptionsError(`protocol must be ${PROTOCOLS.join(", ")}; got ${JSON.stringify(o.protocol)}`);
  }
  if (o.loadSchedule) validateSchedule(o.loadSchedule, o.rps);
  const metadata = o.metadata === undefined ? [] : Array.isArray(o.metadata) ? o.metadata : [o.metadata];
  for (const md of metadata) {
    for (const [k, v] of Object.entries(md)) {
      if (typeof v !== "string") throw new OptionsError(`metadata value for "${k}" must be a string`);
    }
  }
  return {
    host: o.host,
    call: o.call,
    protocol: o.protocol ?? "grpc",
    concurrency,
    connections,
    total,
    durationMs,
    maxDurationMs: durationMs > 0 ? 0 : nonNegative("max-duration", o.maxDurationMs ?? 0),
    durationStop: o.durationStop ?? "close",
    rps: nonNegative("rps", o.rps ?? 0),
    loadSchedule: o.loadSchedule,
    countErrors: o.countErrors ?? false,
    data: o.data,
    metadata,
    timeoutMs: nonNegative("timeout", o.timeoutMs ?? DEFAULTS.timeoutMs),
    connectTimeoutMs: nonNegative("connect-timeout", o.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs),
    skipFirst,
    workload: o.workload,
    name: o.name,
    tags: o.tags,
    details: o.details ?? false,
    progressIntervalMs: o.progressIntervalMs ?? DEFAULTS.progressIntervalMs,
  };
}

function validateWorkload(w: Workload): void {
  const d = w.drivers;
  if (d && (!Number.isSafeInteger(d.min) || !Number.isSafeInteger(d.max) || d.min < 1 || d.max < d.min)) {
    throw new OptionsError(`drivers must be a range MIN-MAX of positive integers, got ${d.min}-${d.max}`);
  }
  if (w.pageSize !== undefined) nonNegativeInt("page-size", w.pageSize);
  if (w.kind === "mixed") {
    if (w.maxDepth !== undefined) positiveInt("max-depth", w.maxDepth);
    const mix = w.mix;
    if (mix && (mix.stats < 0 || mix.list < 0 || mix.stats + mix.list <= 0)) {
      throw new OptionsError("mix weights must be non-negative and not all zero");
    }
  } else if (w.kind === "page-depth") {
    positiveInt("depth", w.depth);
  } else {
    throw new OptionsError(`unknown workload ${JSON.stringify((w as { kind: unknown }).kind)}`);
  }
}

function validateSchedule(s: LoadSchedule, rps: number | undefined): void {
  if (s.kind !== "step" && s.kind !== "line") throw new OptionsError(`load schedule must be const, step or line, got ${JSON.stringify(s.kind)}`);
  if (rps !== undefined && rps > 0) throw new OptionsError("give --rps (constant rate) or --load-schedule step|line, not both");
  if (!(s.start > 0)) throw new OptionsError(`load-start must be a positive rate for a ${s.kind} schedule, got ${s.start}`);
  if (!Number.isFinite(s.step) || s.step === 0) throw new OptionsError(`load-step must be a non-zero number for a ${s.kind} schedule`);
  if (s.end !== undefined && !(s.end > 0)) throw new OptionsError(`load-end must be a positive rate, got ${s.end}`);
  if (s.end !== undefined && (s.end - s.start) * s.step < 0) {
    throw new OptionsError(`load-step ${s.step} moves away from load-end ${s.end} (load-start ${s.start})`);
  }
  if (s.kind === "step" && !(s.stepDurationMs !== undefined && s.stepDurationMs > 0)) {
    throw new OptionsError("a step schedule needs --load-step-duration (e.g. 5s)");
  }
  if (s.step < 0 && s.end === undefined) throw new OptionsError("a falling schedule (negative load-step) needs --load-end");
  if (s.maxDurationMs !== undefined) nonNegative("load-max-duration", s.maxDurationMs);
}

/**
 * The request rate (per second) `atMs` after the start, per ghz's schedules.
 * Rates never fall below 1 call/s, so a run always makes progress.
 */
export function scheduledRate(s: LoadSchedule, atMs: number): number {
  const t = s.maxDurationMs !== undefined && s.maxDurationMs > 0 ? Math.min(atMs, s.maxDurationMs) : atMs;
  let rate = s.kind === "step" ? s.start + s.step * Math.floor(t / (s.stepDurationMs as number)) : s.start + (s.step * t) / 1000;
  if (s.end !== undefined) rate = s.step > 0 ? Math.min(rate, s.end) : Math.max(rate, s.end);
  return Math.max(1, rate);
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new OptionsError(`${name} must be a positive integer, got ${v}`);
  return v;
}

function nonNegativeInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new OptionsError(`${name} must be a non-negative integer, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new OptionsError(`${name} must be a non-negative number, got ${v}`);
  return v;
}

/** Parses "1-1000" (or a single "42") into an inclusive driver range. */
export function parseDriverRange(text: string): DriverRange {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  if (!m) throw new OptionsError(`--drivers must look like 1-1000, got ${JSON.stringify(text)}`);
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (min < 1 || max < min) throw new OptionsError(`--drivers range ${text} is empty or not positive`);
  return { min, max };
}

/** Parses "stats=50,list=50" (names: stats|GetStats, list|ListTrips). */
export function parseMix(text: string): { stats: number; list: number } {
  const mix = { stats: 0, list: 0 };
  for (const part of text.split(",")) {
    const m = /^\s*([A-Za-z]+)\s*[=:]\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (!m) throw new OptionsError(`--mix must look like stats=50,list=50, got ${JSON.stringify(text)}`);
    const key = (m[1] as string).toLowerCase();
    if (key === "stats" || key === "getstats") mix.stats = Number(m[2]);
    else if (key === "list" || key === "listtrips") mix.list = Number(m[2]);
    else throw new OptionsError(`--mix: unknown call "${m[1]}" (use stats or list)`);
  }
  if (mix.stats + mix.list <= 0) throw new OptionsError("--mix weights are all zero");
  return mix;
}

/** Durations may be given as Go strings ("10s") or milliseconds. */
export function durationOption(name: string, v: string | number): number {
  if (typeof v === "number") return v;
  try {
    return parseDuration(v);
  } catch (e) {
    throw new OptionsError(`${name}: ${(e as Error).message}`);
  }
}
