// End to end over real sockets: a no-op connect-node (or grpc-js) server on
// port 0, and runLoad speaking real gRPC (grpc-js) or Connect (connect-node).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { formatHtml } from "./format-html.js";
import { formatJson } from "./format-json.js";
import { formatSummary } from "./format-summary.js";
import { startConnectNoopServer, startGrpcNoopServer, type RunningServer } from "./noop-server.js";
import type { Protocol } from "./options.js";
import { runLoad } from "./run-load.js";

const GET_STATS = "driveranalytics.v1.DriverAnalytics.GetStats";
const protocols: Protocol[] = ["grpc", "connect", "grpcweb"];

let ok: RunningServer;
let failing: RunningServer;

beforeAll(async () => {
  ok = await startConnectNoopServer({ pagesPerDriver: 3 });
  // Even driver ids fail with Unavailable, odd ones succeed.
  failing = await startConnectNoopServer({ failFor: (id) => (id % 2n === 0n ? Code.Unavailable : undefined) });
});
afterAll(async () => {
  await ok?.close();
  await failing?.close();
});

const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0);

describe.each(protocols)("runLoad over %s", (protocol) => {
  it("makes exactly -n calls over several connections, all OK", async () => {
    const r = await runLoad({
      host: `127.0.0.1:${ok.port}`,
      protocol,
      call: GET_STATS,
      data: { driver_id: "{{randomInt 1 1000}}" },
      total: 300,
      concurrency: 30,
      connections: 3,
      metadata: { "x-load-test": "{{.WorkerID}}" },
    });
    expect(r.count).toBe(300);
    expect(r.statusCodeDistribution).toEqual({ OK: 300 });
    expect(r.errorDistribution).toEqual({});
    expect(r.histogram.reduce((s, b) => s + b.count, 0)).toBe(300);
    expect(r.latencyDistribution.map((p) => p.percentage)).toEqual([10, 25, 50, 75, 90, 95, 99, 99.9]);
    expect(r.fastest).toBeLessThanOrEqual(r.average);
    expect(r.average).toBeLessThanOrEqual(r.slowest);
    expect(r.loadGenerator.maxInFlight).toBe(30);
    expect(r.options).toMatchObject({ protocol, concurrency: 30, connections: 3, total: 300 });
  });

  it("counts status codes and errors like ghz", async () => {
    const r = await runLoad({
      host: `127.0.0.1:${failing.port}`,
      protocol,
      call: GET_STATS,
      // Request numbers 0..199: 100 even (fail), 100 odd (succeed).
      data: '{"driver_id": {{.RequestNumber}}}',
      total: 200,
      concurrency: 10,
    });
    expect(r.count).toBe(200);
    expect(r.statusCodeDistribution).toEqual({ OK: 100, Unavailable: 100 });
    expect(sum(r.errorDistribution)).toBe(100);
    for (const key of Object.keys(r.errorDistribution)) {
      expect(key).toMatch(/^rpc error: code = Unavailable desc = driver \d+ refused/);
    }
    // Percentiles and the histogram cover successful calls only, as in ghz.
    expect(r.histogram.reduce((s, b) => s + b.count, 0)).toBe(100);
  });

  it("walks pages in the mixed workload", async () => {
    const r = await runLoad({
      host: `127.0.0.1:${ok.port}`,
      protocol,
      workload: { kind: "mixed", mix: { stats: 20, list: 80 }, drivers: { min: 1, max: 50 }, maxDepth: 3 },
      total: 400,
      concurrency: 8,
      connections: 2,
    });
    expect(r.count).toBe(400);
    const calls = r.calls;
    expect(
      (calls["driveranalytics.v1.DriverAnalytics.GetStats"]?.count ?? 0) +
        (calls["driveranalytics.v1.DriverAnalytics.ListTrips"]?.count ?? 0),
    ).toBe(400);
    expect(calls["driveranalytics.v1.DriverAnalytics.ListTrips"]?.count).toBeGreaterThan(200);
    expect(r.workload?.deeperPages).toBeGreaterThan(50);
    expect(r.statusCodeDistribution).toEqual({ OK: 400 });
  });
});

describe("runLoad", () => {
  it("measures one page depth after a warm-up that collects its tokens", async () => {
    const r = await runLoad({
      host: `127.0.0.1:${ok.port}`,
      workload: { kind: "page-depth", depth: 3, drivers: { min: 1, max: 10 } },
      total: 100,
      concurrency: 5,
    });
    expect(r.workload).toMatchObject({ kind: "page-depth", warmupRequests: 20, warmupErrors: 0, driversAtDepth: 10 });
    expect(r.count).toBe(100);
    expect(r.statusCodeDistribution).toEqual({ OK: 100 });
    await expect(
      runLoad({
        host: `127.0.0.1:${ok.port}`,
        workload: { kind: "page-depth", depth: 5, drivers: { min: 1, max: 3 } },
        total: 10,
        concurrency: 2,
      }),
    ).rejects.toThrow(/no driver in the range has a page 5/);
  });

  it("runs for -z with duration-stop wait, and honours --rps", async () => {
    const r = await runLoad({
      host: `127.0.0.1:${ok.port}`,
      call: GET_STATS,
      data: { driver_id: 1 },
      durationMs: 500,
      durationStop: "wait",
      rps: 200,
      concurrency: 10,
    });
    expect(r.endReason).toBe("timeout");
    expect(r.statusCodeDistribution).toEqual({ OK: r.count });
    // 200/s for 0.5 s is ~100 calls; timers are coarse, so allow slack.
    expect(r.count).toBeGreaterThanOrEqual(80);
    expect(r.count).toBeLessThanOrEqual(110);
  });

  it("under --rps measures latency from each call's intended start (no coordinated omission), and from the send", async () => {
    // A 20 ms service, one worker, 200 calls/s wanted: each call leaves ~15 ms
    // later than the one before it was meant to. From the send every call
    // takes ~20 ms; from its intended start the last of 30 waited ~450 ms.
    const slow = await startConnectNoopServer({ delayMs: 20 });
    try {
      const r = await runLoad({ host: `127.0.0.1:${slow.port}`, call: GET_STATS, data: { driver_id: 1 }, total: 30, rps: 200, concurrency: 1 });
      const p = (d: { percentage: number; latency: number }[], pct: number): number => d.find((x) => x.percentage === pct)!.latency / 1e6;
      expect(r.latencyFromSend).toBeDefined();
      const fromSend = r.latencyFromSend!;
      expect(p(fromSend.latencyDistribution, 50)).toBeGreaterThanOrEqual(19);
      expect(p(fromSend.latencyDistribution, 50)).toBeLessThan(80);
      expect(p(r.latencyDistribution, 99)).toBeGreaterThan(250);
      expect(r.slowest).toBeGreaterThan(fromSend.slowest + 200e6);
      expect(r.average).toBeGreaterThan(fromSend.average);
      expect(fromSend.lateCalls).toBeGreaterThan(20);
      expect(fromSend.maxSendDelay / 1e6).toBeGreaterThan(250);
    } finally {
      await slow.close();
    }
  });

  it("has no latencyFromSend without a rate", async () => {
    const r = await runLoad({ host: `127.0.0.1:${ok.port}`, call: GET_STATS, data: { driver_id: 1 }, total: 20, concurrency: 2 });
    expect(r.latencyFromSend).toBeUndefined();
  });

  it("follows a step load schedule (ghz --load-schedule step)", async () => {
    // 50/s, +50 every 400 ms, up to 150/s: ~20 + 40 + 60 calls in 1.2 s.
    const r = await runLoad({
      host: `127.0.0.1:${ok.port}`,
      call: GET_STATS,
      data: { driver_id: 1 },
      durationMs: 1200,
      durationStop: "wait",
      concurrency: 20,
      loadSchedule: { kind: "step", start: 50, step: 50, stepDurationMs: 400, end: 150 },
    });
    expect(r.count).toBeGreaterThanOrEqual(100);
    expect(r.count).toBeLessThanOrEqual(125);
    expect(r.options).toMatchObject({ "load-schedule": "step", "load-start": 50, "load-step": 50, "load-end": 150 });
    expect(r.latencyFromSend).toBeDefined();
  });

  it("counts failed calls in the latency figures with --count-errors, as ghz does", async () => {
    const base = { host: `127.0.0.1:${failing.port}`, call: GET_STATS, data: '{"driver_id": {{.RequestNumber}}}', total: 100, concurrency: 5 };
    const without = await runLoad(base);
    const withErrors = await runLoad({ ...base, countErrors: true });
    expect(without.histogram.reduce((s, b) => s + b.count, 0)).toBe(50);
    expect(withErrors.histogram.reduce((s, b) => s + b.count, 0)).toBe(100);
    expect(withErrors.options["count-errors"]).toBe(true);
  });

  it("leaves --skipFirst results out", async () => {
    const r = await runLoad({ host: `127.0.0.1:${ok.port}`, call: GET_STATS, data: { driver_id: 1 }, total: 50, skipFirst: 10, concurrency: 5 });
    expect(r.count).toBe(40);
  });

  it("drives a grpc-js server too", async () => {
    const server = await startGrpcNoopServer();
    try {
      const r = await runLoad({ host: `127.0.0.1:${server.port}`, call: GET_STATS, data: { driver_id: 3 }, total: 100, concurrency: 10, connections: 2 });
      expect(r.statusCodeDistribution).toEqual({ OK: 100 });
    } finally {
      await server.close();
    }
  });

  it("fails fast and clearly when nothing listens", async () => {
    const dead = await startConnectNoopServer();
    const port = dead.port;
    await dead.close();
    await expect(
      runLoad({ host: `127.0.0.1:${port}`, call: GET_STATS, total: 1, concurrency: 1, connectTimeoutMs: 500 }),
    ).rejects.toThrow(/cannot connect/);
  });

  it("rejects data that does not fit the request message before connecting", async () => {
    await expect(runLoad({ host: "127.0.0.1:1", call: GET_STATS, data: { no_such_field: 1 } })).rejects.toThrow(
      /does not fit driveranalytics.v1.GetStatsRequest/,
    );
  });

  it("formats the report with ghz's JSON field names, a summary and a self-contained HTML page", async () => {
    const r = await runLoad({ host: `127.0.0.1:${ok.port}`, call: GET_STATS, data: { driver_id: 1 }, total: 20, concurrency: 2, details: true });
    const json = JSON.parse(formatJson(r)) as Record<string, unknown>;
    for (const key of [
      "date",
      "options",
      "count",
      "total",
      "average",
      "fastest",
      "slowest",
      "rps",
      "histogram",
      "latencyDistribution",
      "statusCodeDistribution",
      "errorDistribution",
      "details",
    ]) {
      expect(json).toHaveProperty(key);
    }
    // Durations are integer nanoseconds, as Go's time.Duration marshals.
    for (const key of ["total", "average", "fastest", "slowest"]) expect(Number.isInteger(json[key])).toBe(true);
    expect(json.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
    expect((json.histogram as unknown[])[0]).toEqual({ mark: expect.any(Number), count: expect.any(Number), frequency: expect.any(Number) });
    expect((json.latencyDistribution as unknown[])[0]).toEqual({ percentage: 10, latency: expect.any(Number) });
    expect((json.details as unknown[]).length).toBe(20);
    expect((json.details as Record<string, unknown>[])[0]).toMatchObject({ status: "OK", error: "" });

    const summary = formatSummary(r);
    expect(summary).toContain("Requests/sec:");
    expect(summary).toContain("[OK]\t20 responses");

    const html = formatHtml(r);
    expect(html).toContain("<svg");
    expect(html).not.toMatch(/<script|<link|src="http/);
  });
});
