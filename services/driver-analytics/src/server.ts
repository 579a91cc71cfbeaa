import { setMaxListeners } from "node:events";
import { randomBytes } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Database, ReadRouter } from "@driver-analytics/db";
import { DriverAnalytics, Health, ServerReflection, ServerReflectionV1alpha } from "@driver-analytics/proto";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import {
  AdmissionController,
  admissionControlInterceptor,
  defaultAdmissionOptions,
  type AdmissionOptions,
} from "./ops/admission-control.js";
import { createAnalyticsQueries, type Strategy } from "./handlers/analytics-queries.js";
import { authorizationInterceptor, authRequestGate } from "./connect/auth-interceptor.js";
import { withCors } from "./http/cors.js";
import { dashboardFiles } from "./http/dashboard-files.js";
import { createDriverAnalyticsService } from "./handlers/driver-analytics-service.js";
import { errorMappingInterceptor } from "./core/error-mapping.js";
import {
  createHealthService,
  HealthMonitor,
  startDatabaseProbe,
  type DatabaseProbeOptions,
} from "./ops/health.js";
import { DEFAULT_MAX_CONCURRENT_STREAMS, Listener } from "./http/listener.js";
import { createServerMetrics } from "./ops/metrics.js";
import { withOpsEndpoints } from "./http/ops-endpoints.js";
import { PageTokenCodec } from "./handlers/page-token.js";
import { registerReflection } from "./ops/reflection.js";
import { requestIdInterceptor } from "./core/request-id.js";
import type { TokenVerifier } from "./auth/token-verifier.js";

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
  /** Streaming replicas for the reads (DATABASE_REPLICA_URLS); every query goes to db when absent. */
  replicas?: ReadRouter;
  /** Key for page tokens; random (tokens die with the process) when absent. */
  pageTokenKey?: Buffer;
  maxConcurrentStreams?: number;
  sessionMemoryMb?: number;
  /** Admission control limits; defaultAdmissionOptions(8) when absent. */
  admission?: AdmissionOptions;
  /** How often and how patiently the health probe asks the database. */
  healthProbe?: DatabaseProbeOptions;
  /** Process metrics (CPU, memory, GC, event loop) on /metrics; default true. */
  processMetrics?: boolean;
}

// Requests are a few dozen bytes; refuse anything that is not.
const READ_MAX_BYTES = 64 * 1024;
// Longest deadline a caller may ask for; longer ones are INVALID_ARGUMENT.
const MAX_TIMEOUT_MS = 5 * 60 * 1000;

export interface DriverAnalyticsServer {
  listener: Listener;
  /** Abort to make every in-flight handler's signal abort (last resort of shutdown). */
  shutdownController: AbortController;
  health: HealthMonitor;
  admission: AdmissionController;
  metrics: Registry;
  /**
   * close drains the server: health goes NOT_SERVING and Watch streams end,
   * no new connections are accepted, HTTP/2 clients get GOAWAY, in-flight
   * calls finish; after graceMs the rest are cancelled. The database is the
   * caller's to close afterwards.
   */
  close(graceMs: number): Promise<void>;
}

// Health and reflection answer even when the server is saturated.
const ADMISSION_EXEMPT = new Set([Health.typeName, ServerReflection.typeName, ServerReflectionV1alpha.typeName]);

/** createServer wires the RPC handlers over a database; listening is the caller's move. */
export function createServer(deps: ServerDeps): DriverAnalyticsServer {
  const queries = createAnalyticsQueries(deps.db, deps.strategy ?? "rollup", deps.replicas);
  const pageTokens = new PageTokenCodec(deps.pageTokenKey ?? randomBytes(32));
  const shutdownController = new AbortController();
  // Every in-flight call links its own signal to this one: thousands of
  // listeners are expected, not a leak.
  setMaxListeners(0, shutdownController.signal);
  const health = new HealthMonitor([DriverAnalytics.typeName]);
  const probe = startDatabaseProbe(deps.db, health, deps.logger, deps.healthProbe ?? { intervalMs: 1_000, timeoutMs: 1_000 });
  let admission: AdmissionController | undefined;
  const metrics = createServerMetrics({
    db: deps.db,
    health,
    admission: () => admission,
    ...(deps.processMetrics === undefined ? {} : { processMetrics: deps.processMetrics }),
  });
  admission = new AdmissionController(deps.admission ?? defaultAdmissionOptions(8), metrics.onShed);
  const routes = (router: ConnectRouter) => {
    router.service(DriverAnalytics, createDriverAnalyticsService({ queries, pageTokens }));
    router.service(Health, createHealthService(health));
    registerReflection(router, [DriverAnalytics, Health]);
  };
  const handler = connectNodeAdapter({
    routes,
    // The gate authenticates from headers before a body is read; the
    // interceptor authorizes against the request message before the handler.
    requestGate: authRequestGate(deps.auth, deps.logger),
    // Outermost first: the request id exists before anything logs; metrics
    // see the final, mapped code; admission comes last, so a refused or
    // unauthorized call never takes a slot.
    interceptors: [
      requestIdInterceptor(),
      metrics.interceptor,
      errorMappingInterceptor(deps.logger, metrics.onDatabaseError),
      authorizationInterceptor(),
      admissionControlInterceptor(admission, (service) => ADMISSION_EXEMPT.has(service)),
    ],
    readMaxBytes: READ_MAX_BYTES,
    maxTimeoutMs: MAX_TIMEOUT_MS,
    shutdownSignal: shutdownController.signal,
    // Responses go out uncompressed: gzip of a 4 KB ListTrips page cost more
    // CPU (server and client) than its bytes cost on a data-center network;
    // profiled at a third of the server's time. Compressed requests are still
    // accepted.
    compressMinBytes: Number.POSITIVE_INFINITY,
    ...(deps.dashboardDir === undefined ? {} : { fallback: dashboardFiles(deps.dashboardDir) }),
  });
  const httpHandler = withOpsEndpoints(withCors(handler, deps.corsAllowedOrigins ?? []), {
    metrics: metrics.registry,
    health,
  });
  const listener = new Listener(httpHandler, {
    maxConcurrentStreams: deps.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
    maxSessionMemoryMb: deps.sessionMemoryMb ?? 64,
  });
  const close = async (graceMs: number) => {
    health.shutdown();
    probe.stop();
    const force = setTimeout(() => shutdownController.abort(), graceMs);
    try {
      await listener.close(graceMs);
    } finally {
      clearTimeout(force);
    }
  };
  return { listener, shutdownController, health, admission, metrics: metrics.registry, close };
}
