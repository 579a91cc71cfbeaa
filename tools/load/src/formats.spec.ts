// The chartable outputs (-O csv, prometheus, influx-summary) from a real run
// against the no-op server: half the calls fail, so errors show in each.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CSV_HEADER, formatCsv } from "./format-csv.js";
import { formatInfluxSummary, formatPrometheus } from "./format-metrics.js";
import { startConnectNoopServer, type RunningServer } from "./noop-server.js";
import type { Report } from "./report.js";
import { runLoad } from "./run-load.js";

let server: RunningServer;
let report: Report;

beforeAll(async () => {
  server = await startConnectNoopServer({
    failFor: (id) => (id % 2n === 0n ? Code.Unavailable : undefined),
  });
  report = await runLoad({
    host: `127.0.0.1:${server.port}`,
    call: "driveranalytics.v1.DriverAnalytics.GetStats",
    data: '{"driver_id": {{.RequestNumber}}}',
    total: 40,
    concurrency: 4,
    details: true,
    name: "formats, \"quoted\"",
    tags: { env: "ci run", "team-name": "perf" },
  });
});
afterAll(() => server?.close());

describe("-O csv", () => {
  it("has one row per call with ghz's columns, then the send time; fields with commas are quoted", () => {
    const lines = formatCsv(report).trimEnd().split("\n");
    expect(lines[0]).toBe(CSV_HEADER);
    expect(lines[0]!.startsWith("duration (ms),status,error")).toBe(true);
    expect(lines).toHaveLength(41);
    const ok = lines.filter((l) => /^\d+\.\d\d,OK,,\d{4}-\d\d-\d\dT/.test(l));
    expect(ok).toHaveLength(20);
    const failed = lines.filter((l) => /^\d+\.\d\d,Unavailable,"?rpc error: code = Unavailable desc = driver \d+ refused/.test(l));
    expect(failed).toHaveLength(20);
  });

  it("needs details", () => {
    expect(() => formatCsv({ ...report, details: undefined })).toThrow(/details/);
  });
});

describe("-O prometheus", () => {
  const text = (): string => formatPrometheus(report);
  const samples = (): { name: string; labels: string; value: number }[] =>
    text()
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(l);
        if (!m) throw new Error(`not an exposition-format sample: ${l}`);
        return { name: m[1]!, labels: m[2] ?? "", value: Number(m[3] === "+Inf" ? Infinity : m[3]) };
      });

  it("is valid exposition text with ghz's metric names", () => {
    const names = new Set(samples().map((s) => s.name));
    for (const n of ["ghz_run_count", "ghz_run_total", "ghz_run_average", "ghz_run_fastest", "ghz_run_slowest", "ghz_run_rps", "ghz_run_errors"]) {
      expect(names).toContain(n);
    }
    expect(samples().find((s) => s.name === "ghz_run_count")!.value).toBe(40);
    expect(samples().find((s) => s.name === "ghz_run_errors")!.value).toBe(20);
    expect(text()).toContain("# TYPE ghz_run_histogram histogram");
    expect(text()).toContain("# TYPE ghz_run_latency summary");
    // Label values are escaped; tag names become valid label names.
    expect(text()).toContain('name="formats, \\"quoted\\""');
    expect(text()).toContain('team_name="perf"');
    for (const s of samples()) expect(s.labels).toMatch(/^\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\}$/);
  });

  it("has cumulative histogram buckets ending in +Inf = the calls counted", () => {
    const buckets = samples().filter((s) => s.name === "ghz_run_histogram_bucket");
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(buckets.at(-1)!.labels).toContain('le="+Inf"');
    expect(buckets.at(-1)!.value).toBe(20);
    expect(samples().find((s) => s.name === "ghz_run_histogram_count")!.value).toBe(20);
  });
});

describe("-O influx-summary", () => {
  it("is one line-protocol point: ghz_run, escaped tags, typed fields, a ns timestamp", () => {
    const line = formatInfluxSummary(report, new Date(1_700_000_000_000));
    expect(line.endsWith("\n")).toBe(true);
    const m = /^ghz_run,((?:[^ \\]|\\.)+) ((?:[a-z0-9_]+=[^,]+,?)+) (\d+)\n$/.exec(line);
    expect(m, line).not.toBeNull();
    expect(m![3]).toBe("1700000000000000000");
    expect(m![1]).toContain("env=ci\\ run");
    expect(m![1]).toContain("name=formats\\,\\ \"quoted\"");
    expect(m![1]).toContain("has_errors=true");
    expect(m![2]).toContain("count=40i");
    expect(m![2]).toContain("errors=20i");
    expect(m![2]).toMatch(/(^|,)rps=\d+(\.\d+)?(,|$)/);
  });
});
