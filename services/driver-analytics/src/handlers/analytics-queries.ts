import {
  createReview,
  createTrip,
  getDriverStatsFromRollups,
  getDriverStatsLive,
  getEarningsSeries,
  getDriverStatsNaive,
  listTripsPage,
  listTripsPageOffset,
  type CreatedReview,
  type CreatedTrip,
  type Database,
  type DriverStatsRecord,
  type EarningsSeries,
  type EarningsSeriesParams,
  type NewReview,
  type NewTrip,
  type QueryOptions,
  type TimeWindow,
  type TripCursor,
  type TripsPage,
} from "@driver-analytics/db";

/**
 * Strategy names the server can run with. "rollup" (the default) reads stats
 * from the rollups, "live" aggregates raw rows per call, "naive" is the first
 * version's design, kept as the benchmark baseline. Paging is keyset in
 * "rollup" and "live", OFFSET in "naive"; writes and series are the same.
 */
export const STRATEGIES = ["rollup", "live", "naive"] as const;
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
  getEarningsSeries(params: EarningsSeriesParams, options: QueryOptions): Promise<EarningsSeries | undefined>;
  createTrip(trip: NewTrip, options: QueryOptions): Promise<CreatedTrip>;
  createReview(review: NewReview, options: QueryOptions): Promise<CreatedReview>;
}

/** createAnalyticsQueries binds a strategy's query functions to a database. */
export function createAnalyticsQueries(db: Database, strategy: Strategy): AnalyticsQueries {
  const shared = {
    getEarningsSeries: (params: EarningsSeriesParams, options: QueryOptions) => getEarningsSeries(db, params, options),
    createTrip: (trip: NewTrip, options: QueryOptions) => createTrip(db, trip, options),
    createReview: (review: NewReview, options: QueryOptions) => createReview(db, review, options),
  };
  const keysetTrips = (request: TripsPageRequest, options: QueryOptions) => listTripsPage(db, request, options);
  switch (strategy) {
    case "rollup":
      return {
        ...shared,
        getDriverStats: (driverId, window, options) => getDriverStatsFromRollups(db, driverId, window, options),
        listTrips: keysetTrips,
      };
    case "live":
      return {
        ...shared,
        getDriverStats: (driverId, window, options) => getDriverStatsLive(db, driverId, window, options),
        listTrips: keysetTrips,
      };
    case "naive":
      return {
        ...shared,
        getDriverStats: (driverId, window, options) => getDriverStatsNaive(db, driverId, window, options),
        listTrips: (request, options) => listTripsPageOffset(db, { ...request, offset: request.position }, options),
      };
  }
}
