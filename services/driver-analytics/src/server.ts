import { randomBytes } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Database } from "@driver-analytics/db";
import { DriverAnalytics } from "@driver-analytics/proto";
import type { Logger } from "pino";
import { createAnalyticsQueries, type Strategy } from "./analytics-queries.js";
import { authorizationInterceptor, authRequestGate } from "./auth-interceptor.js";
import { withCors } from "./cors.js";
import { dashboardFiles } from "./dashboard-files.js";
import { createDriverAnalyticsService } from "./driver-analytics-service.js";
import { errorMappingInterceptor } from "./error-mapping.js";
import { Listener } from "./listener.js";
import { PageTokenCodec } from "./page-token.js";
import type { TokenVerifier } from "./token-verifier.js";

export interface ServerDeps {
  db: Database;
  logger: Logger;
  /** Verifies bearer tokens; required, so no server runs without authentication. */
  auth: TokenVerifier;
  /** Browser origins allowed to call cross-origin (CORS); none by default. */
  corsAllowedOrigins?: readonly string[];
  /** Built dashboard to serve for GET requests that are not RPCs; nothing is served when absent. */
  dashboardDir?: string;
  strategy?: Strategy;
  /** Key for page tokens; random (tokens die with the process) when absent. */
  pageTokenKey?: Buffer;
  maxConcurrentStreams?: number;
  sessionMemoryMb?: number;
}

// Requests are a few dozen bytes; refuse anything that is not.
const READ_MAX_BYTES = 64 * 1024;
// Longest deadline a caller may ask for; longer ones are INVALID_ARGUMENT.
const MAX_TIMEOUT_MS = 5 * 60 * 1000;

export interface DriverAnalyticsServer {
  listener: Listener;
  /** Abort to make every in-flight handler's signal abort (last resort of shutdown). */
  shutdownController: AbortController;
}

/** createServer wires the RPC handlers over a database; listening is the caller's move. */
export function createServer(deps: ServerDeps): DriverAnalyticsServer {
  const queries = createAnalyticsQueries(deps.db, deps.strategy ?? "live");
  const pageTokens = new PageTokenCodec(deps.pageTokenKey ?? randomBytes(32));
  const shutdownController = new AbortController();
  const routes = (router: ConnectRouter) => {
    router.service(DriverAnalytics, createDriverAnalyticsService({ queries, pageTokens }));
  };
  const handler = connectNodeAdapter({
    routes,
    // The gate authenticates from headers before a body is read; the
    // interceptor authorizes against the request message before the handler.
    requestGate: authRequestGate(deps.auth, deps.logger),
    interceptors: [errorMappingInterceptor(deps.logger), authorizationInterceptor()],
    readMaxBytes: READ_MAX_BYTES,
    maxTimeoutMs: MAX_TIMEOUT_MS,
    shutdownSignal: shutdownController.signal,
    ...(deps.dashboardDir === undefined ? {} : { fallback: dashboardFiles(deps.dashboardDir) }),
  });
  const listener = new Listener(withCors(handler, deps.corsAllowedOrigins ?? []), {
    maxConcurrentStreams: deps.maxConcurrentStreams ?? 2_000,
    maxSessionMemoryMb: deps.sessionMemoryMb ?? 64,
  });
  return { listener, shutdownController };
}
