import { setMaxListeners } from "node:events";
import { randomBytes } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Database, ReadRouter } from "@driver-analytics/db";
import { DriverAnalytics, Health } from "@driver-analytics/proto";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { GrpcServerKind } from "./config.js";
import { connectRules } from "./connect/connect-rules.js";
import { createCallPipeline } from "./core/call-pipeline.js";
import { servedService, type ServedService } from "./core/served-service.js";
import { createGrpcJsStreamHandler, isGrpcContentType } from "./grpc/grpc-js-adapter.js";
import { createAnalyticsQueries, type Strategy } from "./handlers/analytics-queries.js";
import { createDriverAnalyticsService } from "./handlers/driver-analytics-service.js";
import { PageTokenCodec } from "./handlers/page-token.js";
import { AdmissionGate } from "./http/admission-gate.js";
import { withCors } from "./http/cors.js";
import { dashboardFiles } from "./http/dashboard-files.js";
import { DEFAULT_MAX_CONCURRENT_STREAMS, Listener, type ConnectionLimits } from "./http/listener.js";
import { withOpsEndpoints } from "./http/ops-endpoints.js";
import {
  AdmissionController,
  defaultAdmissionOptions,
  type AdmissionOptions,
} from "./ops/admission/admission-controller.js";
import { EventLoopDelayMonitor } from "./ops/admission/event-loop-delay.js";
import {
  createHealthService,
  HealthMonitor,
  startDatabaseProbe,
  type DatabaseProbeOptions,
} from "./ops/health.js";
import { createServerMetrics } from "./ops/metrics.js";
import { reflectionServices } from "./ops/reflection.js";
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
  /** Connection cap and time limits on the RPC port; DEFAULT_CONNECTION_LIMITS for whatever is absent. */
  connectionLimits?: Partial<ConnectionLimits>;
  /** Serve GET /metrics on the RPC port too (/healthz always is); default true (main.ts: demo mode only). */
  metricsOnRpcPort?: boolean;
  /** Admission control limits; defaultAdmissionOptions(8) when absent. */
  admission?: AdmissionOptions;
  /** How often and how patiently the health probe asks the database. */
  healthProbe?: DatabaseProbeOptions;
  /** Process metrics (CPU, memory, GC, event loop) on /metrics; default true. */
  processMetrics?: boolean;
  /**
   * Which framework serves gRPC (application/grpc): "grpc-js" (default, the
   * cheaper one) or "connect" (connect-node, which serves Connect and
   * gRPC-Web either way).
   */
  grpcServer?: GrpcServerKind;
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
  /** The framework that serves gRPC calls (grpc-js falls back to connect if it cannot). */
  grpcServer: GrpcServerKind;
  /**
   * close drains the server: health goes NOT_SERVING and Watch streams end,
   * no new connections are accepted, HTTP/2 clients get GOAWAY, in-flight
   * calls finish; after graceMs the rest are cancelled. The database is the
   * caller's to close afterwards.
   */
  close(graceMs: number): Promise<void>;
}

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
  const eventLoop = new EventLoopDelayMonitor();
  const metrics = createServerMetrics({
    db: deps.db,
    health,
    // Scraped only once createServer has returned, when admission exists.
    admission: () => admission,
    // Scraped only once createServer has returned, when listener exists.
    connections: () => listener.stats(),
    ...(deps.processMetrics === undefined ? {} : { processMetrics: deps.processMetrics }),
  });
  const admission = new AdmissionController(deps.admission ?? defaultAdmissionOptions(8), {
    eventLoopDelayMs: () => eventLoop.delayMs(),
    observer: metrics.admission,
  });

  const services: ServedService[] = [
    servedService(DriverAnalytics, createDriverAnalyticsService({ queries, pageTokens })),
    servedService(Health, createHealthService(health)),
    ...reflectionServices([DriverAnalytics, Health]),
  ];
  const pipeline = createCallPipeline({ verifier: deps.auth, logger: deps.logger, metrics: metrics.calls });
  const rules = connectRules(
    pipeline,
    services.map((s) => s.desc),
  );
  const routes = (router: ConnectRouter) => {
    for (const { desc, impl } of services) router.service(desc, impl);
  };
  const handler = connectNodeAdapter({
    routes,
    // Authentication from headers, before a body is read; the interceptor
    // authorizes against the decoded message and runs the rest of the
    // pipeline (core/call-pipeline.ts).
    requestGate: rules.requestGate,
    interceptors: [rules.interceptor],
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
  // Admission is decided before either framework sees the call: HTTP/2
  // streams on arrival, HTTP/1.1 requests after CORS (so a browser can read
  // the refusal).
  const gate = new AdmissionGate(admission, `/${DriverAnalytics.typeName}/`);
  const grpcStream =
    (deps.grpcServer ?? "grpc-js") === "grpc-js"
      ? createGrpcJsStreamHandler(pipeline, services, { readMaxBytes: READ_MAX_BYTES })
      : undefined;
  const corsHandler = withCors(gate.wrap(handler), deps.corsAllowedOrigins ?? []);
  const httpHandler =
    withOpsEndpoints(corsHandler, { health, metrics: (deps.metricsOnRpcPort ?? true) ? metrics.registry : undefined });
  const listener = new Listener(
    {
      request: httpHandler,
      stream: (stream, headers, serveAsRequest) =>
        gate.stream(stream, headers, () =>
          grpcStream !== undefined && isGrpcContentType(headers["content-type"])
            ? grpcStream(stream, headers)
            : serveAsRequest(),
        ),
    },
    {
      maxConcurrentStreams: deps.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
      maxSessionMemoryMb: deps.sessionMemoryMb ?? 64,
      ...(deps.connectionLimits === undefined ? {} : { limits: deps.connectionLimits }),
    },
  );
  const close = async (graceMs: number) => {
    health.shutdown();
    probe.stop();
    eventLoop.stop();
    const force = setTimeout(() => shutdownController.abort(), graceMs);
    try {
      await listener.close(graceMs);
    } finally {
      clearTimeout(force);
    }
  };
  return {
    listener,
    shutdownController,
    health,
    admission,
    metrics: metrics.registry,
    grpcServer: grpcStream === undefined ? "connect" : "grpc-js",
    close,
  };
}
