import type { Report } from "./report.js";

/** ghz's JSON report (`-O json`); `pretty` is ghz's `-O pretty`. */
export function formatJson(report: Report, options: { pretty?: boolean } = {}): string {
  return JSON.stringify(report, null, options.pretty ? 2 : undefined);
}
