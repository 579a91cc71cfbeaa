// Database records -> protobuf messages. Counts and money stay bigint end to end.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { DriverStatsRecord, EarningsBucketRecord, TripRecord } from "@driver-analytics/db";
import {
  DriverStatsSchema,
  EarningsBucketSchema,
  MoneySchema,
  PaymentSchema,
  ReviewSchema,
  TripSchema,
  TripStatus,
  type DriverStats,
  type EarningsBucket,
  type Money,
  type Review,
  type Trip,
} from "@driver-analytics/proto";

export function toTimestamp(micros: bigint): Timestamp {
  let seconds = micros / 1_000_000n;
  let rest = micros % 1_000_000n;
  if (rest < 0n) {
    rest += 1_000_000n;
    seconds -= 1n;
  }
  const ts = timestampFromMs(0);
  ts.seconds = seconds;
  ts.nanos = Number(rest) * 1000;
  return ts;
}

function money(currencyCode: string, amountMinor: bigint): Money {
  return create(MoneySchema, { currencyCode, amountMinor });
}

/** toDriverStats derives the average rating by one exact division, absent when nothing is rated. */
export function toDriverStats(record: DriverStatsRecord): DriverStats {
  const { currencyCode } = record;
  return create(DriverStatsSchema, {
    totalTrips: record.totalTrips,
    totalEarnings: money(currencyCode, record.fareMinor + record.tipMinor),
    averageRating: record.ratedTrips === 0n ? undefined : Number(record.ratingSum) / Number(record.ratedTrips),
    ratedTrips: record.ratedTrips,
    completedTrips: record.completedTrips,
    cancelledTrips: record.cancelledTrips,
    fareEarnings: money(currencyCode, record.fareMinor),
    tipEarnings: money(currencyCode, record.tipMinor),
    totalDistanceMeters: record.distanceMeters,
    totalDurationSeconds: record.durationMicros / 1_000_000n,
  });
}

export function toTrip(record: TripRecord): Trip {
  const { currencyCode, payment, review } = record;
  return create(TripSchema, {
    tripId: record.id,
    driverId: record.driverId,
    status: record.status === "completed" ? TripStatus.COMPLETED : TripStatus.CANCELLED,
    startTime: toTimestamp(record.startedAtMicros),
    completeTime: toTimestamp(record.completedAtMicros),
    distanceMeters: record.distanceMeters,
    payment:
      payment === undefined
        ? undefined
        : create(PaymentSchema, {
            fare: money(currencyCode, payment.fareMinor),
            tip: money(currencyCode, payment.tipMinor),
            total: money(currencyCode, payment.fareMinor + payment.tipMinor),
          }),
    review: review === undefined ? undefined : toReview(review),
  });
}

export function toReview(review: { rating: number; comment: string; createdAtMicros: bigint }): Review {
  return create(ReviewSchema, {
    rating: review.rating,
    comment: review.comment,
    createTime: toTimestamp(review.createdAtMicros),
  });
}

export function toEarningsBucket(currencyCode: string, bucket: EarningsBucketRecord): EarningsBucket {
  return create(EarningsBucketSchema, {
    startDay: bucket.startDay,
    totalTrips: bucket.totalTrips,
    completedTrips: bucket.completedTrips,
    cancelledTrips: bucket.cancelledTrips,
    totalEarnings: money(currencyCode, bucket.fareMinor + bucket.tipMinor),
    tipEarnings: money(currencyCode, bucket.tipMinor),
    totalDistanceMeters: bucket.distanceMeters,
  });
}
