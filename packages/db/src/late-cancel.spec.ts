// A late cancel must not hit the next query. When a call's signal aborts, the
// Database sends PostgreSQL a CancelRequest for the connection's backend. If
// the query had already finished, the connection would go back to the pool
// looking healthy, and the cancel (which travels on a socket of its own and
// arrives a little later) would cancel whatever the next caller runs on it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "./database.js";
import { QueryAbortedError } from "./errors.js";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

/** Blocks the event loop: the query's answer waits in the socket while the abort fires. */
function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe("a late cancel", () => {
  let testDb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({
      connectionString: testDb.connectionString,
      poolSize: 2,
      acquireTimeoutMs: 5_000,
      maxWaiting: 100,
      statementTimeoutMs: 10_000,
    });
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  it("never lands on the next caller's query: the connection it was sent for is discarded", async () => {
    const iterations = 25;
    let completedDespiteAbort = 0;
    const failures: string[] = [];
    const discardedBefore = db.connectionsDiscardedAfterCancel;
    await Promise.all([db.query("SELECT 1", []), db.query("SELECT 1", [])]); // warm pool
    for (let i = 0; i < iterations; i++) {
      const controller = new AbortController();
      const first = db.query<{ n: number }>("SELECT 1 AS n", [], { signal: controller.signal }).then(
        () => "ok",
        (error: unknown) => (error instanceof QueryAbortedError ? "aborted" : `failed: ${String(error)}`),
      );
      // Let the query go out, then block the event loop: PostgreSQL answers
      // meanwhile, and the abort fires before the answer is read, as a
      // deadline racing completion does.
      await new Promise((resolve) => setImmediate(resolve));
      busyWait(30);
      controller.abort();
      const outcome = await first;
      if (outcome === "ok") completedDespiteAbort++;
      else if (outcome !== "aborted") failures.push(outcome);
      // The next callers run at once, on whatever connection the pool hands out,
      // long enough for a stray cancel to arrive during them.
      const next = await Promise.allSettled([
        db.query("SELECT pg_sleep(0.05)", []),
        db.query("SELECT pg_sleep(0.05)", []),
      ]);
      for (const result of next) {
        if (result.status === "rejected") failures.push(`next query failed: ${String(result.reason)}`);
      }
    }
    expect(failures).toEqual([]);
    // The race really was exercised: queries finished although their call aborted.
    expect(completedDespiteAbort).toBeGreaterThan(0);
    // Every connection a cancel was sent for left the pool, success or not.
    expect(db.connectionsDiscardedAfterCancel - discardedBefore).toBe(iterations);
    expect(db.poolStats().total).toBeLessThanOrEqual(2);
  });

  it("discards the connection of a cancelled transaction too, and the pool keeps serving", async () => {
    const before = db.connectionsDiscardedAfterCancel;
    const controller = new AbortController();
    const tx = db.transaction(
      async (q) => {
        await q.query("SELECT 1", []);
        busyWait(20);
        controller.abort();
        return "done";
      },
      { signal: controller.signal },
    );
    await expect(tx).rejects.toBeInstanceOf(QueryAbortedError);
    const rows = await Promise.all(Array.from({ length: 8 }, () => db.query<{ n: number }>("SELECT 2 AS n", [])));
    expect(rows.every(([row]) => row?.n === 2)).toBe(true);
    // An abort between statements sends no cancel: nothing is running.
    expect(db.connectionsDiscardedAfterCancel - before).toBe(0);
  });
});
