// Far more calls than the limits allow: the excess is refused at once with
// UNAVAILABLE and retry advice, the admitted calls all succeed, the queue
// never grows past its bound, and nothing is left in flight afterwards.
import http2 from "node:http2";
import v8 from "node:v8";
import vm from "node:vm";
import { create } from "@bufbuild/protobuf";
import { insertFixtures } from "@driver-analytics/db/testing";
import { DriverAnalytics, GetStatsRequestSchema } from "@driver-analytics/proto";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrpcJsClient, startTestServer, type GrpcJsClient, type TestServer } from "../testing/harness.js";
import { lockAllTables, openSession, serverQueries } from "../testing/table-lock.js";

// A fixed limit (no adaptation) and waits long enough for the held calls:
// what is tested here is that the excess is refused at once.
const LIMITS = {
  initialConcurrency: 4,
  minConcurrency: 4,
  maxConcurrency: 4,
  maxQueue: 16,
  maxQueueWaitMs: 600_000,
  maxEventLoopDelayMs: 10_000,
};
const DEADLINE_MS = 120_000;
const CALLS = 1_000;
const CONNECTIONS = 4;
// Admitted calls are held this long by a table lock, so the excess arrives
// while every slot and queue place is taken. Client and server share this
// process (and ~1 ms of CPU per call on a small machine), so issuing 1,000
// calls takes about a second by itself: the hold is longer than that.
const HOLD_MS = 5_000;

interface Outcome {
  code: number;
  ms: number;
  pushback: string | undefined;
}

// A full GC on demand, so heap figures mean live memory, not garbage.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

function liveHeapMb(): number {
  gc();
  return process.memoryUsage().heapUsed / 1e6;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

describe("overload", () => {
  let t: TestServer;
  let clients: GrpcJsClient[];

  beforeAll(async () => {
    // One connection per admitted call: the pool's own bounded wait (2 s) is not what this test is about.
    t = await startTestServer({ poolSize: LIMITS.maxConcurrency, admission: LIMITS });
    await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: 1n }],
      trips: [{ driverId: 1n, completedAtMicros: 1_750_000_000_000_000n }],
    });
    clients = Array.from({ length: CONNECTIONS }, () =>
      createGrpcJsClient(
        `127.0.0.1:${t.port}`,
        { "grpc.use_local_subchannel_pool": 1 },
        { authorization: `Bearer ${t.token}` },
      ),
    );
    const warm = create(GetStatsRequestSchema, { driverId: 1n });
    await Promise.all(clients.map((c) => c.call(DriverAnalytics.method.getStats, warm)));
  });

  afterAll(async () => {
    clients.forEach((c) => c.close());
    await t.close();
  });

  async function burst(): Promise<{ outcomes: Outcome[]; maxQueued: number; maxInFlight: number }> {
    const request = create(GetStatsRequestSchema, { driverId: 1n });
    let maxQueued = 0;
    let maxInFlight = 0;
    const sampler = setInterval(() => {
      const stats = t.server.admission.stats();
      maxQueued = Math.max(maxQueued, stats.queued);
      maxInFlight = Math.max(maxInFlight, stats.inFlight);
    }, 2);
    const lock = await lockAllTables(t.testDb.connectionString);
    const release = setTimeout(() => void lock.release(), HOLD_MS);
    try {
      const outcomes = await Promise.all(
        Array.from({ length: CALLS }, (_, i) => {
          const started = performance.now();
          return clients[i % CONNECTIONS]!.call(DriverAnalytics.method.getStats, request, { deadlineMs: DEADLINE_MS }).then(
            () => ({ code: grpc.status.OK, ms: performance.now() - started, pushback: undefined }),
            (error: grpc.ServiceError) => ({
              code: error.code,
              ms: performance.now() - started,
              pushback: error.metadata?.get("grpc-retry-pushback-ms")[0]?.toString(),
            }),
          );
        }),
      );
      return { outcomes, maxQueued, maxInFlight };
    } finally {
      clearTimeout(release);
      await lock.release().catch(() => undefined);
      clearInterval(sampler);
    }
  }

  it(`refuses the excess of ${CALLS} concurrent calls at once, serves the admitted ones, and stays bounded`, async () => {
    // The first burst warms every code path and pool; the second must not keep more.
    const rounds = [await burst()];
    const heapAfterFirst = liveHeapMb();
    rounds.push(await burst());
    const heapGrowthMb = liveHeapMb() - heapAfterFirst;

    for (const { outcomes, maxQueued, maxInFlight } of rounds) {
      const ok = outcomes.filter((o) => o.code === grpc.status.OK);
      const refused = outcomes.filter((o) => o.code === grpc.status.UNAVAILABLE);
      // Nothing but successes and fast refusals: no timeouts, no INTERNAL.
      expect(ok.length + refused.length).toBe(CALLS);
      expect(ok.length).toBe(LIMITS.maxConcurrency + LIMITS.maxQueue);
      expect(refused.every((o) => o.pushback === "200")).toBe(true);
      expect(maxQueued).toBeLessThanOrEqual(LIMITS.maxQueue);
      expect(maxInFlight).toBeLessThanOrEqual(LIMITS.maxConcurrency);
      // Admitted calls waited for the lock; refusals came back long before it was released.
      expect(Math.min(...ok.map((o) => o.ms))).toBeGreaterThanOrEqual(HOLD_MS - 100);
      const refusedMs = refused.map((o) => o.ms);
      const p50 = percentile(refusedMs, 50);
      const p99 = percentile(refusedMs, 99);
      const max = Math.max(...refusedMs);
      // Every refusal came back while the admitted calls were still held.
      expect(max).toBeLessThan(HOLD_MS);
      console.info(
        `overload: ${ok.length} admitted (min ${Math.min(...ok.map((o) => o.ms)).toFixed(0)} ms), ` +
          `${refused.length} refused in p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms ` +
          `(from the client, ${CALLS} calls issued at once over ${CONNECTIONS} connections); max queued ${maxQueued}`,
      );
    }
    console.info(`overload: live heap growth from the first burst to the second ${heapGrowthMb.toFixed(1)} MB`);
    expect(heapGrowthMb).toBeLessThan(10);

    // Nothing in flight afterwards: admission, pool, and PostgreSQL.
    await expect.poll(() => t.server.admission.stats()).toMatchObject({ inFlight: 0, queued: 0 });
    expect(t.db.poolStats().waiting).toBe(0);
    const monitor = await openSession(t.testDb.connectionString);
    try {
      expect(await serverQueries(monitor.client, t.testDb.name)).toEqual([]);
    } finally {
      await monitor.close();
    }
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    const shed = /^driver_analytics_shed_total\{reason="queue-full"\} (\d+)$/m.exec(metrics);
    expect(Number(shed?.[1])).toBe(2 * (CALLS - LIMITS.maxConcurrency - LIMITS.maxQueue));
    // Refused at the stream's arrival: they never reached the call pipeline.
    const handledUnavailable = /^grpc_server_handled_total\{[^}]*grpc_method="GetStats"[^}]*grpc_code="Unavailable"\} (\d+)$/m.exec(metrics);
    expect(handledUnavailable).toBeNull();
  });

  it("while saturated, a new call is refused within milliseconds; health and metrics still answer", async () => {
    const lock = await lockAllTables(t.testDb.connectionString);
    const request = create(GetStatsRequestSchema, { driverId: 1n });
    const held = Array.from({ length: LIMITS.maxConcurrency + LIMITS.maxQueue }, (_, i) =>
      clients[i % CONNECTIONS]!.call(DriverAnalytics.method.getStats, request).catch(() => undefined),
    );
    try {
      await expect.poll(() => t.server.admission.stats().queued, { timeout: 5_000 }).toBe(LIMITS.maxQueue);
      // One call at a time against the full server: the latency a client sees for a refusal.
      const refusalMs: number[] = [];
      for (let i = 0; i < 100; i++) {
        const started = performance.now();
        const code = await clients[0]!.call(DriverAnalytics.method.getStats, request, { deadlineMs: 5_000 }).then(
          () => grpc.status.OK,
          (error: grpc.ServiceError) => error.code,
        );
        refusalMs.push(performance.now() - started);
        expect(code).toBe(grpc.status.UNAVAILABLE);
      }
      console.info(
        `overload: refusal round trip when saturated, one call at a time: p50 ${percentile(refusalMs, 50).toFixed(2)} ms, ` +
          `p99 ${percentile(refusalMs, 99).toFixed(2)} ms`,
      );
      // Milliseconds on a quiet machine (the benchmark reports the figure);
      // a bound a busy CI machine 3x slower still meets.
      expect(percentile(refusalMs, 99)).toBeLessThan(250);
      const res = await fetch(`${t.baseUrl}/metrics`);
      expect(res.status).toBe(200);
      const { Health } = await import("@driver-analytics/proto");
      const { createClient } = await import("@connectrpc/connect");
      const { createGrpcTransport } = await import("@connectrpc/connect-node");
      const health = createClient(Health, createGrpcTransport({ baseUrl: t.baseUrl }));
      await expect(health.check({ service: "" }, { timeoutMs: 1_000 })).resolves.toBeDefined();
    } finally {
      await lock.release();
      await Promise.all(held);
    }
  });

  it("survives streams the client resets while they wait for admission, and frees their places", async () => {
    const lock = await lockAllTables(t.testDb.connectionString);
    const request = create(GetStatsRequestSchema, { driverId: 1n });
    const held = Array.from({ length: LIMITS.maxConcurrency }, () =>
      clients[0]!.call(DriverAnalytics.method.getStats, request).catch(() => undefined),
    );
    const session = http2.connect(t.baseUrl);
    try {
      await expect.poll(() => t.server.admission.stats().inFlight, { timeout: 5_000 }).toBe(LIMITS.maxConcurrency);
      // The queue fills with streams the client then resets while they wait.
      const body = Buffer.alloc(5);
      const streams = Array.from({ length: LIMITS.maxQueue }, () => {
        const stream = session.request({
          ":method": "POST",
          ":path": `/${DriverAnalytics.typeName}/GetStats`,
          "content-type": "application/grpc",
          te: "trailers",
          authorization: `Bearer ${t.token}`,
        });
        stream.on("error", () => undefined);
        stream.write(body);
        return stream;
      });
      await expect.poll(() => t.server.admission.stats().queued, { timeout: 5_000 }).toBe(LIMITS.maxQueue);
      for (const stream of streams) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      await expect.poll(() => t.server.admission.stats().queued, { timeout: 5_000 }).toBe(0);
    } finally {
      session.destroy();
      await lock.release();
      await Promise.all(held);
    }
    // Still serving, nothing left behind.
    await expect(clients[1]!.call(DriverAnalytics.method.getStats, request)).resolves.toBeDefined();
    await expect.poll(() => t.server.admission.stats(), { timeout: 5_000 }).toMatchObject({ inFlight: 0, queued: 0 });
  });
});
