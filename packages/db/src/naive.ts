// The first version's design, kept as a baseline for benchmarks only: GetStats
// pulls every trip of the driver into Node and sums there; ListTrips pages with
// OFFSET, so page N reads and discards N-1 pages. Same answers, worse costs.
import type { Database, QueryOptions } from "./database.js";
import { optionalMicros, type DriverStatsRecord } from "./driver-stats.js";
import { toTripsPage, type TripRow, type TripsPage } from "./trips-page.js";
import type { TimeWindow } from "./window.js";

const ALL_TRIPS_SQL = `
SELECT d.currency_code AS driver_currency,
       t.id, t.status, t.started_at, t.completed_at, t.distance_meters,
       p.fare_minor, p.tip_minor,
       r.rating, r.comment, r.created_at AS review_created_at
FROM drivers d
LEFT JOIN trips t ON t.driver_id = d.id
  AND ($2::timestamptz IS NULL OR t.completed_at >= $2::timestamptz)
  AND ($3::timestamptz IS NULL OR t.completed_at < $3::timestamptz)
LEFT JOIN payments p ON p.trip_id = t.id
LEFT JOIN reviews r ON r.trip_id = t.id
WHERE d.id = $1`;

/** getDriverStatsNaive fetches all of a driver's trips and aggregates them in Node. */
export async function getDriverStatsNaive(
  db: Database,
  driverId: bigint,
  window: TimeWindow,
  options?: QueryOptions,
): Promise<DriverStatsRecord | undefined> {
  const rows = await db.query<TripRow>(
    ALL_TRIPS_SQL,
    [driverId, optionalMicros(window.startMicros), optionalMicros(window.endMicros)],
    options,
  );
  const first = rows[0];
  if (first === undefined) return undefined;
  const stats: DriverStatsRecord = {
    currencyCode: first.driver_currency,
    totalTrips: 0n,
    completedTrips: 0n,
    cancelledTrips: 0n,
    fareMinor: 0n,
    tipMinor: 0n,
    distanceMeters: 0n,
    durationMicros: 0n,
    ratedTrips: 0n,
    ratingSum: 0n,
  };
  for (const row of rows) {
    if (row.id === null) continue; // the driver's row when it has no trips
    stats.totalTrips++;
    if (row.status === "completed") stats.completedTrips++;
    else stats.cancelledTrips++;
    stats.fareMinor += row.fare_minor ?? 0n;
    stats.tipMinor += row.tip_minor ?? 0n;
    stats.distanceMeters += row.distance_meters;
    stats.durationMicros += row.completed_at - row.started_at;
    if (row.rating !== null) {
      stats.ratedTrips++;
      stats.ratingSum += BigInt(row.rating);
    }
  }
  return stats;
}

const OFFSET_PAGE_SQL = `
SELECT d.currency_code AS driver_currency,
       t.id, t.status, t.started_at, t.completed_at, t.distance_meters,
       p.fare_minor, p.tip_minor,
       r.rating, r.comment, r.created_at AS review_created_at
FROM drivers d
LEFT JOIN LATERAL (
  SELECT t.id, t.status, t.started_at, t.completed_at, t.distance_meters
  FROM trips t
  WHERE t.driver_id = d.id
    AND ($2::timestamptz IS NULL OR t.completed_at >= $2::timestamptz)
    AND ($3::timestamptz IS NULL OR t.completed_at < $3::timestamptz)
  ORDER BY t.completed_at DESC, t.id DESC
  LIMIT $4 OFFSET $5
) t ON true
LEFT JOIN payments p ON p.trip_id = t.id
LEFT JOIN reviews r ON r.trip_id = t.id
WHERE d.id = $1
ORDER BY t.completed_at DESC, t.id DESC`;

/** listTripsPageOffset pages with LIMIT/OFFSET from the number of trips already returned. */
export async function listTripsPageOffset(
  db: Database,
  params: { driverId: bigint; window: TimeWindow; pageSize: number; offset: number },
  options?: QueryOptions,
): Promise<TripsPage | undefined> {
  const rows = await db.query<TripRow>(
    OFFSET_PAGE_SQL,
    [
      params.driverId,
      optionalMicros(params.window.startMicros),
      optionalMicros(params.window.endMicros),
      params.pageSize + 1,
      params.offset,
    ],
    options,
  );
  return toTripsPage(params.driverId, rows, params.pageSize);
}
