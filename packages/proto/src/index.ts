// The public surface of the generated contract. Everything here comes from
// proto/driveranalytics/v1 via `pnpm generate`; src/gen is never edited by hand.
export {
  DriverAnalytics,
  DriverStatsSchema,
  GetStatsRequestSchema,
  GetStatsResponseSchema,
  ListTripsRequestSchema,
  ListTripsResponseSchema,
  MoneySchema,
  PaymentSchema,
  ReviewSchema,
  TripSchema,
  TripStatus,
  TripStatusSchema,
  file_driveranalytics_v1_driver_analytics,
} from "./gen/driveranalytics/v1/driver_analytics_pb.js";
export type {
  DriverStats,
  GetStatsRequest,
  GetStatsResponse,
  ListTripsRequest,
  ListTripsResponse,
  Money,
  Payment,
  Review,
  Trip,
} from "./gen/driveranalytics/v1/driver_analytics_pb.js";
