import type { Report } from "@driver-analytics/load";
import type { ScenarioResult } from "./run-scenario.js";

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
