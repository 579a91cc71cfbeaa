// A deadline or a cancel reaches PostgreSQL: the query a call started is gone
// from pg_stat_activity right after the call ends, while the lock it waits on
// is still held (so nothing but a cancel could have ended it). A server-side
// statement_timeout backs this up for callers without deadlines.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { insertFixtures } from "@driver-analytics/db/testing";
import { DriverAnalytics, GetStatsRequestSchema, ListTripsRequestSchema } from "@driver-analytics/proto";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { lockAllTables, openSession, serverQueries, type SqlSession } from "../testing/table-lock.js";

// Long enough that a busy 2-core machine shows the query in pg_stat_activity
// before the deadline (50 ms did not, on a machine 3x slower than this one).
const DEADLINE_MS = 300;
// How soon after the call ends its query must be gone.
const GONE_WITHIN_MS = 500;

describe("deadlines and cancellation reach PostgreSQL", () => {
  let t: TestServer;
  let monitor: SqlSession;

  beforeAll(async () => {
    t = await startTestServer({ poolSize: 4, statementTimeoutMs: 30_000 });
    await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: 1n }],
      trips: [{ driverId: 1n, completedAtMicros: 1_750_000_000_000_000n }],
    });
    monitor = await openSession(t.testDb.connectionString);
    // Connect every client first: a short deadline must not be spent on a handshake.
    const warm = create(GetStatsRequestSchema, { driverId: 1n });
    await Promise.all([t.grpcJs.call(DriverAnalytics.method.getStats, warm), t.grpc.getStats(warm), t.connect.getStats(warm)]);
  });

  afterAll(async () => {
    await monitor.close();
    await t.close();
  });

  /**
   * againstBlockedQuery runs `call` while every table is locked, watching
   * pg_stat_activity every few ms. It returns the call's outcome, whether its
   * query was seen waiting in PostgreSQL, and how long after the call ended
   * the query was gone.
   */
  async function againstBlockedQuery(call: () => Promise<unknown>) {
    const lock = await lockAllTables(t.testDb.connectionString);
    try {
      let seen = false;
      let done = false;
      const watching = (async () => {
        while (!done) {
          if ((await serverQueries(monitor.client, t.testDb.name)).some((q) => q.waiting)) seen = true;
          await new Promise((resolve) => setTimeout(resolve, 3));
        }
      })();
      const started = performance.now();
      const outcome = await call().then(
        () => "succeeded" as const,
        (error: unknown) => error,
      );
      const callMs = performance.now() - started;
      done = true;
      await watching;
      const ended = performance.now();
      let goneAfterMs = Infinity;
      while (performance.now() - ended < 5_000) {
        if ((await serverQueries(monitor.client, t.testDb.name)).length === 0) {
          goneAfterMs = performance.now() - ended;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // The lock is still held here: only a cancel can have ended the query.
      return { outcome, seen, callMs, goneAfterMs };
    } finally {
      await lock.release();
    }
  }

  it(`grpc-js deadline of ${DEADLINE_MS} ms: DEADLINE_EXCEEDED, and the query is cancelled in PostgreSQL`, async () => {
    const result = await againstBlockedQuery(() =>
      t.grpcJs.call(DriverAnalytics.method.getStats, create(GetStatsRequestSchema, { driverId: 1n }), {
        deadlineMs: DEADLINE_MS,
      }),
    );
    expect((result.outcome as grpc.ServiceError).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(result.seen).toBe(true);
    expect(result.callMs).toBeLessThan(DEADLINE_MS + 400);
    expect(result.goneAfterMs).toBeLessThan(GONE_WITHIN_MS);
    console.info(`grpc-js ${DEADLINE_MS} ms deadline: call ended after ${result.callMs.toFixed(0)} ms, query gone ${result.goneAfterMs.toFixed(0)} ms later`);
  });

  it(`Connect timeout of ${DEADLINE_MS} ms (connect-timeout-ms) on ListTrips: the same`, async () => {
    const result = await againstBlockedQuery(() =>
      t.connect.listTrips(create(ListTripsRequestSchema, { driverId: 1n }), { timeoutMs: DEADLINE_MS }),
    );
    expect(ConnectError.from(result.outcome).code).toBe(Code.DeadlineExceeded);
    expect(result.seen).toBe(true);
    expect(result.goneAfterMs).toBeLessThan(GONE_WITHIN_MS);
  });

  it("a gRPC call the client cancels: the query is cancelled too", async () => {
    const controller = new AbortController();
    const result = await againstBlockedQuery(() => {
      setTimeout(() => controller.abort(), DEADLINE_MS);
      return t.grpc.getStats(create(GetStatsRequestSchema, { driverId: 1n }), { signal: controller.signal });
    });
    expect(ConnectError.from(result.outcome).code).toBe(Code.Canceled);
    expect(result.seen).toBe(true);
    expect(result.goneAfterMs).toBeLessThan(GONE_WITHIN_MS);
  });

  it("without a deadline, statement_timeout stops the query: DEADLINE_EXCEEDED, no SQL in the message", async () => {
    const short = await startTestServer({ testDb: t.testDb, poolSize: 2, statementTimeoutMs: 200 });
    try {
      const result = await againstBlockedQuery(() => short.connect.getStats(create(GetStatsRequestSchema, { driverId: 1n })));
      const error = ConnectError.from(result.outcome);
      expect(error.code).toBe(Code.DeadlineExceeded);
      expect(error.rawMessage).toBe("query took too long");
      expect(result.callMs).toBeGreaterThanOrEqual(190);
      expect(result.callMs).toBeLessThan(2_000);
      expect(result.goneAfterMs).toBeLessThan(GONE_WITHIN_MS);
    } finally {
      await short.close();
    }
  });

  it("the pool is whole afterwards: calls succeed at once", async () => {
    const answer = await t.grpc.getStats(create(GetStatsRequestSchema, { driverId: 1n }), { timeoutMs: 2_000 });
    expect(answer.stats?.totalTrips).toBe(1n);
    expect(t.server.admission.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });
});
