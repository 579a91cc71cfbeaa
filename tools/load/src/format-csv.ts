// ghz's `-O csv`: one line per call, ghz's columns first (`duration (ms)`,
// `status`, `error`), then `timestamp` (RFC 3339, when the call was sent) so
// a run can be charted over time. Fields are quoted per RFC 4180 when they
// hold a comma, quote or line break (ghz writes error messages raw).
import type { Report } from "./report.js";

export const CSV_HEADER = "duration (ms),status,error,timestamp";

export function formatCsv(report: Report): string {
  if (report.details === undefined) throw new Error("formatCsv needs a report built with details (the CLI asks for them with -O csv)");
  const lines = [CSV_HEADER];
  for (const d of report.details) {
    lines.push(`${(d.latency / 1e6).toFixed(2)},${field(d.status)},${field(d.error)},${field(d.timestamp)}`);
  }
  return `${lines.join("\n")}\n`;
}

function field(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}
