// Where each request's method and message come from: either ghz-style
// call + data (with templates), or one of the DriverAnalytics workloads.
import { create, fromJson, type DescMessage, type DescMethod, type JsonValue, type Message } from "@bufbuild/protobuf";
import {
  DriverAnalytics,
  GetStatsRequestSchema,
  Health,
  ListTripsRequestSchema,
  type ListTripsResponse,
} from "@driver-analytics/proto";
import { OptionsError, type DriverRange, type MixedWorkload, type PageDepthWorkload } from "./options.js";
import { compileData, compileTemplate, parseDataText, type CallNames, type TemplateContext } from "./template.js";
import type { Headers, MethodSpec } from "./transport.js";

/** Filled in place by RequestSource.next, one per worker, to avoid an object per request. */
export interface PreparedCall {
  methodIndex: number;
  message: Message;
  headers: Headers | undefined;
}

export interface WorkerContext extends TemplateContext {
  requestNumber: number;
  readonly workerId: number;
  /** The workload's per-worker state (e.g. a page walk in progress). */
  state: WalkState;
}

export interface WalkState {
  driverId: bigint;
  token: string;
  depth: number;
}

export interface RequestSource {
  /** Index = PreparedCall.methodIndex; names are what reports key per-call figures by. */
  readonly methods: readonly MethodSpec[];
  readonly callNames: readonly string[];
  next(worker: WorkerContext, out: PreparedCall): void;
  onResult(worker: WorkerContext, methodIndex: number, code: number, response: Message | undefined): void;
}

// The services this tool carries the contracts of: ours, and the standard
// health check (a no-database call, to measure the server stack's ceiling).
const SERVICES = [DriverAnalytics, Health];

/** Finds a known method from ghz's call syntax (pkg.Service.Method or pkg.Service/Method). */
export function resolveMethod(call: string): DescMethod {
  const normalized = call.replace(/^\//, "").replace("/", ".");
  const dot = normalized.lastIndexOf(".");
  const serviceName = normalized.slice(0, dot);
  const name = normalized.slice(dot + 1);
  const service = SERVICES.find((s) => s.typeName === serviceName);
  if (service === undefined) {
    throw new OptionsError(
      `unknown service "${serviceName}": this tool carries ${SERVICES.map((s) => s.typeName).join(" and ")} ` +
        "(there is no --proto/--protoset/reflection support)",
    );
  }
  const method = service.methods.find((m) => m.name === name);
  if (!method) {
    const names = service.methods.map((m) => `${service.typeName}.${m.name}`).join(", ");
    throw new OptionsError(`unknown method "${name}"; known: ${names}`);
  }
  if (method.methodKind !== "unary") throw new OptionsError(`${call} is not unary; only unary calls are supported`);
  return method;
}

function callNamesOf(m: DescMethod): CallNames {
  return {
    fullyQualifiedName: `${m.parent.typeName}.${m.name}`,
    methodName: m.name,
    serviceName: m.parent.name,
    inputName: m.input.name,
    outputName: m.output.name,
  };
}

export function fullName(m: DescMethod): string {
  return `${m.parent.typeName}.${m.name}`;
}

// ---------------------------------------------------------------------------
// Headers (-m/--metadata), shared by every source

type HeaderPicker = (ctx: TemplateContext) => Headers | undefined;

export function compileHeaders(list: readonly Headers[], names: CallNames): HeaderPicker {
  if (list.length === 0) return () => undefined;
  const compiled = list.map((md) => {
    const entries = Object.entries(md).map(([k, v]) => [k, compileTemplate(v, names)] as const);
    if (!entries.some(([, t]) => t.dynamic)) {
      const fixed: Headers = Object.freeze({ ...md });
      return () => fixed;
    }
    return (ctx: TemplateContext): Headers => {
      const out: Record<string, string> = {};
      for (const [k, t] of entries) out[k] = t.render(ctx);
      return out;
    };
  });
  if (compiled.length === 1) return compiled[0] as HeaderPicker;
  return (ctx) => (compiled[ctx.requestNumber % compiled.length] as HeaderPicker)(ctx);
}

// ---------------------------------------------------------------------------
// ghz-style: one call, data with templates

export function callSource(call: string, data: unknown, headers: readonly Headers[]): RequestSource {
  const method = resolveMethod(call);
  const names = callNamesOf(method);
  const input = method.input as DescMessage;
  const parsed = typeof data === "string" ? parseDataText(data) : (data ?? {});
  // An array is sent round-robin by request number, as ghz does for unary calls.
  const items = Array.isArray(parsed) ? parsed : [parsed];
  if (items.length === 0) throw new OptionsError("data array must not be empty");
  const builders = items.map((item) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw new OptionsError("data must be a JSON object or an array of objects");
    }
    const compiled = compileData(item, input, names);
    const build = (json: JsonValue): Message => {
      try {
        return fromJson(input, json);
      } catch (e) {
        throw new OptionsError(`data does not fit ${input.typeName}: ${(e as Error).message}`);
      }
    };
    // Check the data against the schema now, not on the first request.
    const first = build(compiled.render({ requestNumber: 0, workerId: 0 }));
    if (!compiled.dynamic) return (): Message => first;
    return (ctx: TemplateContext): Message => build(compiled.render(ctx));
  });
  const pickHeaders = compileHeaders(headers, names);
  const single = builders.length === 1 ? builders[0] : undefined;
  return {
    methods: [{ method, decodeResponse: false }],
    callNames: [fullName(method)],
    next(worker, out) {
      out.methodIndex = 0;
      out.message = single
        ? single(worker)
        : (builders[worker.requestNumber % builders.length] as (ctx: TemplateContext) => Message)(worker);
      out.headers = pickHeaders(worker);
    },
    onResult() {},
  };
}

// ---------------------------------------------------------------------------
// Workloads

const GET_STATS = resolveMethod(`${DriverAnalytics.typeName}.GetStats`);
const LIST_TRIPS = resolveMethod(`${DriverAnalytics.typeName}.ListTrips`);
const DEFAULT_DRIVERS: DriverRange = { min: 1, max: 1000 };

function randomDriver(range: DriverRange): bigint {
  return BigInt(range.min + Math.floor(Math.random() * (range.max - range.min + 1)));
}

export interface MixedSource extends RequestSource {
  /** ListTrips calls that continued a walk (page 2 or deeper). */
  readonly deeperPages: () => number;
}

/** GetStats and ListTrips over random drivers; ListTrips walks pages per worker up to maxDepth. */
export function mixedSource(w: MixedWorkload, headers: readonly Headers[]): MixedSource {
  const mix = w.mix ?? { stats: 50, list: 50 };
  const statsShare = mix.stats / (mix.stats + mix.list);
  const drivers = w.drivers ?? DEFAULT_DRIVERS;
  const maxDepth = w.maxDepth ?? 1;
  const pageSize = w.pageSize ?? 0;
  const pickHeaders = compileHeaders(headers, callNamesOf(GET_STATS));
  let deeper = 0;
  return {
    // Only a walk deeper than page 1 needs next_page_token, i.e. a decoded response.
    methods: [
      { method: GET_STATS, decodeResponse: false },
      { method: LIST_TRIPS, decodeResponse: maxDepth > 1 },
    ],
    callNames: [fullName(GET_STATS), fullName(LIST_TRIPS)],
    deeperPages: () => deeper,
    next(worker, out) {
      out.headers = pickHeaders(worker);
      if (Math.random() < statsShare) {
        out.methodIndex = 0;
        out.message = create(GetStatsRequestSchema, { driverId: randomDriver(drivers) });
        return;
      }
      const s = worker.state;
      if (s.token !== "" && s.depth < maxDepth) {
        s.depth++;
        deeper++;
      } else {
        s.driverId = randomDriver(drivers);
        s.token = "";
        s.depth = 1;
      }
      out.methodIndex = 1;
      out.message = create(ListTripsRequestSchema, { driverId: s.driverId, pageSize, pageToken: s.token });
    },
    onResult(worker, methodIndex, code, response) {
      if (methodIndex !== 1) return;
      // A failed page ends the walk; the next ListTrips starts a new driver.
      worker.state.token = code === 0 && response ? (response as ListTripsResponse).nextPageToken : "";
    },
  };
}

/** A page to fetch in the measured phase of a page-depth run. */
export interface PageAtDepth {
  readonly driverId: bigint;
  readonly token: string;
}

/** ListTrips replaying pre-collected tokens for one page depth, round-robin over drivers. */
export function pageDepthSource(pages: readonly PageAtDepth[], w: PageDepthWorkload, headers: readonly Headers[]): RequestSource {
  if (pages.length === 0) throw new OptionsError(`no driver in the range has a page ${w.depth}`);
  const pageSize = w.pageSize ?? 0;
  const pickHeaders = compileHeaders(headers, callNamesOf(LIST_TRIPS));
  const messages = pages.map((p) => create(ListTripsRequestSchema, { driverId: p.driverId, pageSize, pageToken: p.token }));
  return {
    methods: [{ method: LIST_TRIPS, decodeResponse: false }],
    callNames: [fullName(LIST_TRIPS)],
    next(worker, out) {
      out.methodIndex = 0;
      out.message = messages[worker.requestNumber % messages.length] as Message;
      out.headers = pickHeaders(worker);
    },
    onResult() {},
  };
}

/** The warm-up walk of a page-depth run: the drivers to visit and how to ask for a page. */
export function pageDepthWarmup(
  w: PageDepthWorkload,
  headers: readonly Headers[],
): {
  drivers: bigint[];
  spec: MethodSpec;
  request: (driverId: bigint, token: string) => Message;
  /** The run's metadata (e.g. authorization) goes with warm-up calls too. */
  headers: HeaderPicker;
} {
  const range = w.drivers ?? DEFAULT_DRIVERS;
  const drivers: bigint[] = [];
  for (let d = range.min; d <= range.max; d++) drivers.push(BigInt(d));
  const pageSize = w.pageSize ?? 0;
  return {
    drivers,
    spec: { method: LIST_TRIPS, decodeResponse: true },
    request: (driverId, token) => create(ListTripsRequestSchema, { driverId, pageSize, pageToken: token }),
    headers: compileHeaders(headers, callNamesOf(LIST_TRIPS)),
  };
}
