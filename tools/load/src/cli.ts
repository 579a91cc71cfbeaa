#!/usr/bin/env node
// driver-analytics-load: the command line. Parses ghz-style flags, runs, and
// prints the report like ghz does (stdout, or -o FILE).
import { writeFileSync } from "node:fs";
import { HELP, parseCli, type CliConfig } from "./cli-args.js";
import { formatCsv } from "./format-csv.js";
import { formatHtml } from "./format-html.js";
import { formatJson } from "./format-json.js";
import { formatInfluxSummary, formatPrometheus } from "./format-metrics.js";
import { formatSummary } from "./format-summary.js";
import { OptionsError, type Progress } from "./options.js";
import type { Report } from "./report.js";
import { runLoad } from "./run-load.js";

async function main(argv: readonly string[]): Promise<number> {
  const cmd = parseCli(argv);
  if (cmd.kind === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  if (cmd.kind === "version") {
    process.stdout.write("driver-analytics-load 0.0.0 (ghz-compatible subset)\n");
    return 0;
  }
  // Ctrl-C ends the run early; the report of what was done is still printed, as ghz does.
  const abort = new AbortController();
  process.once("SIGINT", () => abort.abort());
  const showProgress = cmd.progress && process.stderr.isTTY === true;
  const report = await runLoad({
    ...cmd.load,
    signal: abort.signal,
    ...(showProgress ? { onProgress: printProgress } : {}),
  });
  if (showProgress) process.stderr.write("\r\x1b[2K");
  write(cmd, render(cmd, report));
  return 0;
}

function render(cmd: CliConfig, report: Report): string {
  switch (cmd.format) {
    case "json":
      return `${formatJson(report)}\n`;
    case "pretty":
      return `${formatJson(report, { pretty: true })}\n`;
    case "html":
      return formatHtml(report);
    case "csv":
      return formatCsv(report);
    case "prometheus":
      return formatPrometheus(report);
    case "influx-summary":
      return formatInfluxSummary(report);
    default:
      return formatSummary(report);
  }
}

function write(cmd: CliConfig, text: string): void {
  if (cmd.output) writeFileSync(cmd.output, text);
  else process.stdout.write(text);
}

function printProgress(p: Progress): void {
  const line =
    `[${p.phase}] ${(p.elapsedMs / 1000).toFixed(1)}s  done ${p.completed}  errors ${p.errors}  ` +
    `in flight ${p.inFlight}  ${Math.round(p.currentRps)}/s`;
  process.stderr.write(`\r\x1b[2K${line}`);
}

// pnpm forwards the `--` of `pnpm run load -- <flags>` verbatim.
main(process.argv.slice(2).filter((arg) => arg !== "--")).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as Error;
    process.stderr.write(`driver-analytics-load: ${e.message}\n`);
    process.exitCode = e instanceof OptionsError ? 2 : 1;
  },
);
