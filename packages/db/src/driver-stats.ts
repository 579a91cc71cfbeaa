import type { Database, QueryOptions } from "./database.js";
import { formatMicrosIso } from "./time.js";
import type { TimeWindow } from "./window.js";

/** DriverStatsRecord: a driver's totals; money in minor units of currencyCode. */
export interface DriverStatsRecord {
  currencyCode: string;
  totalTrips: bigint;
  completedTrips: bigint;
  cancelledTrips: bigint;
  fareMinor: bigint;
  tipMinor: bigint;
  distanceMeters: bigint;
  durationMicros: bigint;
  ratedTrips: bigint;
  ratingSum: bigint;
}

/** DriverStatsRow: the columns every stats query returns, named alike. */
export interface DriverStatsRow {
  currency_code: string;
  total_trips: bigint;
  completed_trips: bigint;
  cancelled_trips: bigint;
  fare_minor: bigint;
  tip_minor: bigint;
  distance_meters: bigint;
  duration_micros: bigint;
  rated_trips: bigint;
  rating_sum: bigint;
}

// One aggregate in PostgreSQL: the driver row answers "does this driver exist",
// the lateral aggregate probes trips_driver_completed_idx, then the covering
// payment and review indexes. SUM and COUNT of ratings (not AVG) so every
// strategy derives the mean by the same exact division.
const DRIVER_STATS_SQL = `
SELECT d.currency_code, s.*
FROM drivers d
CROSS JOIN LATERAL (
  SELECT count(*)                                                    AS total_trips,
         count(*) FILTER (WHERE t.status = 'completed')              AS completed_trips,
         count(*) FILTER (WHERE t.status = 'cancelled')              AS cancelled_trips,
         coalesce(sum(p.fare_minor), 0)::int8                        AS fare_minor,
         coalesce(sum(p.tip_minor), 0)::int8                         AS tip_minor,
         coalesce(sum(t.distance_meters), 0)::int8                   AS distance_meters,
         coalesce(sum(extract(epoch FROM t.completed_at - t.started_at) * 1000000), 0)::int8
                                                                     AS duration_micros,
         count(r.rating)                                             AS rated_trips,
         coalesce(sum(r.rating), 0)::int8                            AS rating_sum
  FROM trips t
  LEFT JOIN payments p ON p.trip_id = t.id
  LEFT JOIN reviews r ON r.trip_id = t.id
  WHERE t.driver_id = d.id
    AND ($2::timestamptz IS NULL OR t.completed_at >= $2::timestamptz)
    AND ($3::timestamptz IS NULL OR t.completed_at < $3::timestamptz)
) s
WHERE d.id = $1`;

/**
 * getDriverStatsLive aggregates a driver's raw trips in PostgreSQL. Returns
 * undefined when the driver does not exist.
 */
export async function getDriverStatsLive(
  db: Database,
  driverId: bigint,
  window: TimeWindow,
  options?: QueryOptions,
): Promise<DriverStatsRecord | undefined> {
  const rows = await db.query<DriverStatsRow>(
    DRIVER_STATS_SQL,
    [driverId, optionalMicros(window.startMicros), optionalMicros(window.endMicros)],
    options,
  );
  const row = rows[0];
  return row === undefined ? undefined : toDriverStatsRecord(row);
}

/** DRIVER_STATS_LIVE_SQL is exported for plan tests. */
export { DRIVER_STATS_SQL as DRIVER_STATS_LIVE_SQL };

/** toDriverStatsRecord maps a stats row, whichever query produced it. */
export function toDriverStatsRecord(row: DriverStatsRow): DriverStatsRecord {
  return {
    currencyCode: row.currency_code,
    totalTrips: row.total_trips,
    completedTrips: row.completed_trips,
    cancelledTrips: row.cancelled_trips,
    fareMinor: row.fare_minor,
    tipMinor: row.tip_minor,
    distanceMeters: row.distance_meters,
    durationMicros: row.duration_micros,
    ratedTrips: row.rated_trips,
    ratingSum: row.rating_sum,
  };
}

/** optionalMicros turns an optional bound into a timestamptz parameter (or NULL). */
export function optionalMicros(micros: bigint | undefined): string | null {
  return micros === undefined ? null : formatMicrosIso(micros);
}
