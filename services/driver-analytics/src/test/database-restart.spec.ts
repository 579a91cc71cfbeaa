// PostgreSQL stops and starts again under a load of mixed calls over three
// protocols: the process survives, every failure during the outage is
// UNAVAILABLE (never INTERNAL, never a hang), health goes NOT_SERVING and
// back, and calls succeed again within seconds of the database's return,
// with no restart of the server. A PostgreSQL of its own, so stopping it
// touches no other test.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { migrate, startEmbeddedPostgres, type EmbeddedPostgresHandle } from "@driver-analytics/db";
import { insertFixtures } from "@driver-analytics/db/testing";
import {
  DriverAnalytics,
  GetStatsRequestSchema,
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  ListTripsRequestSchema,
} from "@driver-analytics/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../testing/harness.js";

const WORKERS = 8;
const CALL_DEADLINE_MS = 3_000;
// Recovery must come within this long of PostgreSQL accepting connections again.
const RECOVERY_LIMIT_MS = 5_000;

interface Result {
  at: number;
  code: Code | "OK";
  ms: number;
}

describe("database outage and recovery", () => {
  let dir: string;
  let pg: EmbeddedPostgresHandle;
  let t: TestServer;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "driver-analytics-restart-"));
    // As root, PostgreSQL runs as user postgres, which must reach the data directory.
    await chmod(dir, 0o755);
    pg = await startEmbeddedPostgres({ dataDir: path.join(dir, "pg") });
    await migrate(pg.connectionString);
    await insertFixtures(pg.connectionString, {
      drivers: [{ id: 1n }, { id: 2n }],
      trips: Array.from({ length: 40 }, (_, i) => ({
        driverId: BigInt((i % 2) + 1),
        completedAtMicros: 1_750_000_000_000_000n + BigInt(i) * 3_600_000_000n,
      })),
    });
    t = await startTestServer({
      testDb: { name: "driver_analytics", connectionString: pg.connectionString, drop: async () => undefined },
      poolSize: 4,
      acquireTimeoutMs: 1_000,
      healthProbe: { intervalMs: 100, timeoutMs: 500 },
    });
  });

  afterAll(async () => {
    await t?.close();
    await pg?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it("fails fast with UNAVAILABLE while PostgreSQL is down and serves again when it is back", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: t.baseUrl }));
    await expect.poll(async () => (await health.check({ service: "" })).status, { timeout: 10_000 }).toBe(ServingStatus.SERVING);

    // Every status change Watch reports, with when it came.
    const watched: { at: number; status: ServingStatus }[] = [];
    const watchController = new AbortController();
    const watching = (async () => {
      for await (const answer of health.watch({ service: DriverAnalytics.typeName }, { signal: watchController.signal })) {
        watched.push({ at: performance.now(), status: answer.status });
      }
    })().catch(() => undefined);

    const results: Result[] = [];
    let running = true;
    const call = (i: number): Promise<unknown> => {
      const driverId = BigInt((i % 2) + 1);
      switch (i % 4) {
        case 0:
          return t.grpcJs.call(DriverAnalytics.method.getStats, create(GetStatsRequestSchema, { driverId }), {
            deadlineMs: CALL_DEADLINE_MS,
          });
        case 1:
          return t.grpc.listTrips(create(ListTripsRequestSchema, { driverId, pageSize: 5 }), { timeoutMs: CALL_DEADLINE_MS });
        case 2:
          return t.connect.getStats(create(GetStatsRequestSchema, { driverId }), { timeoutMs: CALL_DEADLINE_MS });
        default:
          return t.grpcJs.call(DriverAnalytics.method.listTrips, create(ListTripsRequestSchema, { driverId, pageSize: 5 }), {
            deadlineMs: CALL_DEADLINE_MS,
          });
      }
    };
    const workers = Array.from({ length: WORKERS }, async (_, w) => {
      for (let i = w; running; i += WORKERS) {
        const started = performance.now();
        const code = await call(i).then(
          () => "OK" as const,
          (error: unknown) => (error instanceof ConnectError ? error.code : ((error as { code: Code }).code ?? Code.Unknown)),
        );
        results.push({ at: started, code, ms: performance.now() - started });
        // A few ms between calls: a steady load, not a busy loop that starves the probe.
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });

    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const stoppingAt = performance.now();
    await pg.stop();
    await expect.poll(() => watched.at(-1)?.status, { timeout: 5_000 }).toBe(ServingStatus.NOT_SERVING);
    const notServingAfterMs = watched.at(-1)!.at - stoppingAt;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await pg.start();
    const backAt = performance.now();
    await expect
      .poll(() => results.some((r) => r.at >= backAt && r.code === "OK"), { timeout: RECOVERY_LIMIT_MS, interval: 20 })
      .toBe(true);
    const firstSuccess = Math.min(...results.filter((r) => r.at >= backAt && r.code === "OK").map((r) => r.at + r.ms));
    await expect.poll(() => watched.at(-1)?.status, { timeout: 5_000 }).toBe(ServingStatus.SERVING);
    const servingAfterMs = watched.at(-1)!.at - backAt;
    // A second of calls after recovery: all must succeed.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const steadyFrom = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    running = false;
    await Promise.all(workers);
    watchController.abort();
    await watching;

    const failures = results.filter((r) => r.code !== "OK");
    const codes = new Set(failures.map((r) => (r.code === "OK" ? "OK" : Code[r.code])));
    const slowest = Math.max(...failures.map((r) => r.ms));
    console.info(
      `restart: ${results.length} calls, ${failures.length} failed (${[...codes].join(", ")}), slowest failure ${slowest.toFixed(0)} ms; ` +
        `NOT_SERVING ${notServingAfterMs.toFixed(0)} ms after stop began; first success ${(firstSuccess - backAt).toFixed(0)} ms ` +
        `and SERVING ${servingAfterMs.toFixed(0)} ms after PostgreSQL was back`,
    );
    expect(failures.length).toBeGreaterThan(0);
    expect([...codes]).toEqual(["Unavailable"]);
    // Bounded: no failure waited anywhere near the deadline.
    expect(slowest).toBeLessThan(CALL_DEADLINE_MS);
    expect(firstSuccess - backAt).toBeLessThan(RECOVERY_LIMIT_MS);
    expect(results.filter((r) => r.at >= steadyFrom).every((r) => r.code === "OK")).toBe(true);
    expect(results.filter((r) => r.at >= steadyFrom).length).toBeGreaterThan(10);
    // SERVING, NOT_SERVING, SERVING (maybe more flips while PostgreSQL starts, but in this order).
    const statuses = watched.map((w) => w.status).filter((s, i, all) => i === 0 || s !== all[i - 1]);
    expect(statuses[0]).toBe(ServingStatus.SERVING);
    expect(statuses).toContain(ServingStatus.NOT_SERVING);
    expect(statuses.at(-1)).toBe(ServingStatus.SERVING);
    expect(t.server.admission.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });
});
