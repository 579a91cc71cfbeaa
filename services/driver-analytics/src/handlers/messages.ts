// Database records -> protobuf messages. Counts and money stay bigint end to end.
//
// The messages of a trips page are written as object literals: protobuf-es v2
// messages are plain objects, and create() per nested message (nine per trip:
// trip, payment, review, three Money, three Timestamps) cost more than the
// page's own row parsing (~170 µs of ~200 µs to build a page of 50, measured).
// Every field is spelled out, as create() would fill it; a spec checks the
// bytes equal create()'s.
import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { DriverStatsRecord, EarningsBucketRecord, TripRecord } from "@driver-analytics/db";
import {
  DriverStatsSchema,
  EarningsBucketSchema,
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
  return { $typeName: "google.protobuf.Timestamp", seconds, nanos: Number(rest) * 1000 };
}

function money(currencyCode: string, amountMinor: bigint): Money {
  return { $typeName: "driveranalytics.v1.Money", currencyCode, amountMinor };
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
  return {
    $typeName: "driveranalytics.v1.Trip",
    tripId: record.id,
    driverId: record.driverId,
    status: record.status === "completed" ? TripStatus.COMPLETED : TripStatus.CANCELLED,
    startTime: toTimestamp(record.startedAtMicros),
    completeTime: toTimestamp(record.completedAtMicros),
    distanceMeters: record.distanceMeters,
    payment:
      payment === undefined
        ? undefined
        : {
            $typeName: "driveranalytics.v1.Payment",
            fare: money(currencyCode, payment.fareMinor),
            tip: money(currencyCode, payment.tipMinor),
            total: money(currencyCode, payment.fareMinor + payment.tipMinor),
          },
    review: review === undefined ? undefined : toReview(review),
  };
}

export function toReview(review: { rating: number; comment: string; createdAtMicros: bigint }): Review {
  return {
    $typeName: "driveranalytics.v1.Review",
    rating: review.rating,
    comment: review.comment,
    createTime: toTimestamp(review.createdAtMicros),
  };
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
