// @driver-analytics/server: the server factory, for tests, tools and embedding.
export { createServer } from "./server.js";
export type { DriverAnalyticsServer, ServerDeps } from "./server.js";
export { Listener } from "./http/listener.js";
export type { ListenerOptions } from "./http/listener.js";
export { loadConfig, ConfigError } from "./config.js";
export type { Config } from "./config.js";
export { STRATEGIES } from "./handlers/analytics-queries.js";
export type { Strategy } from "./handlers/analytics-queries.js";
