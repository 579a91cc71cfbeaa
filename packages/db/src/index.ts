// @driver-analytics/db: the only package that speaks SQL.
export { Database, namedStatement } from "./database.js";
export { withConnection } from "./connection.js";
export type { DatabaseConfig, NamedStatement, PoolStats, QueryOptions, Transaction } from "./database.js";
export {
  DatabaseUnavailableError,
  InvalidTextError,
  OutOfRangeError,
  PoolExhaustedError,
  QueryAbortedError,
  QueryTimeoutError,
  WriteRejectedError,
} from "./errors.js";
export type { WriteRejection } from "./errors.js";
export { createTrip, createReview } from "./trip-writes.js";
export { getEarningsSeries, EARNINGS_SERIES_SQL } from "./earnings-series.js";
export type { EarningsBucketRecord, EarningsSeries, EarningsSeriesParams, SeriesGranularity } from "./earnings-series.js";
export type { CreatedReview, CreatedTrip, NewReview, NewTrip } from "./trip-writes.js";
export { migrate, loadMigrations, MIGRATIONS_DIR, DEFAULT_MIGRATION_LOCK_TIMEOUT_MS } from "./migrate.js";
export type { MigrateOptions, MigrateResult, Migration } from "./migrate.js";
export { getDriverStatsLive, DRIVER_STATS_LIVE_SQL } from "./driver-stats.js";
export type { DriverStatsRecord } from "./driver-stats.js";
export { listTripsPage, listTripsPageParams, LIST_TRIPS_SQL } from "./trips-page.js";
export { getDriverStatsNaive, listTripsPageOffset } from "./naive.js";
export {
  getDriverStatsFromRollups,
  DRIVER_STATS_ROLLUP_SQL,
  DRIVER_STATS_ROLLUP_WINDOW_SQL,
} from "./rollup-stats.js";
export type { ListTripsPageParams, TripCursor, TripRecord, TripStatus, TripsPage } from "./trips-page.js";
export type { TimeWindow } from "./window.js";
export { DEFAULT_EMBEDDED_DATA_DIR, startEmbeddedPostgres, findFreePort } from "./embedded.js";
export type { EmbeddedPostgresHandle, EmbeddedPostgresOptions } from "./embedded.js";
export { resolveHistoryEnd, seedDataset } from "./seed-dataset.js";
export type { SeedOptions, SeedProgress, SeedResult } from "./seed-dataset.js";
export { formatMicrosIso, parseTimestamptzMicros } from "./time.js";
export { ReadRouter, formatLsn, parseLsn, replicaName } from "./replicas.js";
export type { Lsn, ReadOptions, ReadResult, ReadRoute, ReadRouterOptions, ReplicaConfig, ReplicaStatus } from "./replicas.js";
