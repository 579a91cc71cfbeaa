import { namedStatement, type Database, type QueryOptions } from "./database.js";
import { optionalMicros, toDriverStatsRecord, type DriverStatsRecord, type DriverStatsRow } from "./driver-stats.js";
import type { TimeWindow } from "./window.js";

// All-time stats: one primary-key read. A driver without trips has no rollup row.
const ALL_TIME_SQL = `
SELECT d.currency_code,
       coalesce(s.total_trips, 0) AS total_trips, coalesce(s.completed_trips, 0) AS completed_trips,
       coalesce(s.cancelled_trips, 0) AS cancelled_trips, coalesce(s.fare_minor, 0) AS fare_minor,
       coalesce(s.tip_minor, 0) AS tip_minor, coalesce(s.distance_meters, 0) AS distance_meters,
       coalesce(s.duration_micros, 0) AS duration_micros, coalesce(s.rated_trips, 0) AS rated_trips,
       coalesce(s.rating_sum, 0) AS rating_sum
FROM drivers d
LEFT JOIN driver_stats s ON s.driver_id = d.id
WHERE d.id = $1`;
const ALL_TIME = namedStatement("driver_stats_all_time", ALL_TIME_SQL);

// A window [start, end): the whole days inside it (in the driver's time zone)
// from driver_daily_stats, plus the raw trips of the partial days at its two
// edges. first_day is the first day starting at or after start; end_day the
// day holding end. Trips in [start, left_cut) and [right_cut, end) are read
// raw; when no whole day fits, left_cut = right_cut and the two edges meet.
// Cost: at most ~2 days of trips plus one row per day, whatever the history.
const WINDOW_SQL = `
WITH d AS (
  SELECT id, currency_code, time_zone FROM drivers WHERE id = $1
), days AS (
  SELECT d.*,
         CASE WHEN $2::timestamptz IS NULL THEN NULL
              WHEN (($2::timestamptz AT TIME ZONE d.time_zone)::date::timestamp AT TIME ZONE d.time_zone) < $2::timestamptz
                THEN ($2::timestamptz AT TIME ZONE d.time_zone)::date + 1
              ELSE ($2::timestamptz AT TIME ZONE d.time_zone)::date END AS first_day,
         ($3::timestamptz AT TIME ZONE d.time_zone)::date AS end_day
  FROM d
), left_cuts AS (
  SELECT days.*,
         CASE WHEN first_day IS NULL THEN NULL
              ELSE least(first_day::timestamp AT TIME ZONE time_zone, $3::timestamptz) END AS left_cut
  FROM days
), cuts AS (
  -- greatest() ignores NULL: with no start, right_cut is end_day's midnight.
  SELECT l.*, greatest(end_day::timestamp AT TIME ZONE time_zone, left_cut) AS right_cut
  FROM left_cuts l
), whole_days AS (
  SELECT coalesce(sum(s.total_trips), 0) AS total_trips, coalesce(sum(s.completed_trips), 0) AS completed_trips,
         coalesce(sum(s.cancelled_trips), 0) AS cancelled_trips, coalesce(sum(s.fare_minor), 0) AS fare_minor,
         coalesce(sum(s.tip_minor), 0) AS tip_minor, coalesce(sum(s.distance_meters), 0) AS distance_meters,
         coalesce(sum(s.duration_micros), 0) AS duration_micros, coalesce(sum(s.rated_trips), 0) AS rated_trips,
         coalesce(sum(s.rating_sum), 0) AS rating_sum
  FROM cuts c
  JOIN driver_daily_stats s ON s.driver_id = c.id
   AND (c.first_day IS NULL OR s.day >= c.first_day)
   AND (c.end_day IS NULL OR s.day < c.end_day)
), edge_trips AS (
  SELECT t.* FROM cuts c JOIN trips t ON t.driver_id = c.id
   AND $2::timestamptz IS NOT NULL AND t.completed_at >= $2::timestamptz AND t.completed_at < c.left_cut
  UNION ALL
  SELECT t.* FROM cuts c JOIN trips t ON t.driver_id = c.id
   AND $3::timestamptz IS NOT NULL AND t.completed_at >= c.right_cut AND t.completed_at < $3::timestamptz
), edges AS (
  SELECT count(*) AS total_trips,
         count(*) FILTER (WHERE t.status = 'completed') AS completed_trips,
         count(*) FILTER (WHERE t.status = 'cancelled') AS cancelled_trips,
         coalesce(sum(p.fare_minor), 0) AS fare_minor,
         coalesce(sum(p.tip_minor), 0) AS tip_minor,
         coalesce(sum(t.distance_meters), 0) AS distance_meters,
         coalesce(sum((extract(epoch FROM t.completed_at - t.started_at) * 1000000)::int8), 0) AS duration_micros,
         count(r.rating) AS rated_trips,
         coalesce(sum(r.rating), 0) AS rating_sum
  FROM edge_trips t
  LEFT JOIN payments p ON p.trip_id = t.id
  LEFT JOIN reviews r ON r.trip_id = t.id
)
SELECT d.currency_code,
       (w.total_trips + e.total_trips)::int8 AS total_trips,
       (w.completed_trips + e.completed_trips)::int8 AS completed_trips,
       (w.cancelled_trips + e.cancelled_trips)::int8 AS cancelled_trips,
       (w.fare_minor + e.fare_minor)::int8 AS fare_minor,
       (w.tip_minor + e.tip_minor)::int8 AS tip_minor,
       (w.distance_meters + e.distance_meters)::int8 AS distance_meters,
       (w.duration_micros + e.duration_micros)::int8 AS duration_micros,
       (w.rated_trips + e.rated_trips)::int8 AS rated_trips,
       (w.rating_sum + e.rating_sum)::int8 AS rating_sum
FROM d, whole_days w, edges e`;

export { ALL_TIME_SQL as DRIVER_STATS_ROLLUP_SQL, WINDOW_SQL as DRIVER_STATS_ROLLUP_WINDOW_SQL };

/**
 * getDriverStatsFromRollups answers GetStats from the rollups: the driver's
 * total row for all time, whole days plus the raw trips of the two partial
 * edge days for a window. Exactly what getDriverStatsLive would say.
 */
export async function getDriverStatsFromRollups(
  db: Database,
  driverId: bigint,
  window: TimeWindow,
  options?: QueryOptions,
): Promise<DriverStatsRecord | undefined> {
  const allTime = window.startMicros === undefined && window.endMicros === undefined;
  const rows = allTime
    ? await db.query<DriverStatsRow>(ALL_TIME, [driverId], options)
    : await db.query<DriverStatsRow>(
        WINDOW_SQL,
        [driverId, optionalMicros(window.startMicros), optionalMicros(window.endMicros)],
        options,
      );
  const row = rows[0];
  return row === undefined ? undefined : toDriverStatsRecord(row);
}
