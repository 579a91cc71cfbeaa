import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  CreateReviewResponseSchema,
  CreateTripResponseSchema,
  DriverAnalytics,
  GetEarningsSeriesResponseSchema,
  GetStatsResponseSchema,
  ListTripsResponseSchema,
  SeriesGranularity,
  TripStatus,
} from "@driver-analytics/proto";
import type { AnalyticsQueries } from "./analytics-queries.js";
import { laterLsn, readConsistencyToken, writeConsistencyToken } from "../replicas/consistency.js";
import { toDriverStats, toEarningsBucket, toReview, toTrip } from "./messages.js";
import { filterFingerprint, PageTokenError, type PageTokenCodec } from "./page-token.js";
import {
  MAX_TRIP_DURATION_MICROS,
  parseComment,
  parseDay,
  parseDistance,
  parseDriverId,
  parseMoney,
  parsePageSize,
  parseRequestId,
  parseRequiredTimestamp,
  parseWindow,
} from "./request-validation.js";

// Longest series a call may ask for, in days, per granularity.
const MAX_SERIES_DAYS = { day: 366, week: 5 * 366 } as const;
// A trip cannot complete in the future; allow for writers' clock skew.
const MAX_CLOCK_SKEW_MICROS = 5n * 60n * 1_000_000n;

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

export interface DriverAnalyticsDeps {
  queries: AnalyticsQueries;
  pageTokens: PageTokenCodec;
}

function driverNotFound(): ConnectError {
  return new ConnectError("driver not found", Code.NotFound);
}


/** createDriverAnalyticsService implements the DriverAnalytics RPCs: validate, query, convert. */
export function createDriverAnalyticsService(deps: DriverAnalyticsDeps): ServiceImpl<typeof DriverAnalytics> {
  const { queries, pageTokens } = deps;
  return {
    async getStats(request, context) {
      const driverId = parseDriverId(request.driverId);
      const window = parseWindow(request.startTime, request.endTime);
      const minLsn = readConsistencyToken(context.requestHeader);
      const record = await queries.getDriverStats(driverId, window, { signal: context.signal, minLsn });
      if (record === undefined) throw driverNotFound();
      return create(GetStatsResponseSchema, { stats: toDriverStats(record) });
    },

    async listTrips(request, context) {
      const driverId = parseDriverId(request.driverId);
      const pageSize = parsePageSize(request.pageSize);
      const window = parseWindow(request.startTime, request.endTime);
      const filterHash = filterFingerprint(window.startMicros, window.endMicros);

      let after;
      let position = 0;
      let minLsn = readConsistencyToken(context.requestHeader);
      if (request.pageToken !== "") {
        let cursor;
        try {
          cursor = pageTokens.decodePageToken(request.pageToken);
        } catch (error) {
          if (error instanceof PageTokenError) throw new ConnectError("page_token is invalid", Code.InvalidArgument);
          throw error;
        }
        if (cursor.driverId !== driverId || !cursor.filterHash.equals(filterHash)) {
          throw new ConnectError("page_token was issued for a different driver or filters", Code.InvalidArgument);
        }
        after = { completedAtMicros: cursor.completedAtMicros, id: cursor.tripId };
        position = cursor.position;
        minLsn = laterLsn(minLsn, cursor.minLsn);
      }

      const page = await queries.listTrips(
        { driverId, window, pageSize, after, position },
        { signal: context.signal, minLsn },
      );
      if (page === undefined) throw driverNotFound();
      const last = page.trips.at(-1);
      const nextPageToken =
        page.hasMore && last !== undefined
          ? pageTokens.encodePageToken({
              driverId,
              filterHash,
              completedAtMicros: last.completedAtMicros,
              tripId: last.id,
              position: position + page.trips.length,
              minLsn: page.lsn,
            })
          : "";
      writeConsistencyToken(context.responseHeader, page.lsn);
      return create(ListTripsResponseSchema, { trips: page.trips.map(toTrip), nextPageToken });
    },

    async getEarningsSeries(request, context) {
      const driverId = parseDriverId(request.driverId);
      const start = parseDay(request.startDay, "start_day");
      const end = parseDay(request.endDay, "end_day");
      const granularity = request.granularity === SeriesGranularity.WEEK ? "week" : "day";
      if (request.granularity !== SeriesGranularity.UNSPECIFIED && !(request.granularity in SeriesGranularity)) {
        throw invalid("granularity is not a known value");
      }
      if (end.epochDay <= start.epochDay) throw invalid("end_day must be after start_day");
      if (end.epochDay - start.epochDay > MAX_SERIES_DAYS[granularity]) {
        throw invalid(`a ${granularity} series spans at most ${MAX_SERIES_DAYS[granularity]} days`);
      }
      const series = await queries.getEarningsSeries(
        { driverId, startDay: start.day, endDay: end.day, granularity },
        { signal: context.signal, minLsn: readConsistencyToken(context.requestHeader) },
      );
      if (series === undefined) throw driverNotFound();
      return create(GetEarningsSeriesResponseSchema, {
        timeZone: series.timeZone,
        buckets: series.buckets.map((bucket) => toEarningsBucket(series.currencyCode, bucket)),
      });
    },

    async createTrip(request, context) {
      const requestId = parseRequestId(request.requestId);
      const driverId = parseDriverId(request.driverId);
      if (request.status !== TripStatus.COMPLETED && request.status !== TripStatus.CANCELLED) {
        throw invalid("status must be COMPLETED or CANCELLED");
      }
      const startedAtMicros = parseRequiredTimestamp(request.startTime, "start_time");
      const completedAtMicros = parseRequiredTimestamp(request.completeTime, "complete_time");
      if (completedAtMicros < startedAtMicros) throw invalid("complete_time must not be before start_time");
      if (completedAtMicros - startedAtMicros > MAX_TRIP_DURATION_MICROS) {
        throw invalid("a trip lasts at most 24 hours (complete_time - start_time)");
      }
      if (completedAtMicros > BigInt(Date.now()) * 1000n + MAX_CLOCK_SKEW_MICROS) {
        throw invalid("complete_time is in the future");
      }
      const distanceMeters = parseDistance(request.distanceMeters);
      const fare = parseMoney(request.fare, "fare");
      if (fare === undefined) throw invalid("fare is required");
      const tip = parseMoney(request.tip, "tip") ?? { currencyCode: fare.currencyCode, amountMinor: 0n };
      if (tip.currencyCode !== fare.currencyCode) throw invalid("tip must be in the currency of fare");

      const { trip, consistencyToken } = await queries.createTrip(
        {
          requestId,
          driverId,
          status: request.status === TripStatus.COMPLETED ? "completed" : "cancelled",
          startedAtMicros,
          completedAtMicros,
          distanceMeters,
          currencyCode: fare.currencyCode,
          fareMinor: fare.amountMinor,
          tipMinor: tip.amountMinor,
        },
        { signal: context.signal },
      );
      writeConsistencyToken(context.responseHeader, consistencyToken);
      return create(CreateTripResponseSchema, { trip: toTrip(trip) });
    },

    async createReview(request, context) {
      if (request.tripId <= 0n) throw invalid("trip_id must be a positive integer");
      if (!Number.isInteger(request.rating) || request.rating < 1 || request.rating > 5) {
        throw invalid("rating must be from 1 to 5");
      }
      const comment = parseComment(request.comment);
      const review = await queries.createReview(
        { tripId: request.tripId, rating: request.rating, comment },
        { signal: context.signal },
      );
      writeConsistencyToken(context.responseHeader, review.consistencyToken);
      return create(CreateReviewResponseSchema, { tripId: review.tripId, review: toReview(review) });
    },
  };
}
