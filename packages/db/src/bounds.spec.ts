// Migration 0004_bounds: one trip's amounts, distance and duration, and a
// driver's trip count are bounded in PostgreSQL, so no total can overflow
// int8; a write beyond them, or one that would overflow a total anyway, fails
// as a whole with OutOfRangeError and writes nothing.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database } from "./database.js";
import { InvalidTextError, OutOfRangeError } from "./errors.js";
import { createTestDatabase, insertFixtures, type TestDatabase } from "./testing/index.js";
import { createReview, createTrip, type NewTrip } from "./trip-writes.js";

const T0 = 1_750_000_000_000_000n;
const INT64_MAX = 2n ** 63n - 1n;

describe("bounds", () => {
  let testDb: TestDatabase;
  let db: Database;
  let admin: pg.Client;

  const trip = (overrides: Partial<NewTrip> = {}): NewTrip => ({
    requestId: randomUUID(),
    driverId: 1n,
    status: "completed",
    startedAtMicros: T0 - 600_000_000n,
    completedAtMicros: T0,
    distanceMeters: 5_000n,
    currencyCode: "EUR",
    fareMinor: 1_000n,
    tipMinor: 0n,
    ...overrides,
  });
  const counts = async () => {
    const { rows } = await admin.query<{ trips: string; payments: string; total: string | null }>(
      `SELECT (SELECT count(*) FROM trips) AS trips, (SELECT count(*) FROM payments) AS payments,
              (SELECT total_trips FROM driver_stats WHERE driver_id = 1) AS total`,
    );
    return rows[0];
  };
  const refusal = async (write: Promise<unknown>) => {
    const error = await write.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OutOfRangeError);
    return error as OutOfRangeError;
  };

  beforeAll(async () => {
    testDb = await createTestDatabase();
    await insertFixtures(testDb.connectionString, { drivers: [{ id: 1n, currencyCode: "EUR" }] });
    db = new Database({
      connectionString: testDb.connectionString,
      poolSize: 2,
      acquireTimeoutMs: 5_000,
      maxWaiting: 100,
      statementTimeoutMs: 10_000,
    });
    admin = new pg.Client({ connectionString: testDb.connectionString });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await db.close();
    await testDb.drop();
  });

  it("accepts a trip at every maximum", async () => {
    const { created } = await createTrip(
      db,
      trip({
        startedAtMicros: T0 - 86_400_000_000n,
        distanceMeters: 2_000_000n,
        fareMinor: 100_000_000n,
        tipMinor: 100_000_000n,
      }),
    );
    expect(created).toBe(true);
  });

  it("refuses each field beyond its maximum, naming the constraint, writing nothing", async () => {
    const before = await counts();
    const cases: [Partial<NewTrip>, string][] = [
      [{ fareMinor: 100_000_001n }, "payments_fare_bound"],
      [{ tipMinor: INT64_MAX }, "payments_tip_bound"],
      [{ distanceMeters: 2_000_001n }, "trips_distance_bound"],
      [{ startedAtMicros: T0 - 86_400_000_001n }, "trips_duration_bound"],
    ];
    for (const [overrides, constraint] of cases) {
      const error = await refusal(createTrip(db, trip(overrides)));
      expect(error).toMatchObject({ kind: "bound", constraint });
    }
    expect(await counts()).toEqual(before);
  });

  it("refuses a trip beyond 10^7 trips for the driver, and a write that would overflow a total, writing nothing", async () => {
    await admin.query("UPDATE driver_stats SET total_trips = 10000000 WHERE driver_id = 1");
    const before = await counts();
    expect(await refusal(createTrip(db, trip()))).toMatchObject({ kind: "bound", constraint: "driver_stats_trips_bound" });
    expect(await counts()).toEqual(before);

    // Totals that some other writer pushed to the edge: int8 overflow, still refused as a whole.
    await admin.query(`UPDATE driver_stats SET total_trips = 1, duration_micros = $1 WHERE driver_id = 1`, [
      (INT64_MAX - 10n).toString(),
    ]);
    const edge = await counts();
    expect(await refusal(createTrip(db, trip()))).toMatchObject({ kind: "overflow" });
    expect(await counts()).toEqual(edge);
  });

  it("refuses text PostgreSQL cannot store with InvalidTextError", async () => {
    await admin.query("UPDATE driver_stats SET total_trips = 1, duration_micros = 0 WHERE driver_id = 1");
    const { trip: stored } = await createTrip(db, trip());
    const error = await createReview(db, { tripId: stored.id, rating: 5, comment: "a\u0000b" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidTextError);
    const comment = "🚕".repeat(2_000);
    expect((await createReview(db, { tripId: stored.id, rating: 5, comment })).comment).toBe(comment);
  });
});
