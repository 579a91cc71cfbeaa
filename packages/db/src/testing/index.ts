// Test databases: each test file gets a database of its own, cloned from a
// migrated template, on the cluster that global-setup started (embedded
// PostgreSQL) or on TEST_DATABASE_URL's server.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { withConnection } from "../connection.js";
import { formatMicrosIso } from "../time.js";

export const ADMIN_URL_ENV = "DRIVER_ANALYTICS_TEST_ADMIN_URL";
export const TEMPLATE_DATABASE = "driver_analytics_test_template";

export interface TestDatabase {
  name: string;
  connectionString: string;
  /** Drops the database; connections still open are terminated. */
  drop(): Promise<void>;
}

/** testAdminUrl is the maintenance-database URL the global setup exported. */
export function testAdminUrl(): string {
  const url = process.env[ADMIN_URL_ENV];
  if (url === undefined || url === "") {
    throw new Error(`${ADMIN_URL_ENV} is not set: add @driver-analytics/db/testing/global-setup to vitest's globalSetup`);
  }
  return url;
}

/** createTestDatabase clones the migrated template into a fresh, empty database. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = testAdminUrl();
  const name = `test_${randomBytes(6).toString("hex")}`;
  await withAdmin(adminUrl, (client) =>
    client.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`),
  );
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    connectionString: url.toString(),
    drop: async () => {
      await withAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** withAdmin runs fn on a connection to the maintenance database. */
export const withAdmin = withConnection;

export interface FixtureDriver {
  id: bigint;
  currencyCode?: string;
  timeZone?: string;
}

export interface FixtureTrip {
  driverId: bigint;
  status?: "completed" | "cancelled";
  startedAtMicros?: bigint;
  completedAtMicros: bigint;
  distanceMeters?: bigint;
  fareMinor?: bigint;
  tipMinor?: bigint;
  /** Whether the trip has a payment row (default true). */
  paid?: boolean;
  review?: { rating: number; comment?: string };
}

/**
 * insertFixtures writes drivers and trips (with payments and reviews) in a few
 * set-based statements and returns the new trip ids in input order.
 */
export async function insertFixtures(
  connectionString: string,
  fixtures: { drivers?: FixtureDriver[]; trips?: FixtureTrip[] },
): Promise<bigint[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query("BEGIN");
    const drivers = fixtures.drivers ?? [];
    if (drivers.length > 0) {
      await client.query(
        `INSERT INTO drivers (id, name, currency_code, time_zone)
         SELECT id, 'Driver ' || id, cur, tz FROM unnest($1::int8[], $2::text[], $3::text[]) AS d(id, cur, tz)`,
        [drivers.map((d) => d.id), drivers.map((d) => d.currencyCode ?? "USD"), drivers.map((d) => d.timeZone ?? "UTC")],
      );
      await client.query(
        `SELECT setval(pg_get_serial_sequence('drivers', 'id'), (SELECT max(id) FROM drivers))`,
      );
    }
    const trips = fixtures.trips ?? [];
    if (trips.length === 0) {
      await client.query("COMMIT");
      return [];
    }
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO trips (driver_id, status, started_at, completed_at, distance_meters)
       SELECT driver_id, status, started_at, completed_at, distance
       FROM unnest($1::int8[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::int8[])
            WITH ORDINALITY AS t(driver_id, status, started_at, completed_at, distance, n)
       ORDER BY n
       RETURNING id`,
      [
        trips.map((t) => t.driverId),
        trips.map((t) => t.status ?? "completed"),
        trips.map((t) => formatMicrosIso(t.startedAtMicros ?? t.completedAtMicros - 600_000_000n)),
        trips.map((t) => formatMicrosIso(t.completedAtMicros)),
        trips.map((t) => t.distanceMeters ?? 1000n),
      ],
    );
    const ids = rows.map((r) => BigInt(r.id));
    const paid = trips.flatMap((t, i) => (t.paid === false ? [] : [{ t, id: ids[i]! }]));
    await client.query(
      `INSERT INTO payments (trip_id, fare_minor, tip_minor, currency_code)
       SELECT p.trip_id, p.fare, p.tip, d.currency_code
       FROM unnest($1::int8[], $2::int8[], $3::int8[]) AS p(trip_id, fare, tip)
       JOIN trips t ON t.id = p.trip_id JOIN drivers d ON d.id = t.driver_id`,
      [paid.map((p) => p.id), paid.map((p) => p.t.fareMinor ?? 1000n), paid.map((p) => p.t.tipMinor ?? 0n)],
    );
    const reviewed = trips.flatMap((t, i) => (t.review === undefined ? [] : [{ review: t.review, id: ids[i]! }]));
    await client.query(
      `INSERT INTO reviews (trip_id, rating, comment)
       SELECT * FROM unnest($1::int8[], $2::int2[], $3::text[])`,
      [reviewed.map((r) => r.id), reviewed.map((r) => r.review.rating), reviewed.map((r) => r.review.comment ?? "")],
    );
    await client.query("COMMIT");
    return ids;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}
