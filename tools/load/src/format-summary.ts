// The plain-text summary, laid out like ghz's default output so people who
// read ghz output can read this without a legend.
import type { Report } from "./report.js";

const ms = (nsValue: number): string => `${(nsValue / 1e6).toFixed(2)} ms`;
const dur = (nsValue: number): string => (nsValue >= 1e9 ? `${(nsValue / 1e9).toFixed(2)} s` : ms(nsValue));

export function formatSummary(report: Report): string {
  const lines: string[] = [""];
  lines.push("Summary:");
  if (report.name) lines.push(`  Name:\t${report.name}`);
  lines.push(`  Count:\t${report.count}`);
  lines.push(`  Total:\t${dur(report.total)}`);
  lines.push(`  Slowest:\t${ms(report.slowest)}`);
  lines.push(`  Fastest:\t${ms(report.fastest)}`);
  lines.push(`  Average:\t${ms(report.average)}`);
  lines.push(`  Requests/sec:\t${report.rps.toFixed(2)}`);
  lines.push("");

  lines.push("Response time histogram:");
  const max = Math.max(1, ...report.histogram.map((b) => b.count));
  const markWidth = Math.max(0, ...report.histogram.map((b) => (b.mark * 1000).toFixed(3).length));
  for (const b of report.histogram) {
    const bar = "∎".repeat(Math.round((b.count / max) * 40));
    lines.push(`  ${(b.mark * 1000).toFixed(3).padEnd(markWidth)} [${b.count}]\t|${bar}`);
  }
  lines.push("");

  lines.push("Latency distribution:");
  for (const p of report.latencyDistribution) lines.push(`  ${p.percentage} % in ${ms(p.latency)} `);
  lines.push("");

  if (report.latencyFromSend) {
    const f = report.latencyFromSend;
    lines.push("Latency from the actual send (the figures above count from each call's intended start under the rate):");
    lines.push(`  Slowest:\t${ms(f.slowest)}`);
    lines.push(`  Fastest:\t${ms(f.fastest)}`);
    lines.push(`  Average:\t${ms(f.average)}`);
    for (const p of f.latencyDistribution) lines.push(`  ${p.percentage} % in ${ms(p.latency)} `);
    lines.push(`  Sent late (no free worker): ${f.lateCalls} calls, by up to ${ms(f.maxSendDelay)}`);
    lines.push("");
  }

  lines.push("Status code distribution:");
  for (const [code, count] of sortedEntries(report.statusCodeDistribution)) {
    lines.push(`  [${code}]\t${count} responses`);
  }

  const errors = sortedEntries(report.errorDistribution);
  if (errors.length > 0) {
    lines.push("");
    lines.push("Error distribution:");
    for (const [err, count] of errors) lines.push(`  [${count}]\t${err}`);
  }

  const calls = Object.entries(report.calls);
  if (calls.length > 1) {
    lines.push("");
    lines.push("Per call:");
    for (const [name, c] of calls) {
      lines.push(
        `  ${name}\tcount ${c.count}, ok ${c.ok}, ${c.rps.toFixed(1)}/s, ` +
          `avg ${ms(c.average)}, p50 ${ms(c.p50)}, p90 ${ms(c.p90)}, p99 ${ms(c.p99)}`,
      );
    }
  }
  if (report.workload) {
    const w = report.workload;
    lines.push("");
    if (w.kind === "page-depth") {
      lines.push(
        `Warm-up: ${w.warmupRequests} ListTrips calls (${w.warmupErrors} errors) in ${((w.warmupMs ?? 0) / 1000).toFixed(1)} s; ` +
          `${w.driversAtDepth} drivers have the page measured`,
      );
    } else if (w.deeperPages !== undefined) {
      lines.push(`Page walks: ${w.deeperPages} ListTrips calls fetched page 2 or deeper`);
    }
  }
  const g = report.loadGenerator;
  lines.push("");
  lines.push(
    `Load generator: ${g.cpuMicrosPerCall.toFixed(0)} µs CPU/call, ${(g.cpuUtilization * 100).toFixed(0)}% of a core, ` +
      `event-loop delay p99 ${g.eventLoopDelayP99Ms.toFixed(1)} ms, max in flight ${g.maxInFlight}, Node ${g.nodeVersion}`,
  );
  lines.push("");
  return lines.join("\n");
}

function sortedEntries(o: Record<string, number>): [string, number][] {
  return Object.entries(o).sort((a, b) => b[1] - a[1]);
}
