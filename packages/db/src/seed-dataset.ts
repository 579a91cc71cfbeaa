import pg from "pg";

export interface SeedOptions {
  drivers: number;
  tripsPerDriver: number;
  /** Share of completed trips that carry a review, 0..1. */
  reviewRatio: number;
  /** Share of trips that were cancelled (they carry a fee, no review), 0..1. */
  cancelledRatio?: number;
  /** Same seed (and same historyEnd), same rows. */
  seed: number;
  /**
   * The instant the generated history ends (the newest trip completes within a
   * second before it): an ISO 8601 timestamp or a Date. Default: now, so demo
   * data is current; pin it for a reproducible dataset.
   */
  historyEnd?: string | Date;
  /** Days of history before historyEnd the trips spread over (default 730). */
  historyDays?: number;
  /** Trips are generated in statements of this many rows, for progress reports. */
  chunkSize?: number;
  onProgress?: (progress: SeedProgress) => void;
}

export interface SeedProgress {
  /**
   * The phase starting now. On an empty database: drivers, trips (once per
   * chunk), analyze, rollups, indexes, vacuum, done; appending, indexes stay
   * and rollups come after the trips.
   */
  phase: "drivers" | "trips" | "indexes" | "rollups" | "analyze" | "vacuum" | "done";
  tripsWritten: number;
  tripsTotal: number;
}

export interface SeedResult {
  firstDriverId: bigint;
  lastDriverId: bigint;
  trips: number;
}

// By default the generated history spans the two years up to now.
const DEFAULT_HISTORY_DAYS = 730;

/** resolveHistoryEnd checks historyEnd and returns it as an ISO timestamp (now when absent). */
export function resolveHistoryEnd(historyEnd: string | Date | undefined, now: () => Date = () => new Date()): string {
  const end = historyEnd === undefined ? now() : historyEnd instanceof Date ? historyEnd : new Date(historyEnd);
  if (Number.isNaN(end.getTime())) throw new Error(`historyEnd is not a timestamp: ${String(historyEnd)}`);
  return end.toISOString();
}

const TIME_ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "America/Sao_Paulo"];

/**
 * seedDataset appends drivers, each with tripsPerDriver trips, every trip with a
 * payment and reviewRatio of them with a review, set-based in PostgreSQL.
 * A driver's trips are interleaved with everyone else's in time and on disk, as
 * live traffic writes them. Values come from hashes of (seed, row), so the
 * same seed on an empty database yields the same rows.
 *
 * On an empty trips table the secondary indexes and foreign keys (of the trip
 * tables and of the daily rollups) are dropped for the load and rebuilt after
 * it, inside the same transaction: a failure leaves the schema as it was. The
 * rollups are built in between, after an ANALYZE, so their one aggregate runs
 * as hash joins over fresh statistics rather than as a million index probes
 * planned for an empty table, and without a foreign-key check per daily row.
 */
export async function seedDataset(connectionString: string, options: SeedOptions): Promise<SeedResult> {
  const { drivers, tripsPerDriver, reviewRatio, seed } = options;
  const chunkSize = options.chunkSize ?? 100_000;
  const report = options.onProgress ?? (() => undefined);
  const tripsTotal = drivers * tripsPerDriver;
  const historyEnd = resolveHistoryEnd(options.historyEnd);
  const historyDays = options.historyDays ?? DEFAULT_HISTORY_DAYS;
  if (!(historyDays > 0)) throw new Error(`historyDays must be positive, got ${historyDays}`);
  const client = new pg.Client({ connectionString, application_name: "driver-analytics-seed" });
  await client.connect();
  try {
    await client.query("SET TimeZone = 'UTC'");
    await client.query("BEGIN");
    // The rollup aggregate (~1,000 drivers x 730 days) sorts/hashes in memory
    // instead of spilling to disk; index builds and FK validation likewise.
    await client.query("SET LOCAL work_mem = '256MB'");
    await client.query("SET LOCAL maintenance_work_mem = '512MB'");
    // Serialize concurrent seeders; ids are computed from the current maxima.
    await client.query("LOCK TABLE drivers, trips, payments, reviews IN EXCLUSIVE MODE");
    const { rows } = await client.query<{ max_driver: string; max_trip: string; empty: boolean }>(
      `SELECT coalesce((SELECT max(id) FROM drivers), 0) AS max_driver,
              coalesce((SELECT max(id) FROM trips), 0)   AS max_trip,
              NOT EXISTS (SELECT 1 FROM trips)           AS empty`,
    );
    const driverOffset = BigInt(rows[0]!.max_driver);
    const tripOffset = BigInt(rows[0]!.max_trip);
    const bulk = rows[0]!.empty;

    report({ phase: "drivers", tripsWritten: 0, tripsTotal });
    await client.query(
      `INSERT INTO drivers (id, name, currency_code, time_zone)
       SELECT $1::int8 + g, 'Driver ' || ($1::int8 + g), 'USD',
              ($3::text[])[1 + ($1::int8 + g) % cardinality($3::text[])]
       FROM generate_series(1, $2::int8) AS g`,
      [driverOffset, drivers, TIME_ZONES],
    );

    const deferred = bulk ? await dropSecondaryStructures(client) : [];
    // Rollups of the new drivers are built once, set-based, after the load:
    // the per-statement rollup triggers would cost 5x the load itself.
    // Internal constraint triggers (foreign keys) stay on.
    for (const table of ["trips", "payments", "reviews"]) {
      await client.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
    }
    const stepMicros = Math.max(1, Math.floor((historyDays * 86_400e6) / Math.max(1, tripsTotal)));
    report({ phase: "trips", tripsWritten: 0, tripsTotal });
    for (let from = 1; from <= tripsTotal; from += chunkSize) {
      const to = Math.min(tripsTotal, from + chunkSize - 1);
      await insertTripChunk(client, {
        from,
        to,
        drivers,
        driverOffset,
        tripOffset,
        tripsTotal,
        stepMicros,
        reviewPermille: Math.round(reviewRatio * 1000),
        cancelledPermille: Math.round((options.cancelledRatio ?? 0) * 1000),
        seed,
        historyEnd,
      });
      report({ phase: "trips", tripsWritten: to, tripsTotal });
    }

    const rebuildRollups = async (): Promise<void> => {
      report({ phase: "rollups", tripsWritten: tripsTotal, tripsTotal });
      // A sorted (not hashed) aggregate writes the daily rows in primary-key
      // order: appending to the index instead of inserting at random into it
      // (measured: 5.2 s instead of 8-9 s CPU for the reference dataset's 730,000 rows).
      await client.query("SET LOCAL enable_hashagg = off");
      // Only new drivers received trips, so rebuilding them is the whole change.
      await client.query(
        "SELECT rebuild_driver_rollups(array(SELECT generate_series($1::int8 + 1, $1::int8 + $2::int8)))",
        [driverOffset, drivers],
      );
      await client.query("SET LOCAL enable_hashagg = on");
    };
    if (bulk) {
      // Statistics for a million rows, not an empty table, before the rollups are planned.
      report({ phase: "analyze", tripsWritten: tripsTotal, tripsTotal });
      await client.query("ANALYZE drivers, trips, payments, reviews");
      await rebuildRollups();
    }
    report({ phase: "indexes", tripsWritten: tripsTotal, tripsTotal });
    for (const statement of deferred) await client.query(statement);
    for (const table of ["trips", "payments", "reviews"]) {
      await client.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
    }
    if (!bulk) await rebuildRollups();
    await client.query(`SELECT setval(pg_get_serial_sequence('drivers', 'id'), (SELECT max(id) FROM drivers))`);
    await client.query(
      `SELECT setval(pg_get_serial_sequence('trips', 'id'), greatest((SELECT max(id) FROM trips), 1))`,
    );
    await client.query("COMMIT");

    // VACUUM sets the visibility map, so the stats aggregate can scan index-only.
    report({ phase: "vacuum", tripsWritten: tripsTotal, tripsTotal });
    await client.query("VACUUM (ANALYZE) drivers, trips, payments, reviews, driver_stats, driver_daily_stats");
    report({ phase: "done", tripsWritten: tripsTotal, tripsTotal });
    return {
      firstDriverId: driverOffset + 1n,
      lastDriverId: driverOffset + BigInt(drivers),
      trips: tripsTotal,
    };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

interface TripChunk {
  from: number;
  to: number;
  drivers: number;
  driverOffset: bigint;
  tripOffset: bigint;
  tripsTotal: number;
  stepMicros: number;
  reviewPermille: number;
  cancelledPermille: number;
  seed: number;
  historyEnd: string;
}

// h(k) is a deterministic pseudo-random non-negative bigint per (row, field k).
// One statement per chunk: the trip's values are computed once and the trip,
// its payment and its review are inserted from them (data-modifying CTEs), so
// no payment or review looks its trip up again by id. Foreign keys, when they
// are on (appending), are checked at the end of the statement.
async function insertTripChunk(client: pg.Client, c: TripChunk): Promise<void> {
  const params = [
    c.from,
    c.to,
    c.drivers,
    c.driverOffset,
    c.tripOffset,
    c.tripsTotal,
    c.stepMicros,
    c.seed,
    c.historyEnd,
    c.cancelledPermille,
    c.reviewPermille,
  ];
  await client.query(
    `WITH t AS MATERIALIZED (
       SELECT g, $5::int8 + g AS id,
              abs(hashint8extended(g * 8 + 1, $8::int8)) % 1000 < $10::int8 AS cancelled,
              $9::timestamptz - ($6::int8 - g) * $7::int8 * interval '1 microsecond'
                - (abs(hashint8extended(g * 8 + 7, $8::int8)) % 1000) * interval '1 millisecond' AS done
       FROM generate_series($1::int8, $2::int8) AS g
     ), trips_in AS (
       INSERT INTO trips (id, driver_id, status, started_at, completed_at, distance_meters)
       SELECT id,
              $4::int8 + 1 + (g - 1) % $3::int8,
              CASE WHEN cancelled THEN 'cancelled' ELSE 'completed' END,
              done - make_interval(secs => 180 + abs(hashint8extended(g * 8 + 2, $8::int8)) % 2700),
              done,
              CASE WHEN cancelled THEN 0 ELSE 400 + abs(hashint8extended(g * 8 + 3, $8::int8)) % 30000 END
       FROM t
     ), payments_in AS (
       INSERT INTO payments (trip_id, fare_minor, tip_minor, currency_code, created_at)
       SELECT id,
              CASE WHEN cancelled THEN 500 ELSE 600 + abs(hashint8extended(g * 8 + 4, $8::int8)) % 6000 END,
              CASE WHEN cancelled OR abs(hashint8extended(g * 8 + 5, $8::int8)) % 10 < 6 THEN 0
                   ELSE 50 + abs(hashint8extended(g * 8 + 5, $8::int8)) % 1500 END,
              'USD',
              done
       FROM t
     )
     INSERT INTO reviews (trip_id, rating, comment, created_at)
     SELECT id,
            (ARRAY[1, 2, 3, 4, 4, 5, 5, 5, 5, 5])[1 + abs(hashint8extended(g * 8 + 6, $8::int8)) % 10],
            '',
            done + interval '10 minutes'
     FROM t
     WHERE NOT cancelled AND abs(hashint8extended(g * 8 + 0, $8::int8)) % 1000 < $11::int8`,
    params,
  );
}

/**
 * dropSecondaryStructures drops the indexes that back no constraint and the
 * foreign keys of the trip tables and returns the statements that recreate them, as
 * PostgreSQL itself prints their definitions.
 */
async function dropSecondaryStructures(client: pg.Client): Promise<string[]> {
  const { rows: fks } = await client.query<{ table_name: string; name: string; def: string }>(
    `SELECT conrelid::regclass::text AS table_name, conname AS name, pg_get_constraintdef(oid) AS def
     FROM pg_constraint
     WHERE contype = 'f'
       AND conrelid IN ('trips'::regclass, 'payments'::regclass, 'reviews'::regclass, 'driver_daily_stats'::regclass)`,
  );
  const { rows: indexes } = await client.query<{ name: string; def: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
     FROM pg_index i
     WHERE i.indrelid IN ('trips'::regclass, 'payments'::regclass, 'reviews'::regclass, 'driver_daily_stats'::regclass)
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
  );
  for (const fk of fks) {
    await client.query(`ALTER TABLE ${fk.table_name} DROP CONSTRAINT ${pg.escapeIdentifier(fk.name)}`);
  }
  for (const index of indexes) await client.query(`DROP INDEX ${index.name}`);
  return [
    ...indexes.map((index) => index.def),
    ...fks.map((fk) => `ALTER TABLE ${fk.table_name} ADD CONSTRAINT ${pg.escapeIdentifier(fk.name)} ${fk.def}`),
  ];
}
