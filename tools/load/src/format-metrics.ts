// The report for tools that chart runs: ghz's `-O prometheus` (text
// exposition format, ghz's metric names) and `-O influx-summary` (one InfluxDB
// line protocol point, ghz's measurement and field names). Durations are
// integer nanoseconds as in ghz's JSON; histogram bounds are seconds.
import type { Report, ReportOptions } from "./report.js";

/** The run's identity as labels/tags: name, end reason, the options that shape the load, and --tags. */
function runLabels(report: Report): [string, string][] {
  const o: ReportOptions = report.options;
  const labels: [string, string][] = [
    ["name", report.name ?? ""],
    ["end_reason", report.endReason],
  ];
  const pick: (keyof ReportOptions)[] = [
    "call",
    "host",
    "protocol",
    "concurrency",
    "connections",
    "total",
    "duration",
    "rps",
    "load-schedule",
    "load-start",
    "load-step",
    "load-end",
    "count-errors",
  ];
  for (const key of pick) {
    const v = o[key];
    if (v !== undefined) labels.push([key.replace(/-/g, "_"), String(v)]);
  }
  if (o.workload !== undefined) labels.push(["workload", (o.workload as { kind: string }).kind]);
  for (const [k, v] of Object.entries(report.tags ?? {})) labels.push([sanitizeName(k), v]);
  return labels;
}

function sanitizeName(k: string): string {
  const s = k.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[a-zA-Z_]/.test(s) ? s : `_${s}`;
}

const errorsOf = (report: Report): number => Object.values(report.errorDistribution).reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------------------
// Prometheus text exposition format 0.0.4

function promLabels(labels: [string, string][], extra?: [string, string]): string {
  const all = extra ? [...labels, extra] : labels;
  const escape = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
  return `{${all.map(([k, v]) => `${k}="${escape(v)}"`).join(",")}}`;
}

const promNumber = (v: number): string => (Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN");

export function formatPrometheus(report: Report): string {
  const labels = runLabels(report);
  const l = promLabels(labels);
  const out: string[] = [];
  const gauge = (name: string, help: string, value: number): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name}${l} ${promNumber(value)}`);
  };
  gauge("ghz_run_count", "Calls in the report.", report.count);
  gauge("ghz_run_total", "Duration of the run, ns.", report.total);
  gauge("ghz_run_average", "Average latency, ns.", report.average);
  gauge("ghz_run_fastest", "Fastest latency, ns.", report.fastest);
  gauge("ghz_run_slowest", "Slowest latency, ns.", report.slowest);
  gauge("ghz_run_rps", "Calls per second.", report.rps);

  // ghz's ten buckets, made cumulative as Prometheus requires; bounds in seconds.
  const counted = report.histogram.reduce((s, b) => s + b.count, 0);
  out.push("# HELP ghz_run_histogram Latency histogram, seconds.", "# TYPE ghz_run_histogram histogram");
  let cumulative = 0;
  for (const b of report.histogram) {
    cumulative += b.count;
    out.push(`ghz_run_histogram_bucket${promLabels(labels, ["le", promNumber(b.mark)])} ${cumulative}`);
  }
  out.push(`ghz_run_histogram_bucket${promLabels(labels, ["le", "+Inf"])} ${counted}`);
  out.push(`ghz_run_histogram_sum${l} ${promNumber((report.average * counted) / 1e9)}`);
  out.push(`ghz_run_histogram_count${l} ${counted}`);

  out.push("# HELP ghz_run_latency Latency percentiles, ns.", "# TYPE ghz_run_latency summary");
  for (const p of report.latencyDistribution) {
    out.push(`ghz_run_latency${promLabels(labels, ["quantile", String(p.percentage / 100)])} ${p.latency}`);
  }
  out.push(`ghz_run_latency_sum${l} ${report.average * report.count}`);
  out.push(`ghz_run_latency_count${l} ${report.count}`);
  gauge("ghz_run_errors", "Failed calls.", errorsOf(report));
  if (report.latencyFromSend) {
    out.push("# HELP ghz_run_latency_from_send Latency percentiles from the actual send (not the intended start), ns.");
    out.push("# TYPE ghz_run_latency_from_send gauge");
    for (const p of report.latencyFromSend.latencyDistribution) {
      out.push(`ghz_run_latency_from_send${promLabels(labels, ["quantile", String(p.percentage / 100)])} ${p.latency}`);
    }
  }
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------
// InfluxDB line protocol

const influxTag = (v: string): string => v.replace(/[,= \\]/g, (c) => `\\${c}`).replace(/\n/g, "\\n");

/** `ghz_run,<tags> count=..,total=..,average=..,fastest=..,slowest=..,rps=..,median=..,p95=..,errors=.. <ns>` */
export function formatInfluxSummary(report: Report, now: Date = new Date()): string {
  const tags = runLabels(report)
    .filter(([, v]) => v !== "")
    .map(([k, v]) => `${influxTag(k)}=${influxTag(v)}`);
  const errors = errorsOf(report);
  tags.push(`has_errors=${errors > 0}`);
  const p = (pct: number): number => report.latencyDistribution.find((d) => d.percentage === pct)?.latency ?? 0;
  // Integers carry InfluxDB's `i`; rps is always a float, so no run's point conflicts with another's field type.
  const ints: [string, number][] = [
    ["count", report.count],
    ["total", report.total],
    ["average", report.average],
    ["fastest", report.fastest],
    ["slowest", report.slowest],
    ["median", p(50)],
    ["p95", p(95)],
    ["p99", p(99)],
    ["errors", errors],
  ];
  const f = [...ints.map(([k, v]) => `${k}=${Math.round(v)}i`), `rps=${report.rps}`].join(",");
  return `ghz_run,${tags.join(",")} ${f} ${BigInt(now.getTime()) * 1_000_000n}\n`;
}
