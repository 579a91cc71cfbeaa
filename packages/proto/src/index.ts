// The public surface of the generated contract. Everything here comes from
// proto/driveranalytics/v1 via `pnpm generate`; src/gen is never edited by hand.
export {
  CreateReviewRequestSchema,
  CreateReviewResponseSchema,
  CreateTripRequestSchema,
  CreateTripResponseSchema,
  DriverAnalytics,
  DriverStatsSchema,
  EarningsBucketSchema,
  GetEarningsSeriesRequestSchema,
  GetEarningsSeriesResponseSchema,
  GetStatsRequestSchema,
  GetStatsResponseSchema,
  ListTripsRequestSchema,
  ListTripsResponseSchema,
  MoneySchema,
  PaymentSchema,
  ReviewSchema,
  SeriesGranularity,
  SeriesGranularitySchema,
  TripSchema,
  TripStatus,
  TripStatusSchema,
  file_driveranalytics_v1_driver_analytics,
} from "./gen/driveranalytics/v1/driver_analytics_pb.js";
export type {
  CreateReviewRequest,
  CreateReviewResponse,
  CreateTripRequest,
  CreateTripResponse,
  DriverStats,
  EarningsBucket,
  GetEarningsSeriesRequest,
  GetEarningsSeriesResponse,
  GetStatsRequest,
  GetStatsResponse,
  ListTripsRequest,
  ListTripsResponse,
  Money,
  Payment,
  Review,
  Trip,
} from "./gen/driveranalytics/v1/driver_analytics_pb.js";

// The standard gRPC health and reflection protocols (proto/grpc), served
// beside DriverAnalytics so load balancers, grpcurl and buf curl work with
// no .proto files. Reflection v1alpha is the same protocol under an older
// package name, still spoken by many clients.
export {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus,
  HealthListResponseSchema,
  file_grpc_health_v1_health,
} from "./gen/grpc/health/v1/health_pb.js";
export type { HealthCheckRequest, HealthCheckResponse } from "./gen/grpc/health/v1/health_pb.js";
export {
  ServerReflection,
  ServerReflectionRequestSchema,
  ServerReflectionResponseSchema,
  file_grpc_reflection_v1_reflection,
} from "./gen/grpc/reflection/v1/reflection_pb.js";
export type { ServerReflectionRequest, ServerReflectionResponse } from "./gen/grpc/reflection/v1/reflection_pb.js";
export {
  ServerReflection as ServerReflectionV1alpha,
  ServerReflectionRequestSchema as ServerReflectionRequestV1alphaSchema,
  ServerReflectionResponseSchema as ServerReflectionResponseV1alphaSchema,
  file_grpc_reflection_v1alpha_reflection,
} from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
