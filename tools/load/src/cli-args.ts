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
  type DurationStop,
  type LoadOptions,
  type Protocol,
  type Workload,
} from "./options.js";
import { parseDataText } from "./template.js";

export type OutputFormat = "summary" | "json" | "pretty" | "html";

export interface CliConfig {
  readonly kind: "run";
  readonly load: LoadOptions;
  readonly format: OutputFormat;
  readonly output: string | undefined;
  /** False with --no-progress; the CLI also drops it when stderr is not a TTY. */
  readonly progress: boolean;
}

export type CliCommand = CliConfig | { readonly kind: "help" } | { readonly kind: "version" };

const WHY_NO_PROTO = "the DriverAnalytics contract is compiled into this tool; --call picks the method";
const WHY_NO_TLS = "TLS is not supported: this tool speaks plaintext HTTP/2 (h2c) only";

/** ghz options we do not implement, with the reason shown to the user. Keys are long names. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  proto: WHY_NO_PROTO,
  protoset: WHY_NO_PROTO,
  "import-paths": WHY_NO_PROTO,
  "reflect-metadata": WHY_NO_PROTO,
  cacert: WHY_NO_TLS,
  cert: WHY_NO_TLS,
  key: WHY_NO_TLS,
  cname: WHY_NO_TLS,
  skipTLS: WHY_NO_TLS,
  authority: "overriding :authority is not supported",
  async: "only ghz's default closed-loop workers are implemented; use --rps for a constant arrival rate",
  "load-schedule": "load schedules are not supported; use --rps for a constant rate",
  "load-start": "load schedules are not supported; use --rps for a constant rate",
  "load-end": "load schedules are not supported; use --rps for a constant rate",
  "load-step": "load schedules are not supported; use --rps for a constant rate",
  "load-step-duration": "load schedules are not supported; use --rps for a constant rate",
  "load-max-duration": "load schedules are not supported; use --rps for a constant rate",
  "concurrency-schedule": "concurrency schedules are not supported; run several fixed -c runs",
  "concurrency-start": "concurrency schedules are not supported; run several fixed -c runs",
  "concurrency-end": "concurrency schedules are not supported; run several fixed -c runs",
  "concurrency-step": "concurrency schedules are not supported; run several fixed -c runs",
  "concurrency-step-duration": "concurrency schedules are not supported; run several fixed -c runs",
  "concurrency-max-duration": "concurrency schedules are not supported; run several fixed -c runs",
  binary: "binary request data is not supported; use -d/--data JSON",
  "binary-file": "binary request data is not supported; use -d/--data JSON",
  "stream-interval": "streaming calls are not supported; DriverAnalytics is unary",
  "stream-call-duration": "streaming calls are not supported; DriverAnalytics is unary",
  "stream-call-count": "streaming calls are not supported; DriverAnalytics is unary",
  "stream-dynamic-messages": "streaming calls are not supported; DriverAnalytics is unary",
  "count-errors": "errors are always counted in count/rps/average and, as in ghz by default, left out of the latency figures",
  keepalive: "client keepalive pings are not configurable",
  cpus: "Node runs the generator on one thread; --cpus has no meaning here",
  debug: "debug logging is not supported",
  "enable-compression": "compression is not supported",
  "lb-strategy": "load-balancing strategies are not supported; use --connections",
  "disable-template-functions": "templates cannot be disabled",
  "disable-template-data": "templates cannot be disabled",
};

/** ghz short flags for options we reject, mapped to their long names. */
const UNSUPPORTED_SHORT: Readonly<Record<string, string>> = {
  i: "import-paths",
  b: "binary",
  B: "binary-file",
  e: "enable-compression",
};

const OPTIONS = {
  config: { type: "string" },
  call: { type: "string" },
  insecure: { type: "boolean" },
  rps: { type: "string", short: "r" },
  qps: { type: "string", short: "q" },
  concurrency: { type: "string", short: "c" },
  connections: { type: "string" },
  total: { type: "string", short: "n" },
  duration: { type: "string", short: "z" },
  "max-duration": { type: "string", short: "x" },
  "duration-stop": { type: "string" },
  timeout: { type: "string", short: "t" },
  "connect-timeout": { type: "string" },
  data: { type: "string", short: "d" },
  "data-file": { type: "string", short: "D" },
  metadata: { type: "string", short: "m" },
  "metadata-file": { type: "string", short: "M" },
  format: { type: "string", short: "O" },
  output: { type: "string", short: "o" },
  skipFirst: { type: "string" },
  name: { type: "string" },
  tags: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
  // Extensions (not in ghz).
  protocol: { type: "string" },
  workload: { type: "string" },
  mix: { type: "string" },
  drivers: { type: "string" },
  "max-depth": { type: "string" },
  depth: { type: "string" },
  "page-size": { type: "string" },
  details: { type: "boolean" },
  "no-progress": { type: "boolean" },
} as const;

/** Keys a ghz JSON config file may have here; anything else is rejected by name. */
const CONFIG_KEYS = new Set([
  "call",
  "host",
  "insecure",
  "rps",
  "qps",
  "total",
  "concurrency",
  "connections",
  "duration",
  "max-duration",
  "duration-stop",
  "timeout",
  "connect-timeout",
  "data",
  "data-file",
  "metadata",
  "metadata-file",
  "format",
  "output",
  "skipFirst",
  "name",
  "tags",
  // Extensions.
  "protocol",
  "workload",
  "mix",
  "drivers",
  "max-depth",
  "depth",
  "page-size",
  "details",
]);

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
  if (protocol !== "grpc" && protocol !== "connect") {
    throw new OptionsError(`--protocol must be grpc or connect, got ${JSON.stringify(protocol)}`);
  }
  const durationStop = str("duration-stop")?.toLowerCase() ?? "close";
  if (durationStop !== "close" && durationStop !== "wait" && durationStop !== "ignore") {
    throw new OptionsError(`--duration-stop must be close, wait or ignore, got ${JSON.stringify(durationStop)}`);
  }
  const format = (str("format") ?? "summary").toLowerCase();
  if (format !== "summary" && format !== "json" && format !== "pretty" && format !== "html") {
    throw new OptionsError(
      `--format ${format} is not supported: use summary, json, pretty or html ` +
        "(ghz's csv, influx-summary, influx-details and prometheus are not implemented)",
    );
  }
  const rps = int("rps") ?? int("qps");
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
    ...opt("data", data),
    ...opt("metadata", metadata as LoadOptions["metadata"]),
    ...opt("timeoutMs", dur("timeout")),
    ...opt("connectTimeoutMs", dur("connect-timeout")),
    ...opt("skipFirst", int("skipFirst")),
    ...opt("name", str("name")),
    ...opt("tags", tags as LoadOptions["tags"]),
    ...opt("workload", workloadFrom(str, int)),
    details: merged.details === true || merged.details === "true",
  };
  return {
    kind: "run",
    load,
    format: format as OutputFormat,
    output: str("output"),
    progress: merged["no-progress"] !== true,
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
      throw new OptionsError(`ghz option --${name} is not supported: ${UNSUPPORTED[name]}`);
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
    if (key in UNSUPPORTED) throw new OptionsError(`--config ${path}: ghz option "${key}" is not supported: ${UNSUPPORTED[key]}`);
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

export const HELP = `Usage: driver-analytics-load [options] host:port

A ghz-compatible load generator for the DriverAnalytics service, speaking gRPC
(@grpc/grpc-js) or the Connect protocol (connect-node) over plaintext HTTP/2.

ghz options (same names and meaning):
  --call NAME             e.g. driveranalytics.v1.DriverAnalytics.GetStats
  -c, --concurrency N     workers / calls in flight (default 50)
      --connections N     HTTP/2 connections, workers spread round-robin (default 1)
  -n, --total N           requests to make (default 200)
  -z, --duration D        run for D (e.g. 10s, 1m); -n is then ignored
  -x, --max-duration D    with -n: stop after D even if -n is not reached
      --duration-stop M   close (default) | wait | ignore: what happens to calls in flight at the end of -z
  -r, --rps N             constant request rate; omitted = as fast as possible
  -d, --data JSON         request data; templates: {{.RequestNumber}} {{.WorkerID}} {{.TimestampUnix}}
                          {{.UUID}} {{randomInt 1 1000}} ... an array is sent round-robin
  -D, --data-file PATH    request data from a file
  -m, --metadata JSON     request headers (values may use templates)
  -M, --metadata-file P   headers from a file
  -t, --timeout D         per-call deadline (default 20s; 0 = none)
      --connect-timeout D wait this long for connections before starting (default 10s)
      --insecure          accepted; plaintext h2c is all this tool speaks (no TLS)
      --skipFirst N       leave the first N results out of the report
  -O, --format F          summary (default) | json | pretty | html
  -o, --output PATH       write the report there instead of stdout
      --config PATH       ghz JSON config file; command-line flags override it
      --name S, --tags JSON
  -h, --help, -v, --version

Extensions:
      --protocol P        grpc (default) | connect
      --workload mixed    GetStats + ListTrips over seeded drivers, following page tokens
        --mix stats=50,list=50  --drivers 1-1000  --max-depth N  --page-size N
      --workload page-depth --depth N   measure ListTrips page N alone (tokens collected in a warm-up)
        --drivers 1-1000  --page-size N
      --details           include per-request details in json output (ghz always does; they are big)
      --no-progress       no progress line on stderr (also off when stderr is not a TTY)

Not supported (rejected by name): --proto --protoset -i --cacert --cert --key --cname --skipTLS
  --authority --async --load-* --concurrency-* schedules -b -B --stream-* --count-errors --keepalive
  --cpus --debug -e --lb-strategy --disable-template-*
`;
