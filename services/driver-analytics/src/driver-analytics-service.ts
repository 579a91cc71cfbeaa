import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  DriverAnalytics,
  GetStatsResponseSchema,
  ListTripsResponseSchema,
} from "@driver-analytics/proto";
import type { AnalyticsQueries } from "./analytics-queries.js";
import { toDriverStats, toTrip } from "./messages.js";
import { filterFingerprint, PageTokenError, type PageTokenCodec } from "./page-token.js";
import { parseDriverId, parsePageSize, parseWindow } from "./request-validation.js";

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
      const record = await queries.getDriverStats(driverId, window, { signal: context.signal });
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
      }

      const page = await queries.listTrips({ driverId, window, pageSize, after, position }, { signal: context.signal });
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
            })
          : "";
      return create(ListTripsResponseSchema, { trips: page.trips.map(toTrip), nextPageToken });
    },
  };
}
