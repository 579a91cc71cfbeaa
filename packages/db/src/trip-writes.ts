import type { Database, QueryOptions } from "./database.js";
import { WriteRejectedError } from "./errors.js";
import { formatMicrosIso } from "./time.js";
import type { TripRecord, TripStatus } from "./trips-page.js";

export interface NewTrip {
  /** Client-chosen idempotency key (UUID): a retry finds the trip it created. */
  requestId: string;
  driverId: bigint;
  status: TripStatus;
  startedAtMicros: bigint;
  completedAtMicros: bigint;
  distanceMeters: bigint;
  currencyCode: string;
  fareMinor: bigint;
  tipMinor: bigint;
}

export interface CreatedTrip {
  trip: TripRecord;
  /** false when this request_id had already recorded the same trip. */
  created: boolean;
}

interface CreateTripRow {
  driver_currency: string | null;
  id: bigint | null;
}

// One statement, one round trip: the driver check, the trip and its payment.
// The rollup triggers run at its end, inside the same transaction.
const CREATE_TRIP_SQL = `
WITH d AS (
  SELECT id, currency_code FROM drivers WHERE id = $1
), trip AS (
  INSERT INTO trips (driver_id, status, started_at, completed_at, distance_meters, request_id)
  SELECT d.id, $2::text, $3::timestamptz, $4::timestamptz, $5::int8, $6::uuid FROM d WHERE d.currency_code = $7::text
  ON CONFLICT (request_id) DO NOTHING
  RETURNING id
), payment AS (
  INSERT INTO payments (trip_id, fare_minor, tip_minor, currency_code)
  SELECT trip.id, $8::int8, $9::int8, $7::text FROM trip
  RETURNING trip_id
)
SELECT (SELECT currency_code FROM d) AS driver_currency, (SELECT trip_id FROM payment) AS id`;

const TRIP_BY_REQUEST_SQL = `
SELECT t.id, t.driver_id, t.status, t.started_at, t.completed_at, t.distance_meters,
       p.fare_minor, p.tip_minor, p.currency_code
FROM trips t LEFT JOIN payments p ON p.trip_id = t.id
WHERE t.request_id = $1::uuid`;

interface StoredTripRow {
  id: bigint;
  driver_id: bigint;
  status: TripStatus;
  started_at: bigint;
  completed_at: bigint;
  distance_meters: bigint;
  fare_minor: bigint | null;
  tip_minor: bigint | null;
  currency_code: string | null;
}

/**
 * createTrip records a finished trip with its payment, idempotently: the same
 * requestId with the same content returns the first trip (created: false);
 * with other content it is refused ("request-id-reused") and writes nothing.
 */
export async function createTrip(db: Database, trip: NewTrip, options?: QueryOptions): Promise<CreatedTrip> {
  const [row] = await db.query<CreateTripRow>(
    CREATE_TRIP_SQL,
    [
      trip.driverId,
      trip.status,
      formatMicrosIso(trip.startedAtMicros),
      formatMicrosIso(trip.completedAtMicros),
      trip.distanceMeters,
      trip.requestId,
      trip.currencyCode,
      trip.fareMinor,
      trip.tipMinor,
    ],
    options,
  );
  if (row?.driver_currency == null) throw new WriteRejectedError("unknown-driver");
  if (row.driver_currency !== trip.currencyCode) throw new WriteRejectedError("currency-mismatch");
  const record = (id: bigint): TripRecord => ({
    id,
    driverId: trip.driverId,
    status: trip.status,
    startedAtMicros: trip.startedAtMicros,
    completedAtMicros: trip.completedAtMicros,
    distanceMeters: trip.distanceMeters,
    currencyCode: trip.currencyCode,
    payment: { fareMinor: trip.fareMinor, tipMinor: trip.tipMinor },
    review: undefined,
  });
  if (row.id !== null) return { trip: record(row.id), created: true };

  // The request_id exists: a retry of the same trip, or a conflicting reuse.
  const [stored] = await db.query<StoredTripRow>(TRIP_BY_REQUEST_SQL, [trip.requestId], options);
  const same =
    stored !== undefined &&
    stored.driver_id === trip.driverId &&
    stored.status === trip.status &&
    stored.started_at === trip.startedAtMicros &&
    stored.completed_at === trip.completedAtMicros &&
    stored.distance_meters === trip.distanceMeters &&
    stored.fare_minor === trip.fareMinor &&
    stored.tip_minor === trip.tipMinor &&
    stored.currency_code === trip.currencyCode;
  if (!same) throw new WriteRejectedError("request-id-reused");
  return { trip: record(stored.id), created: false };
}

export interface NewReview {
  tripId: bigint;
  rating: number;
  comment: string;
}

export interface CreatedReview {
  tripId: bigint;
  driverId: bigint;
  rating: number;
  comment: string;
  createdAtMicros: bigint;
  created: boolean;
}

interface CreateReviewRow {
  status: TripStatus | null;
  driver_id: bigint | null;
  trip_id: bigint | null;
  rating: number | null;
  comment: string | null;
  created_at: bigint | null;
}

// A trip has at most one review (reviews.trip_id is the key): a retry with the
// same rating and comment is answered with the stored review.
const CREATE_REVIEW_SQL = `
WITH t AS (
  SELECT id, driver_id, status FROM trips WHERE id = $1
), review AS (
  INSERT INTO reviews (trip_id, rating, comment)
  SELECT t.id, $2::int2, $3::text FROM t WHERE t.status = 'completed'
  ON CONFLICT (trip_id) DO NOTHING
  RETURNING trip_id, rating, comment, created_at
)
SELECT t.status, t.driver_id, r.trip_id, r.rating, r.comment, r.created_at
FROM (SELECT 1) AS one
LEFT JOIN t ON true
LEFT JOIN review r ON true`;

const REVIEW_BY_TRIP_SQL = `SELECT rating, comment, created_at FROM reviews WHERE trip_id = $1`;

/**
 * createReview adds the review of a completed trip, idempotently: the same
 * rating and comment again return the stored review (created: false); a
 * different one is refused ("review-exists").
 */
export async function createReview(db: Database, review: NewReview, options?: QueryOptions): Promise<CreatedReview> {
  const [row] = await db.query<CreateReviewRow>(CREATE_REVIEW_SQL, [review.tripId, review.rating, review.comment], options);
  if (row?.status == null || row.driver_id === null) throw new WriteRejectedError("unknown-trip");
  if (row.status !== "completed") throw new WriteRejectedError("trip-not-completed");
  if (row.trip_id !== null) {
    return {
      tripId: review.tripId,
      driverId: row.driver_id,
      rating: row.rating!,
      comment: row.comment!,
      createdAtMicros: row.created_at!,
      created: true,
    };
  }
  const [stored] = await db.query<{ rating: number; comment: string; created_at: bigint }>(
    REVIEW_BY_TRIP_SQL,
    [review.tripId],
    options,
  );
  if (stored === undefined || stored.rating !== review.rating || stored.comment !== review.comment) {
    throw new WriteRejectedError("review-exists");
  }
  return {
    tripId: review.tripId,
    driverId: row.driver_id,
    rating: stored.rating,
    comment: stored.comment,
    createdAtMicros: stored.created_at,
    created: false,
  };
}
