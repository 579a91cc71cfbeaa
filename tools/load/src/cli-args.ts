// ghz's command line and JSON config file, mapped onto LoadOptions. Every ghz
// option is either supported with ghz's meaning or rejected by name: silently
// ignoring one would make a run mean something else than its command says.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  durationOption,
  OptionsError,
  parseDriverRange,
  parseMix,
  PROTOCOLS,
  type DurationStop,
  type LoadOptions,
  type LoadSchedule,
  type Protocol,
  type Workload,
} from "./options.js";
import { parseDataText } from "./template.js";

export const OUTPUT_FORMATS = ["summary", "json", "pretty", "html", "csv", "prometheus", "influx-summary"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface CliConfig {
  readonly kind: "run";
  readonly load: LoadOptions;
  readonly format: OutputFormat;
  readonly output: string | undefined;
  /** False with --no-progress; the CLI also drops it when stderr is not a TTY. */
  readonly progress: boolean;
}

export type CliCommand = CliConfig | { readonly kind: "help" } | { readonly kind: "version" };

/**
 * A command-line option. The parser's options, the keys a config file may
 * hold and --help all come from FLAGS; the rejected ghz options (long and
 * short) from UNSUPPORTED: adding a flag is one entry.
 */
interface Flag {
  readonly type: "string" | "boolean";
  readonly short?: string;
  /** Shown in --help: the value's name ("N", "D"). */
  readonly arg?: string;
  readonly help: string;
  /** Not in ghz: listed under "Extensions" in --help. */
  readonly extension?: boolean;
  /** False: command line only, not a config file key. */
  readonly config?: boolean;
  /** Left out of --help (aliases). */
  readonly hidden?: boolean;
}

export const FLAGS: Readonly<Record<string, Flag>> = {
  call: { type: "string", arg: "NAME", help: "e.g. driveranalytics.v1.DriverAnalytics.GetStats" },
  concurrency: { type: "string", short: "c", arg: "N", help: "workers / calls in flight (default 50)" },
  connections: { type: "string", arg: "N", help: "HTTP/2 connections, workers spread round-robin (default 1)" },
  total: { type: "string", short: "n", arg: "N", help: "requests to make (default 200)" },
  duration: { type: "string", short: "z", arg: "D", help: "run for D (e.g. 10s, 1m); -n is then ignored" },
  "max-duration": { type: "string", short: "x", arg: "D", help: "with -n: stop after D even if -n is not reached" },
  "duration-stop": { type: "string", arg: "M", help: "close (default) | wait | ignore: calls in flight at the end of -z" },
  rps: { type: "string", short: "r", arg: "N", help: "constant request rate; latency counts from each call's intended start" },
  qps: { type: "string", short: "q", arg: "N", help: "alias of --rps", hidden: true },
  "load-schedule": { type: "string", arg: "S", help: "const (default: --rps) | step | line: a changing rate" },
  "load-start": { type: "string", arg: "N", help: "step/line: starting rate" },
  "load-step": { type: "string", arg: "N", help: "step: added every --load-step-duration; line: added per second (< 0: --load-step=-5)" },
  "load-end": { type: "string", arg: "N", help: "step/line: the rate stops changing here" },
  "load-step-duration": { type: "string", arg: "D", help: "step: how long each step lasts" },
  "load-max-duration": { type: "string", arg: "D", help: "step/line: the rate stops changing after D" },
  "count-errors": { type: "boolean", help: "failed calls count in fastest/slowest/histogram/percentiles too" },
  data: { type: "string", short: "d", arg: "JSON", help: "request data; templates {{.RequestNumber}} {{randomInt 1 1000}} ...; arrays round-robin" },
  "data-file": { type: "string", short: "D", arg: "PATH", help: "request data from a file" },
  metadata: { type: "string", short: "m", arg: "JSON", help: "request headers (values may use templates)" },
  "metadata-file": { type: "string", short: "M", arg: "PATH", help: "headers from a file" },
  timeout: { type: "string", short: "t", arg: "D", help: "per-call deadline (default 20s; 0 = none)" },
  "connect-timeout": { type: "string", arg: "D", help: "wait this long for connections before starting (default 10s)" },
  insecure: { type: "boolean", help: "accepted; plaintext h2c is all this tool speaks (no TLS)" },
  skipFirst: { type: "string", arg: "N", help: "leave the first N results out of the report" },
  format: { type: "string", short: "O", arg: "F", help: `${OUTPUT_FORMATS.join(" | ")} (default summary)` },
  output: { type: "string", short: "o", arg: "PATH", help: "write the report there instead of stdout" },
  config: { type: "string", arg: "PATH", help: "ghz JSON config file; command-line flags override it", config: false },
  name: { type: "string", arg: "S", help: "the run's name in the report" },
  tags: { type: "string", arg: "JSON", help: "the run's tags in the report" },
  help: { type: "boolean", short: "h", help: "this help", config: false },
  version: { type: "boolean", short: "v", help: "the version", config: false },
  // Extensions (not in ghz).
  protocol: { type: "string", arg: "P", help: `${PROTOCOLS.join(" | ")} (default grpc)`, extension: true },
  workload: { type: "string", arg: "W", help: "mixed | page-depth: service workloads instead of --call/-d", extension: true },
  mix: { type: "string", arg: "M", help: "mixed: weights, e.g. stats=70,list=30 (default 50/50)", extension: true },
  drivers: { type: "string", arg: "MIN-MAX", help: "workloads: driver ids drawn from this range (default 1-1000)", extension: true },
  "max-depth": { type: "string", arg: "N", help: "mixed: follow next_page_token up to N pages (default 1)", extension: true },
  depth: { type: "string", arg: "N", help: "page-depth: the page to measure (tokens collected in a warm-up)", extension: true },
  "page-size": { type: "string", arg: "N", help: "workloads: ListTrips page_size (default: the server's)", extension: true },
  details: { type: "boolean", help: "per-request details in json output (ghz always has them; they are big)", extension: true },
  "no-progress": { type: "boolean", help: "no progress line on stderr (also off when stderr is not a TTY)", extension: true, config: false },
};

const WHY_NO_PROTO = "the DriverAnalytics contract is compiled into this tool; --call picks the method";
const WHY_NO_TLS = "TLS is not supported: this tool speaks plaintext HTTP/2 (h2c) only";
const WHY_NO_CONCURRENCY_SCHEDULE = "concurrency schedules are not supported; run several fixed -c runs, or use --load-schedule";
const WHY_NO_BINARY = "binary request data is not supported; use -d/--data JSON";
const WHY_NO_STREAMS = "streaming calls are not supported; DriverAnalytics is unary";

/** ghz options we do not implement, with the reason shown to the user and ghz's short flag. */
export const UNSUPPORTED: Readonly<Record<string, { readonly why: string; readonly short?: string }>> = {
  proto: { why: WHY_NO_PROTO },
  protoset: { why: WHY_NO_PROTO },
  "import-paths": { why: WHY_NO_PROTO, short: "i" },
  "reflect-metadata": { why: WHY_NO_PROTO },
  cacert: { why: WHY_NO_TLS },
  cert: { why: WHY_NO_TLS },
  key: { why: WHY_NO_TLS },
  cname: { why: WHY_NO_TLS },
  skipTLS: { why: WHY_NO_TLS },
  authority: { why: "overriding :authority is not supported" },
  async: { why: "only ghz's default closed-loop workers are implemented; use --rps for a constant arrival rate" },
  "concurrency-schedule": { why: WHY_NO_CONCURRENCY_SCHEDULE },
  "concurrency-start": { why: WHY_NO_CONCURRENCY_SCHEDULE },
  "concurrency-end": { why: WHY_NO_CONCURRENCY_SCHEDULE },
  "concurrency-step": { why: WHY_NO_CONCURRENCY_SCHEDULE },
  "concurrency-step-duration": { why: WHY_NO_CONCURRENCY_SCHEDULE },
  "concurrency-max-duration": { why: WHY_NO_CONCURRENCY_SCHEDULE },
  binary: { why: WHY_NO_BINARY, short: "b" },
  "binary-file": { why: WHY_NO_BINARY, short: "B" },
  "stream-interval": { why: WHY_NO_STREAMS },
  "stream-call-duration": { why: WHY_NO_STREAMS },
  "stream-call-count": { why: WHY_NO_STREAMS },
  "stream-dynamic-messages": { why: WHY_NO_STREAMS },
  keepalive: { why: "client keepalive pings are not configurable" },
  cpus: { why: "Node runs the generator on one thread; --cpus has no meaning here" },
  debug: { why: "debug logging is not supported" },
  "enable-compression": { why: "compression is not supported", short: "e" },
  "lb-strategy": { why: "load-balancing strategies are not supported; use --connections" },
  "disable-template-functions": { why: "templates cannot be disabled" },
  "disable-template-data": { why: "templates cannot be disabled" },
};

const UNSUPPORTED_SHORT: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(UNSUPPORTED).flatMap(([name, u]) => (u.short ? [[u.short, name]] : [])),
);

const OPTIONS = Object.fromEntries(
  Object.entries(FLAGS).map(([name, f]) => [name, f.short ? { type: f.type, short: f.short } : { type: f.type }]),
) as Record<string, { type: "string" | "boolean"; short?: string }>;

/** Keys a ghz JSON config file may have here (the flags' long names, and host); anything else is rejected by name. */
const CONFIG_KEYS = new Set(["host", ...Object.entries(FLAGS).flatMap(([name, f]) => (f.config === false ? [] : [name]))]);

type Values = Record<string, string | boolean | undefined>;

export function parseCli(argv: readonly string[], readFile: (path: string) => string = readUtf8): CliCommand {
  rejectUnsupported(argv);
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true }) as never;
  } catch (e) {
    throw new OptionsError(`${(e as Error).message}\nRun with --help for the supported options.`);
  }
  const flags = parsed.values;
  if (flags.help) return { kind: "help" };
  if (flags.version) return { kind: "version" };

  // A config file first, then the command line overrides it, as in ghz.
  const merged: Values & { data?: unknown; metadata?: unknown; tags?: unknown } = {};
  if (typeof flags.config === "string") Object.assign(merged, loadConfig(flags.config, readFile));
  for (const [k, v] of Object.entries(flags)) if (v !== undefined && k !== "config") merged[k] = v;
  if (parsed.positionals.length > 1) {
    throw new OptionsError(`expected one host:port, got ${parsed.positionals.join(" ")}`);
  }
  const host = parsed.positionals[0] ?? (typeof merged.host === "string" ? merged.host : undefined);
  if (!host) throw new OptionsError("missing host:port (e.g. driver-analytics-load --call ... localhost:8080)");

  const str = (k: string): string | undefined => {
    const v = merged[k];
    if (v === undefined) return undefined;
    return typeof v === "string" ? v : String(v);
  };
  const int = (k: string): number | undefined => {
    const v = str(k);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v.trim())) throw new OptionsError(`--${k} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const dur = (k: string): number | undefined => {
    const v = merged[k];
    if (v === undefined) return undefined;
    // Config files may hold a bare number; treat it as nanoseconds like Go's time.Duration.
    return typeof v === "number" ? v / 1e6 : durationOption(`--${k}`, String(v));
  };

  let data: unknown = merged.data;
  if (typeof data === "string") data = parseDataText(data);
  const dataFile = str("data-file");
  if (dataFile !== undefined) {
    if (merged.data !== undefined) throw new OptionsError("give either -d/--data or -D/--data-file, not both");
    data = parseDataText(readFile(dataFile));
  }
  let metadata: unknown = merged.metadata;
  if (typeof metadata === "string") metadata = parseJson("--metadata", metadata);
  const metadataFile = str("metadata-file");
  if (metadataFile !== undefined) {
    if (merged.metadata !== undefined) throw new OptionsError("give either -m/--metadata or -M/--metadata-file, not both");
    metadata = parseJson(`--metadata-file ${metadataFile}`, readFile(metadataFile));
  }
  let tags: unknown = merged.tags;
  if (typeof tags === "string") tags = parseJson("--tags", tags);

  const protocol = str("protocol") ?? "grpc";
  if (!(PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new OptionsError(`--protocol must be ${PROTOCOLS.join(", ")}; got ${JSON.stringify(protocol)}`);
  }
  const durationStop = str("duration-stop")?.toLowerCase() ?? "close";
  if (durationStop !== "close" && durationStop !== "wait" && durationStop !== "ignore") {
    throw new OptionsError(`--duration-stop must be close, wait or ignore, got ${JSON.stringify(durationStop)}`);
  }
  const format = (str("format") ?? "summary").toLowerCase();
  if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new OptionsError(
      `--format ${format} is not supported: use ${OUTPUT_FORMATS.join(", ")}` +
        (format === "influx-details" ? " (ghz's influx-details is not implemented; csv has the same per-call rows)" : ""),
    );
  }
  const rps = int("rps") ?? int("qps");
  const num = (k: string): number | undefined => {
    const v = str(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n)) throw new OptionsError(`--${k} must be a number, got ${JSON.stringify(v)}`);
    return n;
  };
  const loadSchedule = scheduleFrom(str, num, dur);
  const durationMs = dur("duration");
  const maxDurationMs = dur("max-duration");

  const load: LoadOptions = {
    host,
    ...opt("call", str("call")),
    protocol: protocol as Protocol,
    ...opt("concurrency", int("concurrency")),
    ...opt("connections", int("connections")),
    ...opt("total", int("total")),
    ...opt("durationMs", durationMs),
    ...opt("maxDurationMs", maxDurationMs),
    durationStop: durationStop as DurationStop,
    ...opt("rps", rps),
    ...opt("loadSchedule", loadSchedule),
    countErrors: merged["count-errors"] === true || merged["count-errors"] === "true",
    ...opt("data", data),
    ...opt("metadata", metadata as LoadOptions["metadata"]),
    ...opt("timeoutMs", dur("timeout")),
    ...opt("connectTimeoutMs", dur("connect-timeout")),
    ...opt("skipFirst", int("skipFirst")),
    ...opt("name", str("name")),
    ...opt("tags", tags as LoadOptions["tags"]),
    ...opt("workload", workloadFrom(str, int)),
    // CSV is one line per call: it needs the per-call details.
    details: merged.details === true || merged.details === "true" || format === "csv",
  };
  return {
    kind: "run",
    load,
    format: format as OutputFormat,
    output: str("output"),
    progress: merged["no-progress"] !== true,
  };
}

const SCHEDULE_FLAGS = ["load-start", "load-end", "load-step", "load-step-duration", "load-max-duration"];

function scheduleFrom(
  str: (k: string) => string | undefined,
  num: (k: string) => number | undefined,
  dur: (k: string) => number | undefined,
): LoadSchedule | undefined {
  const kind = str("load-schedule")?.toLowerCase();
  const given = SCHEDULE_FLAGS.filter((k) => str(k) !== undefined);
  if (kind === undefined || kind === "const") {
    // A const schedule is --rps; ghz ignores the load-* values then, here they are an error.
    if (given.length > 0) throw new OptionsError(`--${given[0]} needs --load-schedule step or line`);
    return undefined;
  }
  if (kind !== "step" && kind !== "line") {
    throw new OptionsError(`--load-schedule must be const, step or line, got ${JSON.stringify(kind)}`);
  }
  const start = num("load-start");
  const step = num("load-step");
  if (start === undefined || step === undefined) throw new OptionsError(`--load-schedule ${kind} needs --load-start and --load-step`);
  const end = num("load-end");
  const stepDurationMs = dur("load-step-duration");
  const maxDurationMs = dur("load-max-duration");
  return {
    kind,
    start,
    step,
    ...opt("end", end),
    ...opt("stepDurationMs", stepDurationMs),
    ...opt("maxDurationMs", maxDurationMs),
  };
}

function workloadFrom(
  str: (k: string) => string | undefined,
  int: (k: string) => number | undefined,
): Workload | undefined {
  const kind = str("workload");
  const extras = ["mix", "drivers", "max-depth", "depth", "page-size"].filter((k) => str(k) !== undefined);
  if (kind === undefined) {
    if (extras.length > 0) throw new OptionsError(`--${extras[0]} needs --workload mixed or --workload page-depth`);
    return undefined;
  }
  const drivers = str("drivers");
  const pageSize = int("page-size");
  const common = {
    ...opt("drivers", drivers === undefined ? undefined : parseDriverRange(drivers)),
    ...opt("pageSize", pageSize),
  };
  if (kind === "mixed") {
    if (str("depth") !== undefined) throw new OptionsError("--depth belongs to --workload page-depth; mixed uses --max-depth");
    const mix = str("mix");
    return {
      kind: "mixed",
      ...common,
      ...opt("mix", mix === undefined ? undefined : parseMix(mix)),
      ...opt("maxDepth", int("max-depth")),
    };
  }
  if (kind === "page-depth") {
    if (str("mix") !== undefined || str("max-depth") !== undefined) {
      throw new OptionsError("--mix and --max-depth belong to --workload mixed; page-depth takes --depth");
    }
    const depth = int("depth");
    if (depth === undefined) throw new OptionsError("--workload page-depth needs --depth N (the page to measure)");
    return { kind: "page-depth", depth, ...common };
  }
  throw new OptionsError(`--workload must be mixed or page-depth, got ${JSON.stringify(kind)}`);
}

/** Rejects ghz options we do not implement, naming each, before the generic parser sees them. */
function rejectUnsupported(argv: readonly string[]): void {
  for (const arg of argv) {
    if (arg === "--") break;
    let name: string | undefined;
    if (arg.startsWith("--")) name = arg.slice(2).split("=")[0];
    else if (/^-[A-Za-z]/.test(arg)) name = UNSUPPORTED_SHORT[arg[1] as string];
    if (name !== undefined && name in UNSUPPORTED) {
      throw new OptionsError(`ghz option --${name} is not supported: ${UNSUPPORTED[name]?.why}`);
    }
  }
}

function loadConfig(path: string, readFile: (path: string) => string): Values {
  if (!/\.json$/i.test(path)) {
    throw new OptionsError(`--config ${path}: only JSON config files are supported (not TOML or YAML)`);
  }
  const cfg = parseJson(`--config ${path}`, readFile(path));
  if (cfg === null || typeof cfg !== "object" || Array.isArray(cfg)) {
    throw new OptionsError(`--config ${path}: expected a JSON object`);
  }
  for (const key of Object.keys(cfg)) {
    if (key in UNSUPPORTED) throw new OptionsError(`--config ${path}: ghz option "${key}" is not supported: ${UNSUPPORTED[key]?.why}`);
    if (!CONFIG_KEYS.has(key)) throw new OptionsError(`--config ${path}: unknown key "${key}"`);
  }
  return cfg as Values;
}

function parseJson(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new OptionsError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

function readUtf8(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new OptionsError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Spreads { key: value } only when value is defined (exactOptionalPropertyTypes-friendly). */
function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function helpLines(extension: boolean): string {
  return Object.entries(FLAGS)
    .filter(([, f]) => (f.extension ?? false) === extension && !f.hidden)
    .map(([name, f]) => {
      const left = `${f.short ? `-${f.short}, ` : "    "}--${name}${f.arg ? ` ${f.arg}` : ""}`;
      return `  ${left.padEnd(27)} ${f.help}`;
    })
    .join("\n");
}

export const HELP = `Usage: driver-analytics-load [options] host:port

A ghz-compatible load generator for the DriverAnalytics service, speaking gRPC
(@grpc/grpc-js), or the Connect protocol or gRPC-Web (connect-node), over
plaintext HTTP/2.

ghz options (same names and meaning):
${helpLines(false)}

Extensions:
${helpLines(true)}

Not supported (rejected by name):
${wrap(Object.entries(UNSUPPORTED).map(([name, u]) => (u.short ? `-${u.short}/--${name}` : `--${name}`)))}
`;

function wrap(words: string[]): string {
  const lines: string[] = [];
  let line = " ";
  for (const w of words) {
    if (line.length + w.length + 1 > 78) {
      lines.push(line);
      line = " ";
    }
    line += ` ${w}`;
  }
  lines.push(line);
  return lines.join("\n");
}
