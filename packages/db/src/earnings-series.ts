import type { Database, QueryOptions } from "./database.js";

export type SeriesGranularity = "day" | "week";

export interface EarningsSeriesParams {
  driverId: bigint;
  /** "YYYY-MM-DD" in the driver's time zone, inclusive. */
  startDay: string;
  /** "YYYY-MM-DD", exclusive. */
  endDay: string;
  granularity: SeriesGranularity;
}

export interface EarningsBucketRecord {
  /** First day of the bucket, "YYYY-MM-DD" (a Monday for weeks). */
  startDay: string;
  totalTrips: bigint;
  completedTrips: bigint;
  cancelledTrips: bigint;
  fareMinor: bigint;
  tipMinor: bigint;
  distanceMeters: bigint;
}

export interface EarningsSeries {
  currencyCode: string;
  timeZone: string;
  buckets: EarningsBucketRecord[];
}

interface SeriesRow {
  currency_code: string;
  time_zone: string;
  start_day: string;
  total_trips: bigint;
  completed_trips: bigint;
  cancelled_trips: bigint;
  fare_minor: bigint;
  tip_minor: bigint;
  distance_meters: bigint;
}

// Zero-filled buckets from the daily rollups (a range scan of their primary
// key); a week bucket counts only the days of [start_day, end_day) it holds.
const EARNINGS_SERIES_SQL = `
WITH d AS (
  SELECT id, currency_code, time_zone FROM drivers WHERE id = $1
), buckets AS (
  SELECT b::date AS start_day, least((b + $4::interval)::date, $3::date) AS end_day
  FROM generate_series(date_trunc($5, $2::date::timestamp), $3::date - 1, $4::interval) AS b
)
SELECT d.currency_code, d.time_zone, b.start_day::text AS start_day,
       coalesce(sum(s.total_trips), 0)::int8     AS total_trips,
       coalesce(sum(s.completed_trips), 0)::int8 AS completed_trips,
       coalesce(sum(s.cancelled_trips), 0)::int8 AS cancelled_trips,
       coalesce(sum(s.fare_minor), 0)::int8      AS fare_minor,
       coalesce(sum(s.tip_minor), 0)::int8       AS tip_minor,
       coalesce(sum(s.distance_meters), 0)::int8 AS distance_meters
FROM d
CROSS JOIN buckets b
LEFT JOIN driver_daily_stats s
  ON s.driver_id = d.id AND s.day >= greatest(b.start_day, $2::date) AND s.day < b.end_day
GROUP BY d.currency_code, d.time_zone, b.start_day
ORDER BY b.start_day`;

export { EARNINGS_SERIES_SQL };

/** getEarningsSeries returns per-day or per-week totals, or undefined for an unknown driver. */
export async function getEarningsSeries(
  db: Database,
  params: EarningsSeriesParams,
  options?: QueryOptions,
): Promise<EarningsSeries | undefined> {
  const step = params.granularity === "day" ? "1 day" : "1 week";
  const rows = await db.query<SeriesRow>(
    EARNINGS_SERIES_SQL,
    [params.driverId, params.startDay, params.endDay, step, params.granularity],
    options,
  );
  const first = rows[0];
  if (first === undefined) return undefined;
  return {
    currencyCode: first.currency_code,
    timeZone: first.time_zone,
    buckets: rows.map((row) => ({
      startDay: row.start_day,
      totalTrips: row.total_trips,
      completedTrips: row.completed_trips,
      cancelledTrips: row.cancelled_trips,
      fareMinor: row.fare_minor,
      tipMinor: row.tip_minor,
      distanceMeters: row.distance_meters,
    })),
  };
}
