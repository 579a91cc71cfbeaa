// Rollups never drift from the truth: after random interleavings of concurrent
// trip, payment and review writes (and corrections) from several connections,
// every driver's rollup stats equal the live aggregate over the raw rows, all
// time and for random windows, to the minor unit.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "./database.js";
import { getDriverStatsLive } from "./driver-stats.js";
import { WriteRejectedError } from "./errors.js";
import { getEarningsSeries } from "./earnings-series.js";
import { getDriverStatsFromRollups } from "./rollup-stats.js";
import { createTestDatabase, insertFixtures, type TestDatabase } from "./testing/index.js";
import { createReview, createTrip } from "./trip-writes.js";

const HOUR = 3_600_000_000n;
// 2025-03-29 12:00 UTC: the window covers Europe's and Chatham's DST changes.
const T0 = 1_743_249_600_000_000n;
const ZONES = ["UTC", "Europe/Berlin", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns"];

type Op =
  | { kind: "trip"; driver: number; atHours: number; minutes: number; cancelled: boolean; fare: number; tip: number; km: number }
  | { kind: "review"; tripIndex: number; rating: number }
  | { kind: "tip-correction"; tripIndex: number; tip: number }
  | { kind: "review-deletion"; tripIndex: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
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
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("review" as const), tripIndex: fc.nat(), rating: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("tip-correction" as const), tripIndex: fc.nat(), tip: fc.integer({ min: 0, max: 5_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("review-deletion" as const), tripIndex: fc.nat() }) },
);

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

  it("equal the live aggregate after concurrent writes from several connections", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(opArb, { maxLength: 25 }), { minLength: 2, maxLength: 4 }),
        fc.array(windowArb, { minLength: 1, maxLength: 4 }),
        async (streams, windows) => {
          const driverIds = ZONES.map(() => nextDriverId++);
          await insertFixtures(testDb.connectionString, {
            drivers: driverIds.map((id, i) => ({ id, timeZone: ZONES[i]! })),
          });
          // Each stream is one writer, running its ops in order on the pool,
          // all streams at once.
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
                      // cancelled trips take no review; a second review is refused
                      if (!(error instanceof WriteRejectedError)) throw error;
                    });
                    break;
                  case "tip-correction":
                    if (trip !== undefined) await db.query("UPDATE payments SET tip_minor = $2 WHERE trip_id = $1", [trip, op.tip]);
                    break;
                  case "review-deletion":
                    if (trip !== undefined) await db.query("DELETE FROM reviews WHERE trip_id = $1", [trip]);
                    break;
                }
              }
            }),
          );
          await expectRollupsMatchLive(driverIds, windows);
        },
      ),
      { numRuns: Number(process.env.ROLLUP_RUNS ?? 12) },
    );
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
