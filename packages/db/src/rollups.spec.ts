// Rollups never drift from the truth: after random interleavings of concurrent
// trip, payment and review writes (and corrections) from several connections,
// every driver's rollup stats equal the live aggregate over the raw rows, all
// time and for random windows, to the minor unit.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "./database.js";
import { getDriverStatsLive } from "./driver-stats.js";
import { WriteRejectedError } from "./errors.js";
import { getEarningsSeries } from "./earnings-series.js";
import { getDriverStatsFromRollups } from "./rollup-stats.js";
import { createTestDatabase, insertFixtures, type TestDatabase } from "./testing/index.js";
import { formatMicrosIso } from "./time.js";
import { createReview, createTrip } from "./trip-writes.js";

const HOUR = 3_600_000_000n;
// 2025-03-29 12:00 UTC: the window covers Europe's and Chatham's DST changes.
const T0 = 1_743_249_600_000_000n;
const ZONES = ["UTC", "Europe/Berlin", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns"];

type Op =
  | { kind: "trip"; driver: number; atHours: number; minutes: number; cancelled: boolean; fare: number; tip: number; km: number }
  | { kind: "review"; tripIndex: number; rating: number }
  | { kind: "tip-correction"; tripIndex: number; tip: number; holdMs: number }
  | { kind: "review-deletion"; tripIndex: number; holdMs: number }
  | { kind: "trip-deletion"; tripIndex: number; holdMs: number }
  | { kind: "trip-move-driver"; tripIndex: number; driver: number; holdMs: number }
  | { kind: "trip-move-day"; tripIndex: number; hours: number; holdMs: number }
  | { kind: "time-zone-change"; driver: number; zone: number; holdMs: number }
  | { kind: "truncate"; table: "trips" | "payments" | "reviews" };

// Corrections may run in a transaction held open for a few milliseconds before
// COMMIT (a slow client): their locks then overlap other connections' writes.
const holdArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 15 }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 30,
    arbitrary: fc.record({
      kind: fc.constant("trip" as const),
      driver: fc.nat(ZONES.length - 1),
      atHours: fc.integer({ min: 0, max: 24 * 6 }),
      minutes: fc.integer({ min: 1, max: 90 }),
      cancelled: fc.boolean(),
      fare: fc.integer({ min: 0, max: 100_000 }),
      tip: fc.integer({ min: 0, max: 5_000 }),
      km: fc.integer({ min: 0, max: 80 }),
    }),
  },
  { weight: 15, arbitrary: fc.record({ kind: fc.constant("review" as const), tripIndex: fc.nat(), rating: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("tip-correction" as const), tripIndex: fc.nat(), tip: fc.integer({ min: 0, max: 5_000 }), holdMs: holdArb }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("review-deletion" as const), tripIndex: fc.nat(), holdMs: holdArb }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("trip-deletion" as const), tripIndex: fc.nat(), holdMs: holdArb }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant("trip-move-driver" as const), tripIndex: fc.nat(), driver: fc.nat(ZONES.length - 1), holdMs: holdArb }) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant("trip-move-day" as const),
      tripIndex: fc.nat(),
      hours: fc.integer({ min: -48, max: 48 }).filter((h) => h !== 0),
      holdMs: holdArb,
    }),
  },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant("time-zone-change" as const), driver: fc.nat(ZONES.length - 1), zone: fc.nat(ZONES.length - 1), holdMs: holdArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), table: fc.constantFrom("trips" as const, "payments" as const, "reviews" as const) }) },
);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A deadlock aborts one transaction whole (nothing of it stays, rollups
// included); the property still has to hold for what committed.
function isDeadlock(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === "40P01";
}

// The rollup rows as they should be: the aggregate of the raw rows, per
// driver and per day in the driver's current time zone.
const EXPECTED_DAILY_SQL = `
SELECT t.driver_id, (t.completed_at AT TIME ZONE d.time_zone)::date::text AS day,
       count(*)::int8 AS total_trips, (count(*) FILTER (WHERE t.status = 'completed'))::int8 AS completed_trips,
       (count(*) FILTER (WHERE t.status = 'cancelled'))::int8 AS cancelled_trips,
       coalesce(sum(p.fare_minor), 0)::int8 AS fare_minor, coalesce(sum(p.tip_minor), 0)::int8 AS tip_minor,
       sum(t.distance_meters)::int8 AS distance_meters,
       sum((extract(epoch FROM t.completed_at - t.started_at) * 1000000)::int8)::int8 AS duration_micros,
       count(r.rating)::int8 AS rated_trips, coalesce(sum(r.rating), 0)::int8 AS rating_sum
FROM trips t
JOIN drivers d ON d.id = t.driver_id
LEFT JOIN payments p ON p.trip_id = t.id
LEFT JOIN reviews r ON r.trip_id = t.id
WHERE t.driver_id = ANY ($1::int8[])
GROUP BY 1, 2
ORDER BY 1, 2`;

// Rows whose every figure is zero carry no information: not a drift.
const ROLLUP_DAILY_SQL = `
SELECT driver_id, day::text AS day, total_trips, completed_trips, cancelled_trips, fare_minor, tip_minor,
       distance_meters, duration_micros, rated_trips, rating_sum
FROM driver_daily_stats
WHERE driver_id = ANY ($1::int8[])
  AND (total_trips, completed_trips, cancelled_trips, fare_minor, tip_minor, distance_meters, duration_micros, rated_trips, rating_sum)
      <> (0, 0, 0, 0, 0, 0, 0, 0, 0)
ORDER BY 1, 2`;

describe("rollups", () => {
  let testDb: TestDatabase;
  let db: Database;
  let nextDriverId = 1n;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({
      connectionString: testDb.connectionString,
      poolSize: 6,
      acquireTimeoutMs: 10_000,
      maxWaiting: 1_000,
      statementTimeoutMs: 20_000,
    });
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  async function expectRollupsMatchLive(driverIds: bigint[], windows: Array<{ startMicros?: bigint; endMicros?: bigint }>) {
    // Every day row, not only the days some window happens to cover.
    const expected = await db.query(EXPECTED_DAILY_SQL, [driverIds]);
    const actual = await db.query(ROLLUP_DAILY_SQL, [driverIds]);
    expect(actual, "driver_daily_stats").toEqual(expected);
    for (const driverId of driverIds) {
      for (const window of [{}, ...windows]) {
        const live = await getDriverStatsLive(db, driverId, window);
        const rollup = await getDriverStatsFromRollups(db, driverId, window);
        expect(rollup, `driver ${driverId} window ${JSON.stringify(window, (_, v) => (typeof v === "bigint" ? String(v) : v))}`).toEqual(live);
      }
    }
  }

  const windowArb = fc.record(
    {
      startMicros: fc.bigInt({ min: T0 - 30n * HOUR, max: T0 + 24n * 7n * HOUR }),
      endMicros: fc.bigInt({ min: T0 - 30n * HOUR, max: T0 + 24n * 8n * HOUR }),
    },
    { requiredKeys: [] },
  ).filter((w) => w.startMicros === undefined || w.endMicros === undefined || w.endMicros > w.startMicros);

  // One correction, in autocommit or in a transaction held open holdMs.
  async function correct(holdMs: number, sql: string, values: unknown[]) {
    try {
      if (holdMs === 0) {
        await db.query(sql, values);
      } else {
        await db.transaction(async (tx) => {
          await tx.query(sql, values);
          await sleep(holdMs);
        });
      }
    } catch (error) {
      if (!isDeadlock(error)) throw error;
    }
  }

  it("equal the live aggregate after concurrent writes, corrections, moves and time-zone changes from several connections", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(opArb, { maxLength: 30 }), { minLength: 2, maxLength: 4 }),
        fc.array(windowArb, { minLength: 1, maxLength: 4 }),
        async (streams, windows) => {
          const driverIds = ZONES.map(() => nextDriverId++);
          await insertFixtures(testDb.connectionString, {
            drivers: driverIds.map((id, i) => ({ id, timeZone: ZONES[i]! })),
          });
          // Each stream is one writer, running its ops in order on the pool,
          // all streams at once. A stream knows the trips it created; another
          // stream may have moved or deleted them meanwhile.
          await Promise.all(
            streams.map(async (ops) => {
              const trips: bigint[] = [];
              for (const op of ops) {
                const trip = trips.length === 0 ? undefined : trips[("tripIndex" in op ? op.tripIndex : 0) % trips.length]!;
                switch (op.kind) {
                  case "trip": {
                    const completed = T0 + BigInt(op.atHours) * HOUR + BigInt(op.minutes) * 1_234_567n;
                    const { trip: created } = await createTrip(db, {
                      requestId: randomUUID(),
                      driverId: driverIds[op.driver]!,
                      status: op.cancelled ? "cancelled" : "completed",
                      startedAtMicros: completed - BigInt(op.minutes) * 60_000_000n,
                      completedAtMicros: completed,
                      distanceMeters: BigInt(op.km * 1000),
                      currencyCode: "USD",
                      fareMinor: BigInt(op.fare),
                      tipMinor: BigInt(op.tip),
                    });
                    trips.push(created.id);
                    break;
                  }
                  case "review":
                    if (trip === undefined) break;
                    await createReview(db, { tripId: trip, rating: op.rating, comment: "" }).catch((error) => {
                      // cancelled trips take no review; a second review is refused;
                      // the trip may have been deleted by another stream
                      if (!(error instanceof WriteRejectedError) && !isDeadlock(error)) throw error;
                    });
                    break;
                  case "tip-correction":
                    if (trip !== undefined) await correct(op.holdMs, "UPDATE payments SET tip_minor = $2 WHERE trip_id = $1", [trip, op.tip]);
                    break;
                  case "review-deletion":
                    if (trip !== undefined) await correct(op.holdMs, "DELETE FROM reviews WHERE trip_id = $1", [trip]);
                    break;
                  case "trip-deletion":
                    if (trip !== undefined) await correct(op.holdMs, "DELETE FROM trips WHERE id = $1", [trip]);
                    break;
                  case "trip-move-driver":
                    if (trip !== undefined) {
                      await correct(op.holdMs, "UPDATE trips SET driver_id = $2 WHERE id = $1", [trip, driverIds[op.driver]!]);
                    }
                    break;
                  case "trip-move-day":
                    if (trip !== undefined) {
                      await correct(
                        op.holdMs,
                        `UPDATE trips SET started_at = started_at + make_interval(hours => $2),
                                          completed_at = completed_at + make_interval(hours => $2)
                         WHERE id = $1`,
                        [trip, op.hours],
                      );
                    }
                    break;
                  case "time-zone-change":
                    await correct(op.holdMs, "UPDATE drivers SET time_zone = $2 WHERE id = $1", [driverIds[op.driver]!, ZONES[op.zone]!]);
                    break;
                  case "truncate":
                    // payments and reviews reference trips: TRUNCATE trips needs CASCADE.
                    await correct(0, op.table === "trips" ? "TRUNCATE trips CASCADE" : `TRUNCATE ${op.table}`, []);
                    break;
                }
              }
            }),
          );
          await expectRollupsMatchLive(driverIds, windows);
        },
      ),
      // Races do not shrink reliably: bound the search, report the smallest
      // failing case found by then.
      { numRuns: Number(process.env.ROLLUP_RUNS ?? 12), interruptAfterTimeLimit: 120_000 },
    );
  }, 180_000);

  // Deterministic interleavings: connection A runs a correction in an open
  // transaction; connection B's write then starts and must wait for A (on
  // some lock); A commits; B finishes. B's write must land where the rows say
  // after A, not where they said when B started.
  async function interleave(holder: { sql: string; values: unknown[] }, racer: { sql: string; values: unknown[] }) {
    const a = new pg.Client({ connectionString: testDb.connectionString });
    const b = new pg.Client({ connectionString: testDb.connectionString });
    await Promise.all([a.connect(), b.connect()]);
    try {
      const { rows } = await b.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      await a.query("BEGIN");
      await a.query(holder.sql, holder.values);
      const racing = b.query(racer.sql, racer.values);
      racing.catch(() => undefined);
      // B has started and is blocked on a lock that A holds.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const [state] = await db.query<{ wait_event_type: string | null }>(
          "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
          [rows[0]!.pid],
        );
        if (state?.wait_event_type === "Lock") break;
        if (Date.now() > deadline) throw new Error("the racing write never waited for the open transaction");
        await sleep(5);
      }
      await a.query("COMMIT");
      await racing;
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  }

  // Tokyo is UTC+9, Los Angeles UTC-7 in April: 20:00 UTC is on different days.
  const EVENING = 1_743_796_800_000_000n; // 2025-04-04 20:00 UTC
  const INSERT_TRIP_SQL = `
    WITH t AS (
      INSERT INTO trips (driver_id, status, started_at, completed_at, distance_meters)
      VALUES ($1, 'completed', $2::timestamptz - interval '20 minutes', $2::timestamptz, 4200)
      RETURNING id
    )
    INSERT INTO payments (trip_id, fare_minor, tip_minor, currency_code) SELECT id, 1500, 200, 'USD' FROM t`;

  async function twoDriversWithTrips() {
    const d1 = nextDriverId++;
    const d2 = nextDriverId++;
    const [trip] = await insertFixtures(testDb.connectionString, {
      drivers: [
        { id: d1, timeZone: "Asia/Tokyo" },
        { id: d2, timeZone: "America/Los_Angeles" },
      ],
      trips: [
        { driverId: d1, completedAtMicros: EVENING, fareMinor: 1000n, tipMinor: 100n },
        { driverId: d1, completedAtMicros: EVENING - 30n * HOUR, fareMinor: 700n },
        { driverId: d2, completedAtMicros: EVENING - 50n * HOUR, fareMinor: 900n },
      ],
    });
    return { d1, d2, trip: trip! };
  }

  it("put a trip inserted during a time-zone change on the day of the new zone", async () => {
    const { d1, d2 } = await twoDriversWithTrips();
    await interleave(
      { sql: "UPDATE drivers SET time_zone = 'America/Los_Angeles' WHERE id = $1", values: [d1] },
      { sql: INSERT_TRIP_SQL, values: [d1, formatMicrosIso(EVENING + HOUR)] },
    );
    await expectRollupsMatchLive([d1, d2], []);
  });

  it("count a review added during a move of its trip to another driver for the new driver", async () => {
    const { d1, d2, trip } = await twoDriversWithTrips();
    await interleave(
      { sql: "UPDATE trips SET driver_id = $2 WHERE id = $1", values: [trip, d2] },
      { sql: "INSERT INTO reviews (trip_id, rating) VALUES ($1, 4)", values: [trip] },
    );
    await expectRollupsMatchLive([d1, d2], []);
  });

  it("count a review added during a move of its trip to another day on the new day", async () => {
    const { d1, d2, trip } = await twoDriversWithTrips();
    await interleave(
      { sql: "UPDATE trips SET completed_at = completed_at + interval '2 days', started_at = started_at + interval '2 days' WHERE id = $1", values: [trip] },
      { sql: "INSERT INTO reviews (trip_id, rating) VALUES ($1, 2)", values: [trip] },
    );
    await expectRollupsMatchLive([d1, d2], []);
  });

  it("apply a tip correction made during a move of its trip to another driver to the new driver", async () => {
    const { d1, d2, trip } = await twoDriversWithTrips();
    await interleave(
      { sql: "UPDATE trips SET driver_id = $2 WHERE id = $1", values: [trip, d2] },
      { sql: "UPDATE payments SET tip_minor = 999 WHERE trip_id = $1", values: [trip] },
    );
    await expectRollupsMatchLive([d1, d2], []);
  });

  it("recompute the rollups when trips, payments or reviews are truncated", async () => {
    const { d1, d2 } = await twoDriversWithTrips();
    await db.query("INSERT INTO reviews (trip_id, rating) SELECT id, 5 FROM trips WHERE driver_id = ANY ($1::int8[])", [[d1, d2]]);
    await db.query("TRUNCATE reviews", []);
    await expectRollupsMatchLive([d1, d2], []);
    await db.query("TRUNCATE payments", []);
    await expectRollupsMatchLive([d1, d2], []);
    await db.query("TRUNCATE trips CASCADE", []);
    await expectRollupsMatchLive([d1, d2], []);
    const [left] = await db.query<{ n: bigint }>(
      "SELECT (SELECT count(*) FROM driver_stats) + (SELECT count(*) FROM driver_daily_stats) AS n",
      [],
    );
    expect(left!.n).toBe(0n);
    // TRUNCATE drivers cascades to everything, rollups included.
    await twoDriversWithTrips();
    await db.query("TRUNCATE drivers CASCADE", []);
    const [none] = await db.query<{ n: bigint }>("SELECT count(*) AS n FROM driver_stats", []);
    expect(none!.n).toBe(0n);
  });

  it("follow a driver who changes time zone, and a deleted trip", async () => {
    const driverId = nextDriverId++;
    await insertFixtures(testDb.connectionString, {
      drivers: [{ id: driverId, timeZone: "Asia/Tokyo" }],
      trips: Array.from({ length: 30 }, (_, i) => ({
        driverId,
        completedAtMicros: T0 + BigInt(i * 5) * HOUR,
        fareMinor: BigInt(1000 + i),
        review: { rating: (i % 5) + 1 },
      })),
    });
    const windows = [{ startMicros: T0 + 20n * HOUR, endMicros: T0 + 100n * HOUR }];
    await expectRollupsMatchLive([driverId], windows);
    await db.query("UPDATE drivers SET time_zone = 'America/Los_Angeles' WHERE id = $1", [driverId]);
    await expectRollupsMatchLive([driverId], windows);
    await db.query("DELETE FROM trips WHERE id = (SELECT min(id) FROM trips WHERE driver_id = $1)", [driverId]);
    await expectRollupsMatchLive([driverId], windows);
  });
});

describe("trip writes", () => {
  let testDb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ connectionString: testDb.connectionString, poolSize: 4, acquireTimeoutMs: 5_000, maxWaiting: 100, statementTimeoutMs: 10_000 });
    await insertFixtures(testDb.connectionString, { drivers: [{ id: 1n, currencyCode: "EUR" }] });
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  const trip = (requestId: string) => ({
    requestId,
    driverId: 1n,
    status: "completed" as const,
    startedAtMicros: T0,
    completedAtMicros: T0 + HOUR + 7n,
    distanceMeters: 12_345n,
    currencyCode: "EUR",
    fareMinor: 2_500n,
    tipMinor: 300n,
  });

  it("records a trip once per request id, even for concurrent retries", async () => {
    const requestId = randomUUID();
    const results = await Promise.all(Array.from({ length: 8 }, () => createTrip(db, trip(requestId))));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.trip.id)).size).toBe(1);
    const [row] = await db.query<{ n: bigint }>("SELECT count(*) AS n FROM trips WHERE request_id = $1", [requestId]);
    expect(row!.n).toBe(1n);
  });

  it("refuses a reused request id with other content, and unknown drivers or currencies, writing nothing", async () => {
    const requestId = randomUUID();
    await createTrip(db, trip(requestId));
    const before = await getDriverStatsLive(db, 1n, {});
    await expect(createTrip(db, { ...trip(requestId), fareMinor: 1n })).rejects.toMatchObject({ reason: "request-id-reused" });
    await expect(createTrip(db, { ...trip(randomUUID()), driverId: 99n })).rejects.toMatchObject({ reason: "unknown-driver" });
    await expect(createTrip(db, { ...trip(randomUUID()), currencyCode: "USD" })).rejects.toMatchObject({ reason: "currency-mismatch" });
    expect(await getDriverStatsLive(db, 1n, {})).toEqual(before);
    expect(await getDriverStatsFromRollups(db, 1n, {})).toEqual(before);
  });

  it("adds one review per completed trip, idempotently", async () => {
    const { trip: created } = await createTrip(db, trip(randomUUID()));
    const first = await createReview(db, { tripId: created.id, rating: 4, comment: "smooth" });
    expect(first.created).toBe(true);
    const again = await createReview(db, { tripId: created.id, rating: 4, comment: "smooth" });
    expect(again).toEqual({ ...first, created: false });
    await expect(createReview(db, { tripId: created.id, rating: 1, comment: "smooth" })).rejects.toMatchObject({ reason: "review-exists" });
    await expect(createReview(db, { tripId: 999_999n, rating: 1, comment: "" })).rejects.toMatchObject({ reason: "unknown-trip" });
    const { trip: cancelled } = await createTrip(db, { ...trip(randomUUID()), status: "cancelled" });
    await expect(createReview(db, { tripId: cancelled.id, rating: 5, comment: "" })).rejects.toMatchObject({ reason: "trip-not-completed" });
  });
});

describe("earnings series", () => {
  let testDb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = new Database({ connectionString: testDb.connectionString, poolSize: 2, acquireTimeoutMs: 5_000, maxWaiting: 100, statementTimeoutMs: 10_000 });
    // 2025-03-03 is a Monday. Tokyo is UTC+9: 20:00 UTC is the next local day.
    const at = (iso: string) => BigInt(Date.parse(iso)) * 1000n;
    await insertFixtures(testDb.connectionString, {
      drivers: [{ id: 1n, timeZone: "Asia/Tokyo" }],
      trips: [
        { driverId: 1n, completedAtMicros: at("2025-03-03T01:00:00Z"), fareMinor: 100n, tipMinor: 10n },
        { driverId: 1n, completedAtMicros: at("2025-03-03T20:00:00Z"), fareMinor: 200n }, // Tokyo: 03-04
        { driverId: 1n, completedAtMicros: at("2025-03-10T03:00:00Z"), fareMinor: 400n, status: "cancelled" },
        { driverId: 1n, completedAtMicros: at("2025-02-28T03:00:00Z"), fareMinor: 800n },
      ],
    });
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  it("buckets by the driver's own days, zero-filled", async () => {
    const series = await getEarningsSeries(db, { driverId: 1n, startDay: "2025-03-02", endDay: "2025-03-05", granularity: "day" });
    expect(series?.timeZone).toBe("Asia/Tokyo");
    expect(series?.buckets.map((b) => [b.startDay, b.totalTrips, b.fareMinor + b.tipMinor])).toEqual([
      ["2025-03-02", 0n, 0n],
      ["2025-03-03", 1n, 110n],
      ["2025-03-04", 1n, 200n],
    ]);
  });

  it("buckets by ISO week, counting only days inside the range", async () => {
    const series = await getEarningsSeries(db, { driverId: 1n, startDay: "2025-03-01", endDay: "2025-03-11", granularity: "week" });
    expect(series?.buckets.map((b) => [b.startDay, b.totalTrips, b.cancelledTrips, b.fareMinor])).toEqual([
      ["2025-02-24", 0n, 0n, 0n], // the 02-28 trip is before start_day
      ["2025-03-03", 2n, 0n, 300n],
      ["2025-03-10", 1n, 1n, 400n],
    ]);
  });

  it("is undefined for an unknown driver", async () => {
    expect(await getEarningsSeries(db, { driverId: 9n, startDay: "2025-03-01", endDay: "2025-03-02", granularity: "day" })).toBeUndefined();
  });
});
