// The benchmark's markdown: docs/benchmarks.md from one run's results.
import path from "node:path";
import { percentile, type Report } from "@driver-analytics/load";
import type { Dataset } from "./dataset.js";
import type { ScenarioResult } from "./run-scenario.js";
import type { BenchPlan } from "./scenarios.js";

export interface MachineInfo {
  cpus: string;
  memory: string;
  node: string;
  postgres: string;
  os: string;
}

const pct = (report: Report, percentage: number): number =>
  (report.latencyDistribution.find((p) => p.percentage === percentage)?.latency ?? NaN) / 1e6;

export function fmtMs(value: number): string {
  if (!Number.isFinite(value)) return "-";
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

export function errorPercent(report: Report): number {
  const ok = report.statusCodeDistribution.OK ?? 0;
  return report.count === 0 ? 0 : ((report.count - ok) / report.count) * 100;
}

function codes(report: Report): string {
  return Object.entries(report.statusCodeDistribution)
    .map(([code, n]) => `${code} ${n}`)
    .join(", ");
}

/** resultTable: one row per result, the figures every scenario shares. */
export function resultTable(results: ScenarioResult[], parameter: string): string {
  const lines = [
    `| ${parameter} | strategy | calls/s | p50 ms | p95 ms | p99 ms | errors | status codes | CPU: server / load gen / PostgreSQL+rest (cores) |`,
    "|---|---|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const r of results) {
    const { report, cpu } = r;
    lines.push(
      `| ${r.label} | ${r.strategy} | ${Math.round(report.rps).toLocaleString("en-US")} | ${fmtMs(pct(report, 50))} | ` +
        `${fmtMs(pct(report, 95))} | ${fmtMs(pct(report, 99))} | ${errorPercent(report).toFixed(2)}% | ${codes(report)} | ` +
        `${cpu.serverCores.toFixed(2)} / ${cpu.loadCores.toFixed(2)} / ${cpu.otherCores.toFixed(2)} |`,
    );
  }
  return lines.join("\n");
}

export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "-";
  const x = a / b;
  return x >= 10 ? `${x.toFixed(0)}x` : `${x.toFixed(2)}x`;
}

export const p50 = (r: ScenarioResult): number => pct(r.report, 50);
export const p99 = (r: ScenarioResult): number => pct(r.report, 99);

export interface RenderInput {
  plan: BenchPlan;
  quick: boolean;
  command: string;
  machine: MachineInfo;
  dataset: Dataset;
  results: ScenarioResult[];
  ceiling: ScenarioResult;
  overload: ScenarioResult;
  writes: ScenarioResult[];
  plans: string;
  reportsDir: string;
  outFile: string;
  totalMs: number;
}

export function renderMarkdown(input: RenderInput): string {
  const { plan, results, ceiling, overload, writes } = input;
  const group = (name: string) => results.filter((r) => r.group === name);
  const find = (g: string, label: string, strategy: string) =>
    results.find((r) => r.group === g && r.label === label && r.strategy === strategy);
  const out: string[] = [];
  out.push(`# Benchmarks${input.quick ? " (quick run: checks that everything works, not how fast)" : ""}`);
  out.push("");
  out.push("Every figure below comes from one run of the command, written by it; nothing is typed by hand.");
  out.push("Server, load generator and PostgreSQL share the machine: compare rows of one run, not runs.");
  out.push("");
  out.push(`- Command: \`${input.command}\` (run from the repository root with Node.js ${input.machine.node} first on PATH; ${(input.totalMs / 1000).toFixed(0)} s in all)`);
  out.push(`- Date: ${new Date().toISOString()}`);
  out.push(`- Machine: ${input.machine.cpus}, ${input.machine.memory}, ${input.machine.os}`);
  out.push(`- Node.js: ${input.machine.node} (server, load generator and benchmark)`);
  out.push(`- PostgreSQL: ${input.machine.postgres}`);
  out.push(
    `- Dataset: ${plan.dataset.drivers.toLocaleString("en-US")} drivers x ${plan.dataset.tripsPerDriver.toLocaleString("en-US")} trips, each with payment and review, plus drivers with ${plan.dataset.heavyDrivers.map((n) => n.toLocaleString("en-US")).join(", ")} trips; reference part seeded in ${(input.dataset.seedMs / 1000).toFixed(1)} s${input.dataset.seededNow ? " (this run)" : " (an earlier run; the dataset is kept)"}`,
  );
  out.push(`- Each scenario runs ${plan.measureMs / 1000} s, closed loop unless said, gRPC via @grpc/grpc-js, 20 s deadline (ghz's default).`);
  out.push(`- Strategies: **rollup** = this service (keyset pages, stats from rollups, pool of 2 x cores, admission control); **live** = the same with the stats aggregated from raw rows per call; **naive** = the first version's design (all trips fetched and summed in Node, OFFSET pages, one connection).`);
  out.push(`- HTML reports (histogram, latency over time) for every row: \`${path.relative(path.dirname(input.outFile), input.reportsDir)}/\`.`);
  out.push("");

  out.push("## 1. Mixed GetStats + ListTrips (50/50, up to 5 pages deep)");
  out.push("");
  out.push(resultTable(group("mixed"), "clients"));
  out.push("");
  for (const c of plan.mixedConcurrency) {
    const a = find("mixed", `c=${c}`, "rollup");
    const b = find("mixed", `c=${c}`, "naive");
    if (a && b) out.push(`- ${c.toLocaleString("en-US")} clients: rollup / naive throughput = **${ratio(a.report.rps, b.report.rps)}**; errors ${errorPercent(a.report).toFixed(2)}% vs ${errorPercent(b.report).toFixed(2)}%.`);
  }
  const sat = find("mixed", `c=${plan.saturationConcurrency}`, "rollup");
  if (sat) out.push(`- At ${plan.saturationConcurrency.toLocaleString("en-US")} clients, rollup / no-database ceiling = **${ratio(sat.report.rps, ceiling.report.rps)}**.`);
  out.push("");

  out.push("## 2. ListTrips at page depth: keyset vs OFFSET");
  out.push("");
  out.push(`The ${plan.depthDriverTrips.toLocaleString("en-US")}-trip driver, 50 trips a page; a warm-up walks to the page, then only that page is requested.`);
  out.push("");
  out.push(resultTable(group("depth"), "page"));
  out.push("");
  const first = plan.pageDepths[0]!;
  const last = plan.pageDepths.at(-1)!;
  for (const strategy of ["rollup", "naive"]) {
    const a = find("depth", `page ${last}`, strategy);
    const b = find("depth", `page ${first}`, strategy);
    if (a && b) out.push(`- ${strategy}: p50 at page ${last} / page ${first} = **${ratio(p50(a), p50(b))}**, throughput ${ratio(a.report.rps, b.report.rps)}.`);
  }
  out.push("");

  out.push("## 3. GetStats by history size: rollups vs live aggregate vs naive");
  out.push("");
  out.push(resultTable(group("stats"), "driver"));
  out.push("");
  const sizes = plan.statsTripCounts.map((n) => `${n.toLocaleString("en-US")} trips`);
  for (const strategy of ["rollup", "live"]) {
    const a = find("stats", sizes.at(-1)!, strategy);
    const b = find("stats", sizes[0]!, strategy);
    if (a && b) out.push(`- ${strategy}: p50 at ${sizes.at(-1)} / at ${sizes[0]} = **${ratio(p50(a), p50(b))}**; throughput ${ratio(a.report.rps, b.report.rps)}.`);
  }
  out.push("");

  out.push("## 4. Ceiling: the same server stack without the database");
  out.push("");
  out.push("`grpc.health.v1.Health/Check` answers from memory through the same listener, interceptors and admission control.");
  out.push("");
  out.push(resultTable([ceiling], "clients"));
  out.push("");

  out.push("## 5. Overload: twice the saturation rate");
  out.push("");
  out.push(
    `Open loop at ${overload.label} (twice what ${plan.saturationConcurrency.toLocaleString("en-US")} closed-loop clients got), 5 s deadline. ` +
      "Latency counts from each call's intended start on the schedule, so time a call waited for a free client is in it (no coordinated omission).",
  );
  out.push("");
  out.push(resultTable([overload], "offered"));
  out.push("");
  out.push(overloadSummary(overload));
  out.push("");

  out.push("## 6. Trip ingestion (CreateTrip): what the rollups cost writers");
  out.push("");
  out.push(resultTable(writes, "rollups"));
  out.push("");
  const [on, off] = writes;
  if (on && off) out.push(`- Writes/s with rollups / without = **${ratio(on.report.rps, off.report.rps)}**; p50 ${fmtMs(p50(on))} vs ${fmtMs(p50(off))} ms, p99 ${fmtMs(p99(on))} vs ${fmtMs(p99(off))} ms.`);
  out.push("");
  out.push("## 7. Query plans on this dataset");
  out.push("");
  out.push("`EXPLAIN (ANALYZE, BUFFERS)` of each RPC's query, second execution, for the reference driver 500 (and the 100,000-trip driver for a deep page).");
  out.push("");
  out.push(input.plans);
  out.push("");
  return `${out.join("\n")}\n`;
}

function overloadSummary(result: ScenarioResult): string {
  const details = result.report.details ?? [];
  const byStatus = new Map<string, number[]>();
  for (const d of details) {
    const list = byStatus.get(d.status) ?? [];
    list.push(d.latency / 1e6);
    byStatus.set(d.status, list);
  }
  const lines: string[] = [];
  const seconds = (result.report.total ?? 0) / 1e9;
  for (const [status, latencies] of byStatus) {
    latencies.sort((a, b) => a - b);
    // The load tool's (ghz's) rank, so these agree with the report's own percentiles.
    const q = (p: number) => percentile(latencies, p);
    lines.push(
      `- ${status}: ${latencies.length.toLocaleString("en-US")} calls (${seconds > 0 ? Math.round(latencies.length / seconds).toLocaleString("en-US") : "-"}/s), p50 ${fmtMs(q(50))} ms, p99 ${fmtMs(q(99))} ms`,
    );
  }
  return lines.join("\n");
}

