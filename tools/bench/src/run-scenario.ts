import { runLoad, type Report } from "@driver-analytics/load";
import { cpuSplit, sampleCpu, type CpuSplit } from "./cpu.js";
import type { LoadShape, Strategy } from "./scenarios.js";
import type { ServerProcess } from "./server-process.js";

export interface ScenarioResult {
  group: string;
  /** The row's parameter: concurrency, page depth, trips... */
  label: string;
  strategy: Strategy | "ceiling";
  report: Report;
  cpu: CpuSplit;
}

/**
 * runScenario loads one server with one shape and samples who used the CPU
 * meanwhile. Progress goes to stderr on one line.
 */
export async function runScenario(
  server: ServerProcess,
  token: string,
  group: string,
  label: string,
  strategy: ScenarioResult["strategy"],
  shape: LoadShape,
): Promise<ScenarioResult> {
  const before = sampleCpu(server.pid);
  const started = performance.now();
  const report = await runLoad({
    ...shape,
    host: server.address,
    metadata: { authorization: `Bearer ${token}` },
    name: `${group} ${label} ${strategy}`,
    onProgress: (p) => {
      if (process.stderr.isTTY) {
        process.stderr.write(
          `\r  ${group} ${label} ${strategy}: ${p.phase} ${p.completed} done, ${p.errors} errors, ${Math.round(p.currentRps)}/s   `,
        );
      }
    },
  });
  const cpu = cpuSplit(before, sampleCpu(server.pid), (performance.now() - started) * 1000);
  if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
  const errors = report.count - (report.statusCodeDistribution.OK ?? 0);
  process.stderr.write(
    `  ${group.padEnd(8)} ${label.padEnd(14)} ${strategy.padEnd(7)} ${Math.round(report.rps).toString().padStart(6)}/s ` +
      `p50 ${ms(report, 50)} p99 ${ms(report, 99)} errors ${errors}\n`,
  );
  return { group, label, strategy, report, cpu };
}

/** ms is a percentile of the report in milliseconds, for the console. */
export function ms(report: Report, percentage: number): string {
  const point = report.latencyDistribution.find((p) => p.percentage === percentage);
  return point === undefined ? "-" : `${(point.latency / 1e6).toFixed(1)}ms`;
}
