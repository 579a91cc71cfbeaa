// @driver-analytics/server: the server factory, for tests, tools and embedding.
export { createServer } from "./server.js";
export type { DriverAnalyticsServer, ServerDeps } from "./server.js";
export { Listener } from "./http/listener.js";
export type { ListenerOptions } from "./http/listener.js";
export { loadConfig, ConfigError } from "./config.js";
export type { Config } from "./config.js";
export { STRATEGIES } from "./handlers/analytics-queries.js";
export type { Strategy } from "./handlers/analytics-queries.js";
// The pieces the benchmark's bare servers reuse, so they run the very same handlers.
export { createAnalyticsQueries } from "./handlers/analytics-queries.js";
export { createDriverAnalyticsService } from "./handlers/driver-analytics-service.js";
export { PageTokenCodec } from "./handlers/page-token.js";
export { grpcMethodDefinition } from "./grpc/grpc-js-adapter.js";
export { mintDevToken } from "./auth/dev-tokens.js";
// And what the benchmark's refusal server runs: the listener's admission gate and controller.
export { AdmissionGate } from "./http/admission-gate.js";
export { AdmissionController } from "./ops/admission/admission-controller.js";
