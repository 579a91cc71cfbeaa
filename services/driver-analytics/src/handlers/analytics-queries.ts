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
  type Lsn,
  type ReadRouter,
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

/**
 * ReadQueryOptions: reads may name the consistency token (a WAL position) they
 * must see; with replicas they are served by one that has replayed it, else by
 * the primary. Without replicas every read is on the primary and it is ignored.
 */
export interface ReadQueryOptions extends QueryOptions {
  minLsn?: Lsn | undefined;
}

/** Written: what a write returns, with the consistency token of its commit when replicas are in use. */
export type Written<T> = T & { consistencyToken?: Lsn };

/** AnalyticsQueries is what the RPC handlers need from the database. */
export interface AnalyticsQueries {
  getDriverStats(driverId: bigint, window: TimeWindow, options: ReadQueryOptions): Promise<DriverStatsRecord | undefined>;
  /** With replicas, the page carries lsn: the position the next page must reach to never go back in time. */
  listTrips(request: TripsPageRequest, options: ReadQueryOptions): Promise<(TripsPage & { lsn?: Lsn }) | undefined>;
  getEarningsSeries(params: EarningsSeriesParams, options: ReadQueryOptions): Promise<EarningsSeries | undefined>;
  createTrip(trip: NewTrip, options: QueryOptions): Promise<Written<CreatedTrip>>;
  createReview(review: NewReview, options: QueryOptions): Promise<Written<CreatedReview>>;
}

/**
 * createAnalyticsQueries binds a strategy's query functions to a database.
 * With a ReadRouter (DATABASE_REPLICA_URLS), GetStats, ListTrips and
 * GetEarningsSeries read through it and writes return a consistency token;
 * writes always go to the primary (db).
 */
export function createAnalyticsQueries(db: Database, strategy: Strategy, router?: ReadRouter): AnalyticsQueries {
  const direct = directQueries(db, strategy);
  if (router === undefined) return direct;
  const byDatabase = new Map<Database, AnalyticsQueries>([[db, direct]]);
  const on = (target: Database) => {
    let queries = byDatabase.get(target);
    if (queries === undefined) byDatabase.set(target, (queries = directQueries(target, strategy)));
    return queries;
  };
  return {
    getDriverStats: async (driverId, window, options) =>
      (await router.read((target) => on(target).getDriverStats(driverId, window, options), options)).value,
    getEarningsSeries: async (params, options) =>
      (await router.read((target) => on(target).getEarningsSeries(params, options), options)).value,
    async listTrips(request, options) {
      const { value, lsn } = await router.read((target) => on(target).listTrips(request, options), {
        ...options,
        wantLsn: true,
      });
      return value === undefined ? undefined : { ...value, ...(lsn === undefined ? {} : { lsn }) };
    },
    async createTrip(trip, options) {
      const created = await direct.createTrip(trip, options);
      return { ...created, consistencyToken: await router.tokenAfterWrite(options) };
    },
    async createReview(review, options) {
      const created = await direct.createReview(review, options);
      return { ...created, consistencyToken: await router.tokenAfterWrite(options) };
    },
  };
}

function directQueries(db: Database, strategy: Strategy): AnalyticsQueries {
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
