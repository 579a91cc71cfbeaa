import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "./database.js";
import { DRIVER_STATS_LIVE_SQL, getDriverStatsLive } from "./driver-stats.js";
import { EARNINGS_SERIES_SQL } from "./earnings-series.js";
import { DRIVER_STATS_ROLLUP_SQL, DRIVER_STATS_ROLLUP_WINDOW_SQL } from "./rollup-stats.js";
import { seedDataset } from "./seed-dataset.js";
import { createTestDatabase, insertFixtures, type FixtureTrip, type TestDatabase } from "./testing/index.js";
import { LIST_TRIPS_SQL, listTripsPage, listTripsPageParams, type TripCursor } from "./trips-page.js";

const HOUR = 3_600_000_000n;
const T0 = 1_750_000_000_000_000n; // mid 2025, in micros
// The seeded dataset's end, pinned: same seed and same end, same rows.
const SEED_END = "2026-01-01T00:00:00Z";

function openDatabase(connectionString: string): Database {
  return new Database({
    connectionString,
    poolSize: 4,
    acquireTimeoutMs: 5_000,
    maxWaiting: 100,
    statementTimeoutMs: 10_000,
  });
}

/** The stats a driver's trips should yield, computed in JS from the fixtures. */
function expectedStats(trips: FixtureTrip[], window: { startMicros?: bigint; endMicros?: bigint } = {}) {
  const inWindow = trips.filter(
    (t) =>
      (window.startMicros === undefined || t.completedAtMicros >= window.startMicros) &&
      (window.endMicros === undefined || t.completedAtMicros < window.endMicros),
  );
  const sum = (f: (t: FixtureTrip) => bigint) => inWindow.reduce((acc, t) => acc + f(t), 0n);
  const rated = inWindow.filter((t) => t.review !== undefined);
  return {
    totalTrips: BigInt(inWindow.length),
    completedTrips: BigInt(inWindow.filter((t) => (t.status ?? "completed") === "completed").length),
    cancelledTrips: BigInt(inWindow.filter((t) => t.status === "cancelled").length),
    fareMinor: sum((t) => (t.paid === false ? 0n : (t.fareMinor ?? 1000n))),
    tipMinor: sum((t) => (t.paid === false ? 0n : (t.tipMinor ?? 0n))),
    distanceMeters: sum((t) => t.distanceMeters ?? 1000n),
    durationMicros: sum((t) => t.completedAtMicros - (t.startedAtMicros ?? t.completedAtMicros - 600_000_000n)),
    ratedTrips: BigInt(rated.length),
    ratingSum: rated.reduce((acc, t) => acc + BigInt(t.review!.rating), 0n),
  };
}

describe("queries", () => {
  let testDb: TestDatabase;
  let db: Database;
  const driverTrips: FixtureTrip[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = openDatabase(testDb.connectionString);
    // Driver 1: varied trips; driver 2: no trips; driver 3: trips, none reviewed, one unpaid.
    for (let i = 0n; i < 40n; i++) {
      driverTrips.push({
        driverId: 1n,
        status: i % 7n === 0n ? "cancelled" : "completed",
        startedAtMicros: T0 + i * HOUR - 1_234_567n,
        completedAtMicros: T0 + i * HOUR,
        distanceMeters: 1000n + i,
        fareMinor: 1500n + i * 3n,
        tipMinor: i % 3n === 0n ? 0n : 125n,
        ...(i % 4n === 0n ? {} : { review: { rating: Number(1n + (i % 5n)), comment: `trip ${i}` } }),
      });
    }
    await insertFixtures(testDb.connectionString, {
      drivers: [{ id: 1n, currencyCode: "EUR" }, { id: 2n }, { id: 3n }],
      trips: [
        ...driverTrips,
        { driverId: 3n, completedAtMicros: T0, fareMinor: 700n },
        { driverId: 3n, completedAtMicros: T0 + 1n, paid: false },
      ],
    });
  });

  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  describe("getDriverStatsLive", () => {
    it("equals an independent computation over the same rows", async () => {
      const stats = await getDriverStatsLive(db, 1n, {});
      expect(stats).toEqual({ currencyCode: "EUR", ...expectedStats(driverTrips) });
    });

    it("gives zeros for a driver without trips and undefined for an unknown driver", async () => {
      expect(await getDriverStatsLive(db, 2n, {})).toEqual({
        currencyCode: "USD",
        totalTrips: 0n,
        completedTrips: 0n,
        cancelledTrips: 0n,
        fareMinor: 0n,
        tipMinor: 0n,
        distanceMeters: 0n,
        durationMicros: 0n,
        ratedTrips: 0n,
        ratingSum: 0n,
      });
      expect(await getDriverStatsLive(db, 999n, {})).toBeUndefined();
    });

    it("counts an unpaid, unreviewed trip without inventing money or ratings", async () => {
      const stats = await getDriverStatsLive(db, 3n, {});
      expect(stats).toMatchObject({ totalTrips: 2n, fareMinor: 700n, ratedTrips: 0n, ratingSum: 0n });
    });

    it("restricts to any window [start, end)", async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: -2, max: 42 }), fc.integer({ min: 0, max: 44 }), async (a, len) => {
          const window = { startMicros: T0 + BigInt(a) * HOUR, endMicros: T0 + BigInt(a + len) * HOUR };
          const stats = await getDriverStatsLive(db, 1n, window);
          expect(stats).toEqual({ currencyCode: "EUR", ...expectedStats(driverTrips, window) });
        }),
        { numRuns: 30 },
      );
    });
  });

  describe("listTripsPage", () => {
    async function walk(driverId: bigint, pageSize: number, window = {}) {
      const seen: bigint[] = [];
      let after: TripCursor | undefined;
      for (;;) {
        const page = await listTripsPage(db, { driverId, window, pageSize, after });
        if (page === undefined) throw new Error("driver vanished");
        seen.push(...page.trips.map((t) => t.id));
        expect(page.trips.length).toBeLessThanOrEqual(pageSize);
        if (!page.hasMore) return seen;
        const last = page.trips.at(-1)!;
        after = { completedAtMicros: last.completedAtMicros, id: last.id };
      }
    }

    it("returns trips newest first with payment and review", async () => {
      const page = await listTripsPage(db, { driverId: 1n, window: {}, pageSize: 3 });
      expect(page?.hasMore).toBe(true);
      const [first] = page!.trips;
      const fixture = driverTrips[39]!;
      expect(first).toMatchObject({
        driverId: 1n,
        status: "completed",
        startedAtMicros: fixture.startedAtMicros,
        completedAtMicros: fixture.completedAtMicros,
        distanceMeters: 1039n,
        currencyCode: "EUR",
        payment: { fareMinor: 1500n + 39n * 3n, tipMinor: 0n },
        review: { rating: 5, comment: "trip 39" },
      });
    });

    it("walks every trip exactly once for several page sizes", async () => {
      for (const size of [1, 7, 40, 1000]) {
        const ids = await walk(1n, size);
        expect(ids).toHaveLength(40);
        expect(new Set(ids).size).toBe(40);
      }
    });

    it("tells an unknown driver (undefined) from a driver with no trips (empty page)", async () => {
      expect(await listTripsPage(db, { driverId: 999n, window: {}, pageSize: 10 })).toBeUndefined();
      expect(await listTripsPage(db, { driverId: 2n, window: {}, pageSize: 10 })).toEqual({ trips: [], hasMore: false });
    });
  });

  describe("query plans on a seeded dataset", () => {
    let seeded: TestDatabase;
    let seededDb: Database;

    beforeAll(async () => {
      seeded = await createTestDatabase();
      await seedDataset(seeded.connectionString, { drivers: 200, tripsPerDriver: 200, reviewRatio: 0.8, seed: 7, historyEnd: SEED_END });
      seededDb = openDatabase(seeded.connectionString);
    });
    afterAll(async () => {
      await seededDb.close();
      await seeded.drop();
    });

    async function plan(sql: string, params: unknown[]): Promise<string> {
      const rows = await seededDb.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
      return JSON.stringify(rows[0]!["QUERY PLAN"]);
    }

    // The plan a named statement runs on after its first executions, when
    // PostgreSQL settles on one plan for every parameter value.
    async function genericPlan(sql: string, params: readonly unknown[]): Promise<string> {
      const literals = params.map((value) => `'${String(value).replaceAll("'", "''")}'`).join(", ");
      return seededDb.transaction(async (tx) => {
        await tx.query("SET LOCAL plan_cache_mode = force_generic_plan", []);
        await tx.query(`PREPARE generic_plan_probe AS ${sql}`, []);
        try {
          const rows = await tx.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (FORMAT JSON) EXECUTE generic_plan_probe(${literals})`, []);
          return JSON.stringify(rows[0]!["QUERY PLAN"]);
        } finally {
          await tx.query("DEALLOCATE generic_plan_probe", []);
        }
      });
    }

    type PlanNode = Record<string, unknown> & { Plans?: PlanNode[] };
    function findNode(node: PlanNode, match: (n: PlanNode) => boolean): PlanNode | undefined {
      if (match(node)) return node;
      for (const child of node.Plans ?? []) {
        const found = findNode(child, match);
        if (found !== undefined) return found;
      }
      return undefined;
    }

    function expectNoSeqScan(planJson: string) {
      for (const table of ["trips", "payments", "reviews"]) {
        expect(planJson, `sequential scan on ${table}`).not.toMatch(
          new RegExp(`"Node Type":"Seq Scan"[^}]*"Relation Name":"${table}"`),
        );
      }
    }

    it("serves GetStats from indexes", async () => {
      const json = await plan(DRIVER_STATS_LIVE_SQL, [17, null, null]);
      expectNoSeqScan(json);
      expect(json).toContain("trips_driver_completed_idx");
    });

    it("serves every ListTrips page from the keyset index, without OFFSET, on custom and generic plans", async () => {
      expect(LIST_TRIPS_SQL).not.toMatch(/OFFSET/i);
      const firstParams = listTripsPageParams({ driverId: 17n, window: {}, pageSize: 50 });
      const deepParams = listTripsPageParams({
        driverId: 17n,
        window: { startMicros: 1_700_000_000_000_000n },
        pageSize: 50,
        after: { completedAtMicros: 1_748_736_000_000_000n, id: 5000n },
      });
      const plans = [
        await plan(LIST_TRIPS_SQL, firstParams),
        await plan(LIST_TRIPS_SQL, deepParams),
        await genericPlan(LIST_TRIPS_SQL, firstParams),
        await genericPlan(LIST_TRIPS_SQL, deepParams),
      ];
      for (const json of plans) {
        expectNoSeqScan(json);
        // The LIMIT reads the index backward in keyset order: no sort of the
        // driver's trips, whatever the depth (the outer sort orders <= n+1 rows).
        const limit = findNode(JSON.parse(json)[0].Plan, (n) => n["Node Type"] === "Limit");
        expect(limit).toBeDefined();
        expect(findNode(limit!, (n) => n["Node Type"] === "Sort")).toBeUndefined();
        const scan = findNode(limit!, (n) => n["Relation Name"] === "trips");
        expect(scan).toMatchObject({ "Index Name": "trips_driver_completed_idx", "Scan Direction": "Backward" });
        // Every bound starts or stops the scan: none is a filter over rows
        // already read, which would make a deep page cost its depth.
        expect(scan!["Filter"]).toBeUndefined();
        expect(String(scan!["Index Cond"])).toMatch(/completed_at >=.*completed_at <.*ROW\(completed_at, id\) </s);
      }
    });

    it("serves rollup stats, all-time and windowed, and the earnings series from indexes", async () => {
      // driver_stats holds a row per driver (200 here): a planner may rightly
      // scan it whole at this size. What grows with history must be indexed.
      const allTime = await plan(DRIVER_STATS_ROLLUP_SQL, [17]);
      const allTimeGeneric = await genericPlan(DRIVER_STATS_ROLLUP_SQL, [17]);
      const windowed = await plan(DRIVER_STATS_ROLLUP_WINDOW_SQL, [17, "2025-03-01T10:00:00Z", "2025-06-01T10:00:00Z"]);
      expect(windowed).toContain("driver_daily_stats_pkey");
      expect(windowed).toContain("trips_driver_completed_idx");
      const series = await plan(EARNINGS_SERIES_SQL, [17, "2025-01-01", "2025-04-01", "1 day", "day"]);
      expect(series).toContain("driver_daily_stats_pkey");
      for (const json of [allTime, allTimeGeneric, windowed, series]) {
        expectNoSeqScan(json);
        expect(json).not.toMatch(/"Node Type":"Seq Scan"[^}]*"Relation Name":"driver_daily_stats"/);
      }
    });

    it("seeds deterministically: the same seed gives the same totals", async () => {
      const other = await createTestDatabase();
      try {
        await seedDataset(other.connectionString, { drivers: 200, tripsPerDriver: 200, reviewRatio: 0.8, seed: 7, historyEnd: SEED_END });
        const otherDb = openDatabase(other.connectionString);
        const checksum = `SELECT count(*) AS n, sum(p.fare_minor + p.tip_minor)::int8 AS money,
          sum(coalesce(r.rating, 0))::int8 AS ratings, max(t.completed_at) AS last
          FROM trips t JOIN payments p ON p.trip_id = t.id LEFT JOIN reviews r ON r.trip_id = t.id`;
        const [a] = await seededDb.query(checksum, []);
        const [b] = await otherDb.query(checksum, []);
        await otherDb.close();
        expect(a).toEqual(b);
        expect((a as { n: bigint }).n).toBe(40_000n);
      } finally {
        await other.drop();
      }
    });
  });
});
