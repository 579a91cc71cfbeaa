import {
  getDriverStatsLive,
  getDriverStatsNaive,
  listTripsPage,
  listTripsPageOffset,
  type Database,
  type DriverStatsRecord,
  type QueryOptions,
  type TimeWindow,
  type TripCursor,
  type TripsPage,
} from "@driver-analytics/db";

/** Strategy names the server can run with; "naive" is the benchmark baseline. */
export const STRATEGIES = ["live", "naive"] as const;
export type Strategy = (typeof STRATEGIES)[number];

export interface TripsPageRequest {
  driverId: bigint;
  window: TimeWindow;
  pageSize: number;
  /** The last trip already returned, for keyset strategies. */
  after: TripCursor | undefined;
  /** How many trips were already returned, for the OFFSET strategy. */
  position: number;
}

/** AnalyticsQueries is what the RPC handlers need from the database. */
export interface AnalyticsQueries {
  getDriverStats(driverId: bigint, window: TimeWindow, options: QueryOptions): Promise<DriverStatsRecord | undefined>;
  listTrips(request: TripsPageRequest, options: QueryOptions): Promise<TripsPage | undefined>;
}

/** createAnalyticsQueries binds a strategy's query functions to a database. */
export function createAnalyticsQueries(db: Database, strategy: Strategy): AnalyticsQueries {
  switch (strategy) {
    case "live":
      return {
        getDriverStats: (driverId, window, options) => getDriverStatsLive(db, driverId, window, options),
        listTrips: (request, options) => listTripsPage(db, request, options),
      };
    case "naive":
      return {
        getDriverStats: (driverId, window, options) => getDriverStatsNaive(db, driverId, window, options),
        listTrips: (request, options) => listTripsPageOffset(db, { ...request, offset: request.position }, options),
      };
  }
}
