import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { DatabaseUnavailableError, QueryTimeoutError, type Database } from "@driver-analytics/db";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { AdmissionController, ShedReason } from "./admission-control.js";
import type { HealthMonitor } from "./health.js";
import { CONNECTION_CLOSE_REASONS, type ConnectionStats } from "../http/listener.js";

/**
 * ServerMetrics is the server's Prometheus registry. Names follow
 * go-grpc-prometheus (grpc_server_*) so existing gRPC dashboards and alerts
 * work unchanged; the rest are prefixed driver_analytics_.
 */
export interface ServerMetrics {
  registry: Registry;
  /** interceptor counts and times every call; install it outside error mapping so it sees final codes. */
  interceptor: Interceptor;
  /** onShed counts a call refused by admission control. */
  onShed(reason: ShedReason): void;
  /** onDatabaseError counts a call's failure that came from the database. */
  onDatabaseError(error: unknown): void;
}

export interface MetricsSources {
  db: Database;
  health: HealthMonitor;
  /** Set after construction: admission control reports into these metrics. */
  admission: () => AdmissionController | undefined;
  /** The RPC port's connections (the Listener's stats); set after construction. */
  connections?: () => ConnectionStats | undefined;
  /** Process metrics (CPU, memory, event-loop lag, GC). Off in tests that start many servers. */
  processMetrics?: boolean;
}

// Calls here take from ~1 ms (a rollup) to seconds (a cold aggregate, a queue).
const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** createServerMetrics registers every metric on a registry of its own (no global state). */
export function createServerMetrics(sources: MetricsSources): ServerMetrics {
  const registry = new Registry();
  if (sources.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const labelNames = ["grpc_type", "grpc_service", "grpc_method"] as const;

  const started = new Counter({
    name: "grpc_server_started_total",
    help: "RPCs started on the server.",
    labelNames,
    registers: [registry],
  });
  const handled = new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, by status code.",
    labelNames: [...labelNames, "grpc_code"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Time from the call reaching the handler chain (after the request is parsed) to its status.",
    labelNames: [...labelNames, "grpc_code"],
    buckets: LATENCY_BUCKETS_S,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: "grpc_server_in_flight",
    help: "RPCs in the handler chain now: admitted, queued for admission, or exempt.",
    labelNames: ["grpc_service"],
    registers: [registry],
  });
  const shed = new Counter({
    name: "driver_analytics_shed_total",
    help: "Calls refused with UNAVAILABLE by admission control, by reason.",
    labelNames: ["reason"],
    registers: [registry],
  });
  for (const reason of ["queue-full", "deadline", "queue-timeout"] satisfies ShedReason[]) shed.inc({ reason }, 0);
  const dbErrors = new Counter({
    name: "driver_analytics_db_errors_total",
    help: "Calls failed by the database: unavailable (unreachable, restarting) or timeout (statement_timeout).",
    labelNames: ["kind"],
    registers: [registry],
  });
  dbErrors.inc({ kind: "unavailable" }, 0);
  dbErrors.inc({ kind: "timeout" }, 0);

  const { db, health } = sources;
  let connectionErrorsSeen = 0;
  new Counter({
    name: "driver_analytics_db_connection_errors_total",
    help: "Idle pool connections lost (database restarts, network failures).",
    registers: [registry],
    collect() {
      const now = db.connectionErrors;
      this.inc(now - connectionErrorsSeen);
      connectionErrorsSeen = now;
    },
  });
  new Gauge({
    name: "driver_analytics_db_pool_connections",
    help: "Pool connections open, by state.",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const stats = db.poolStats();
      this.set({ state: "total" }, stats.total);
      this.set({ state: "idle" }, stats.idle);
    },
  });
  new Gauge({
    name: "driver_analytics_db_pool_waiting",
    help: "Queries waiting for a pool connection.",
    registers: [registry],
    collect() {
      this.set(db.poolStats().waiting);
    },
  });
  new Gauge({
    name: "driver_analytics_database_up",
    help: "1 while the health probe reaches the database (health SERVING), else 0.",
    registers: [registry],
    collect() {
      this.set(health.serving ? 1 : 0);
    },
  });
  new Gauge({
    name: "driver_analytics_admission",
    help: "Admission control: calls running, calls queued, and the configured limits.",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const admission = sources.admission();
      if (admission === undefined) return;
      const stats = admission.stats();
      this.set({ state: "in_flight" }, stats.inFlight);
      this.set({ state: "queued" }, stats.queued);
      this.set({ state: "max_concurrency" }, admission.options.maxConcurrency);
      this.set({ state: "max_queue" }, admission.options.maxQueue);
    },
  });
  new Gauge({
    name: "driver_analytics_admission_service_time_seconds",
    help: "Moving average of an admitted call's running time, used to predict queue waits.",
    registers: [registry],
    collect() {
      const admission = sources.admission();
      if (admission !== undefined) this.set(admission.stats().serviceTimeMs / 1000);
    },
  });

  new Gauge({
    name: "driver_analytics_connections",
    help: "Connections open on the RPC port, by state (sniffing: protocol or HTTP/2 handshake not done yet), and the cap (MAX_CONNECTIONS).",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const stats = sources.connections?.();
      if (stats === undefined) return;
      this.set({ state: "sniffing" }, stats.open.sniffing);
      this.set({ state: "http1" }, stats.open.http1);
      this.set({ state: "http2" }, stats.open.http2);
      this.set({ state: "max" }, stats.limits.maxConnections);
    },
  });
  const closedSeen = new Map<string, number>();
  new Counter({
    name: "driver_analytics_connections_closed_total",
    help: "Connections the server closed on its own: refused at MAX_CONNECTIONS, or past a connection time limit.",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      const stats = sources.connections?.();
      for (const reason of CONNECTION_CLOSE_REASONS) {
        const now = stats?.closed[reason] ?? 0;
        this.inc({ reason }, now - (closedSeen.get(reason) ?? 0));
        closedSeen.set(reason, now);
      }
    },
  });

  const interceptor: Interceptor = (next) => async (request) => {
    const labels = {
      grpc_type: methodType(request.method.methodKind),
      grpc_service: request.service.typeName,
      grpc_method: request.method.name,
    };
    started.inc(labels);
    inFlight.inc({ grpc_service: labels.grpc_service });
    const begin = performance.now();
    let code = "OK";
    try {
      return await next(request);
    } catch (error) {
      code = codeName(ConnectError.from(error).code);
      throw error;
    } finally {
      inFlight.dec({ grpc_service: labels.grpc_service });
      handled.inc({ ...labels, grpc_code: code });
      latency.observe({ ...labels, grpc_code: code }, (performance.now() - begin) / 1000);
    }
  };

  return {
    registry,
    interceptor,
    onShed: (reason) => shed.inc({ reason }),
    onDatabaseError(error) {
      if (error instanceof DatabaseUnavailableError) dbErrors.inc({ kind: "unavailable" });
      else if (error instanceof QueryTimeoutError) dbErrors.inc({ kind: "timeout" });
    },
  };
}

function methodType(kind: string): string {
  switch (kind) {
    case "unary":
      return "unary";
    case "server_streaming":
      return "server_stream";
    case "client_streaming":
      return "client_stream";
    default:
      return "bidi_stream";
  }
}

/** codeName spells a code as grpc-go does (OK, Canceled, DeadlineExceeded, ...), for dashboard compatibility. */
function codeName(code: Code): string {
  return Code[code] ?? "Unknown";
}
