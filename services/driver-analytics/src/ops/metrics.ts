import { Code } from "@connectrpc/connect";
import { DatabaseUnavailableError, QueryTimeoutError, type Database } from "@driver-analytics/db";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { CallMetrics, MethodRef } from "../core/call-pipeline.js";
import { SHED_REASONS, type AdmissionController, type AdmissionObserver, type ShedReason } from "./admission/admission-controller.js";
import type { HealthMonitor } from "./health.js";
import { PlainHistogram, type HistogramSeries } from "./plain-histogram.js";
import { CONNECTION_CLOSE_REASONS, type ConnectionStats } from "../http/listener.js";

/**
 * ServerMetrics is the server's Prometheus registry. Names follow
 * go-grpc-prometheus (grpc_server_*) so existing gRPC dashboards and alerts
 * work unchanged; the rest are prefixed driver_analytics_.
 */
export interface ServerMetrics {
  registry: Registry;
  /** calls counts and times every call that reaches the call pipeline, by final code. */
  calls: CallMetrics;
  /** admission counts admitted and refused calls and their queue time. */
  admission: AdmissionObserver;
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

  // What every call updates is counted in plain numbers (MethodSeries,
  // PlainHistogram) and handed to prom-client when it is scraped: prom-client's
  // own inc/observe hash the label set on every call: 4-13 µs of a ~380 µs
  // GetStats (--cpu-prof), and a refusal is counted here too.
  interface MethodSeries {
    labels: Record<(typeof labelNames)[number], string>;
    started: number;
    inFlight: number;
    /** By code name: calls finished, and their latency. */
    handled: Map<string, { count: number; latency: HistogramSeries }>;
  }
  // By MethodRef.key: each framework's adapter has MethodRefs of its own, and
  // a method's calls are one series whichever framework served them.
  const methodSeries = new Map<string, MethodSeries>();
  new Counter({
    name: "grpc_server_started_total",
    help: "RPCs started on the server.",
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of methodSeries.values()) this.inc(s.labels, s.started);
    },
  });
  new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, by status code.",
    labelNames: [...labelNames, "grpc_code"],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of methodSeries.values()) for (const [code, h] of s.handled) this.inc({ ...s.labels, grpc_code: code }, h.count);
    },
  });
  const latency = new PlainHistogram(
    "grpc_server_handling_seconds",
    "Time from the call reaching the handler chain (after the request is parsed) to its status.",
    LATENCY_BUCKETS_S,
    registry,
  );
  new Gauge({
    name: "grpc_server_in_flight",
    help: "RPCs in the call pipeline now (admitted, or exempt from admission).",
    labelNames: ["grpc_service"],
    registers: [registry],
    collect() {
      this.reset();
      const byService = new Map<string, number>();
      for (const s of methodSeries.values()) byService.set(s.labels.grpc_service, (byService.get(s.labels.grpc_service) ?? 0) + s.inFlight);
      for (const [service, n] of byService) this.set({ grpc_service: service }, n);
    },
  });
  const shed = new Map<ShedReason, number>(SHED_REASONS.map((reason) => [reason, 0]));
  new Counter({
    name: "driver_analytics_shed_total",
    help: "Calls refused with UNAVAILABLE by admission control, by reason.",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of shed) this.inc({ reason }, n);
    },
  });
  const queueTime = new PlainHistogram(
    "driver_analytics_admission_queue_seconds",
    "How long admitted calls waited in the admission queue (0 for calls admitted at once).",
    [0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registry,
  ).series();
  new Counter({
    name: "driver_analytics_admitted_total",
    help: "Calls admitted by admission control (at once or after waiting).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(queueTime.count);
    },
  });
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
    help: "Admission control: calls running, calls queued, the adaptive concurrency limit and the queue's cap.",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const admission = sources.admission();
      if (admission === undefined) return;
      const stats = admission.stats();
      this.set({ state: "in_flight" }, stats.inFlight);
      this.set({ state: "queued" }, stats.queued);
      this.set({ state: "limit" }, stats.limit);
      this.set({ state: "max_concurrency" }, admission.options.maxConcurrency);
      this.set({ state: "max_queue" }, admission.options.maxQueue);
    },
  });
  new Gauge({
    name: "driver_analytics_admission_latency_seconds",
    help: "Admitted calls' latency: recent mean, and the long-term average the adaptive limit judges the latest against.",
    labelNames: ["stat"],
    registers: [registry],
    collect() {
      const admission = sources.admission();
      if (admission === undefined) return;
      const stats = admission.stats();
      this.set({ stat: "mean" }, stats.latencyMs / 1000);
      this.set({ stat: "long_term" }, stats.longLatencyMs / 1000);
    },
  });
  new Gauge({
    name: "driver_analytics_admission_wait_estimate_scale",
    help: "What queue-wait estimates by Little's law are scaled by, learnt from waits while they were pessimistic (1: as estimated).",
    registers: [registry],
    collect() {
      const admission = sources.admission();
      if (admission !== undefined) this.set(admission.stats().littleBias);
    },
  });
  new Gauge({
    name: "driver_analytics_event_loop_delay_seconds",
    help: "The event loop's mean delay over the last 100 ms, which admission control refuses new calls above.",
    registers: [registry],
    collect() {
      const admission = sources.admission();
      if (admission !== undefined) this.set(admission.stats().eventLoopDelayMs / 1000);
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


  const seriesOf = (method: MethodRef): MethodSeries => {
    let s = methodSeries.get(method.key);
    if (s === undefined) {
      const labels = { grpc_type: methodType(method.kind), grpc_service: method.service, grpc_method: method.name };
      s = { labels, started: 0, inFlight: 0, handled: new Map() };
      methodSeries.set(method.key, s);
    }
    return s;
  };

  const calls: CallMetrics = {
    started(method) {
      const s = seriesOf(method);
      s.started++;
      s.inFlight++;
    },
    finished(method, code, seconds) {
      const s = seriesOf(method);
      const name = code === undefined ? "OK" : codeName(code);
      let h = s.handled.get(name);
      if (h === undefined) {
        h = { count: 0, latency: latency.series({ ...s.labels, grpc_code: name }) };
        s.handled.set(name, h);
      }
      s.inFlight--;
      h.count++;
      h.latency.observe(seconds);
    },
    databaseError(error) {
      if (error instanceof DatabaseUnavailableError) dbErrors.inc({ kind: "unavailable" });
      else if (error instanceof QueryTimeoutError) dbErrors.inc({ kind: "timeout" });
    },
  };

  return {
    registry,
    calls,
    admission: {
      onAdmit: (queuedMs) => queueTime.observe(queuedMs / 1000),
      onShed: (reason) => shed.set(reason, (shed.get(reason) ?? 0) + 1),
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
