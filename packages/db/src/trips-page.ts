import { namedStatement, type Database, type QueryOptions } from "./database.js";
import { formatMicrosIso } from "./time.js";
import type { TimeWindow } from "./window.js";

export type TripStatus = "completed" | "cancelled";

/** TripRecord: one trip with its payment and, when the rider left one, review. */
export interface TripRecord {
  id: bigint;
  driverId: bigint;
  status: TripStatus;
  startedAtMicros: bigint;
  completedAtMicros: bigint;
  distanceMeters: bigint;
  currencyCode: string;
  payment: { fareMinor: bigint; tipMinor: bigint } | undefined;
  review: { rating: number; comment: string; createdAtMicros: bigint } | undefined;
}

/** TripCursor: the last trip of the previous page, in (completed_at, id) order. */
export interface TripCursor {
  completedAtMicros: bigint;
  id: bigint;
}

export interface ListTripsPageParams {
  driverId: bigint;
  window: TimeWindow;
  pageSize: number;
  /** Resume strictly after this trip (newest-first order). */
  after?: TripCursor | undefined;
}

export interface TripsPage {
  trips: TripRecord[];
  /** Whether trips remain after the last one returned. */
  hasMore: boolean;
}

interface TripRow {
  driver_currency: string;
  id: bigint | null;
  status: TripStatus;
  started_at: bigint;
  completed_at: bigint;
  distance_meters: bigint;
  fare_minor: bigint | null;
  tip_minor: bigint | null;
  rating: number | null;
  comment: string | null;
  review_created_at: bigint | null;
}

// Timestamps leave as int8 microseconds, computed by PostgreSQL (exactly:
// extract(epoch) is numeric since PostgreSQL 14), instead of timestamptz text
// that every row's three timestamps would have to be parsed from in JS: a
// page of 50 trips carried 150 of them, the largest share of its row parsing.
// Keyset pagination: a backward scan of trips_driver_completed_idx from the
// cursor, LIMIT page_size + 1 to learn whether a next page exists; cost is the
// same at any depth. The outer driver row tells "no such driver" from "no trips"
// in the same round trip.
// Every bound is always given (an open end is -infinity/infinity, the first
// page starts after (infinity, max int8); no trip is infinite, as
// trips_duration_bound cannot subtract infinite timestamps): a named
// statement may run on a generic plan, which must still put each bound in the
// index condition.
const LIST_TRIPS_SQL = `
SELECT d.currency_code AS driver_currency,
       t.id, t.status,
       (extract(epoch FROM t.started_at) * 1000000)::int8 AS started_at,
       (extract(epoch FROM t.completed_at) * 1000000)::int8 AS completed_at,
       t.distance_meters,
       p.fare_minor, p.tip_minor,
       r.rating, r.comment,
       (extract(epoch FROM r.created_at) * 1000000)::int8 AS review_created_at
FROM drivers d
LEFT JOIN LATERAL (
  SELECT t.id, t.status, t.started_at, t.completed_at, t.distance_meters
  FROM trips t
  WHERE t.driver_id = d.id
    AND t.completed_at >= $2::timestamptz
    AND t.completed_at < $3::timestamptz
    AND (t.completed_at, t.id) < ($4::timestamptz, $5::int8)
  ORDER BY t.completed_at DESC, t.id DESC
  LIMIT $6
) t ON true
LEFT JOIN payments p ON p.trip_id = t.id
LEFT JOIN reviews r ON r.trip_id = t.id
WHERE d.id = $1
ORDER BY t.completed_at DESC, t.id DESC`;

const LIST_TRIPS = namedStatement("list_trips_page", LIST_TRIPS_SQL);
const MAX_INT8 = "9223372036854775807";

/** listTripsPageParams: LIST_TRIPS_SQL's parameters, every bound given. */
export function listTripsPageParams(params: ListTripsPageParams): unknown[] {
  const { window, after } = params;
  return [
    params.driverId,
    window.startMicros === undefined ? "-infinity" : formatMicrosIso(window.startMicros),
    window.endMicros === undefined ? "infinity" : formatMicrosIso(window.endMicros),
    after === undefined ? "infinity" : formatMicrosIso(after.completedAtMicros),
    after === undefined ? MAX_INT8 : after.id,
    params.pageSize + 1,
  ];
}

export { LIST_TRIPS_SQL };

/**
 * listTripsPage returns one page of a driver's trips, newest first, or
 * undefined when the driver does not exist.
 */
export async function listTripsPage(
  db: Database,
  params: ListTripsPageParams,
  options?: QueryOptions,
): Promise<TripsPage | undefined> {
  const rows = await db.query<TripRow>(LIST_TRIPS, listTripsPageParams(params), options);
  return toTripsPage(params.driverId, rows, params.pageSize);
}

/**
 * toTripsPage turns the rows of a page query that fetched pageSize + 1 trips
 * (and the driver's row, so no rows at all means no such driver) into a page.
 */
export function toTripsPage(driverId: bigint, rows: TripRow[], pageSize: number): TripsPage | undefined {
  if (rows.length === 0) return undefined;
  const trips = rows.filter((row) => row.id !== null).map((row) => toTripRecord(driverId, row));
  const hasMore = trips.length > pageSize;
  if (hasMore) trips.length = pageSize;
  return { trips, hasMore };
}

/** toTripRecord maps a joined trip/payment/review row; shared by every trips query. */
export function toTripRecord(driverId: bigint, row: TripRow): TripRecord {
  return {
    id: row.id as bigint,
    driverId,
    status: row.status,
    startedAtMicros: row.started_at,
    completedAtMicros: row.completed_at,
    distanceMeters: row.distance_meters,
    currencyCode: row.driver_currency,
    payment:
      row.fare_minor === null || row.tip_minor === null
        ? undefined
        : { fareMinor: row.fare_minor, tipMinor: row.tip_minor },
    review:
      row.rating === null
        ? undefined
        : { rating: row.rating, comment: row.comment ?? "", createdAtMicros: row.review_created_at as bigint },
  };
}

export type { TripRow };
