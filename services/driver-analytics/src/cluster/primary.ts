// The primary of a WORKERS=N process group (node:cluster): it forks N server
// processes that share the port (the primary accepts connections and hands
// them out round-robin), replaces a worker that dies, drains them all on
// SIGTERM/SIGINT, and answers the workers' /metrics with the whole group's.
import cluster, { type Worker } from "node:cluster";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { AggregatorRegistry, Counter, Gauge, Registry } from "prom-client";
import { METRICS_REQUEST, METRICS_RESPONSE, type MetricsRequest, type MetricsResponse } from "./messages.js";

export interface ClusterPrimaryOptions {
  workers: number;
  logger: Logger;
  /** Environment added to every worker's (the database URL, shared secrets...). */
  workerEnv: Record<string, string>;
  /** How long workers may drain on SIGTERM (their SHUTDOWN_GRACE_MS); the primary waits this plus a margin. */
  graceMs: number;
  /** Called once, when every worker listens. */
  onListening?: (address: AddressInfo) => void;
  /** Called after every worker has exited on shutdown (e.g. stop the embedded PostgreSQL). */
  onStopped?: () => Promise<void>;
}

// A worker that dies within this long of starting counts as a crash loop:
// replacements then wait longer, up to MAX_RESPAWN_DELAY_MS.
const HEALTHY_UPTIME_MS = 10_000;
const MAX_RESPAWN_DELAY_MS = 30_000;

/** runClusterPrimary forks the workers and supervises them until SIGTERM/SIGINT, then exits. */
export function runClusterPrimary(options: ClusterPrimaryOptions): void {
  const { logger } = options;
  const registry = new Registry();
  const aggregator = new AggregatorRegistry();
  new Gauge({
    name: "driver_analytics_cluster_workers",
    help: "Worker processes alive in this process group (WORKERS).",
    registers: [registry],
    collect() {
      this.set(Object.keys(cluster.workers ?? {}).length);
    },
  });
  const restarts = new Counter({
    name: "driver_analytics_cluster_worker_restarts_total",
    help: "Workers that died and were replaced.",
    registers: [registry],
  });

  const startedAt = new Map<number, number>();
  const listening = new Set<number>();
  let announced = false;
  let stopping = false;
  let recentCrashes = 0;

  const fork = (): Worker => {
    const worker = cluster.fork(options.workerEnv);
    startedAt.set(worker.id, Date.now());
    worker.on("message", (message: unknown) => void onMessage(worker, message));
    return worker;
  };

  const onMessage = async (worker: Worker, message: unknown) => {
    if (!isMetricsRequest(message)) return;
    let reply: MetricsResponse;
    try {
      const [group, own] = await Promise.all([aggregator.clusterMetrics(), registry.metrics()]);
      reply = { type: METRICS_RESPONSE, id: message.id, text: `${group}\n${own}` };
    } catch (error) {
      reply = { type: METRICS_RESPONSE, id: message.id, error: error instanceof Error ? error.message : String(error) };
    }
    if (worker.isConnected()) worker.send(reply);
  };

  cluster.on("listening", (worker, address) => {
    listening.add(worker.id);
    if (!announced && listening.size >= options.workers) {
      announced = true;
      logger.info({ workers: options.workers, address: `${address.address}:${address.port}` }, "cluster listening");
      options.onListening?.({ address: address.address ?? "127.0.0.1", port: address.port, family: "IPv4" });
    }
  });

  cluster.on("exit", (worker, code, signal) => {
    listening.delete(worker.id);
    const uptimeMs = Date.now() - (startedAt.get(worker.id) ?? Date.now());
    startedAt.delete(worker.id);
    if (stopping) {
      logger.info({ worker: worker.id, pid: worker.process.pid, code, signal }, "worker stopped");
      if (Object.keys(cluster.workers ?? {}).length === 0) void finish();
      return;
    }
    recentCrashes = uptimeMs < HEALTHY_UPTIME_MS ? recentCrashes + 1 : 0;
    const delayMs = recentCrashes <= 1 ? 0 : Math.min(MAX_RESPAWN_DELAY_MS, 250 * 2 ** (recentCrashes - 1));
    logger.error(
      { worker: worker.id, pid: worker.process.pid, code, signal, uptimeMs, respawnInMs: delayMs },
      "worker died: starting a replacement",
    );
    restarts.inc();
    setTimeout(() => {
      if (!stopping) fork();
    }, delayMs);
  });

  let exitCode = 0;
  cluster.on("exit", (_worker, code, signal) => {
    if (stopping && (code !== 0 || signal !== null)) exitCode = 1;
  });

  const finish = async () => {
    try {
      await options.onStopped?.();
    } catch (error) {
      logger.error({ err: error }, "stopping after the workers failed");
      exitCode = 1;
    }
    logger.info("stopped");
    process.exit(exitCode);
  };

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    logger.info({ signal, workers: alive.length, graceMs: options.graceMs }, "shutting down: draining every worker");
    setTimeout(() => {
      logger.error("workers did not stop in time: killing them");
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGKILL");
      exitCode = 1;
    }, options.graceMs + 15_000).unref();
    if (alive.length === 0) void finish();
    // Each worker drains itself on SIGTERM (health NOT_SERVING, stop
    // accepting, GOAWAY, finish in-flight calls) and exits 0.
    for (const worker of alive) worker.process.kill("SIGTERM");
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));

  for (let i = 0; i < options.workers; i++) fork();
}

function isMetricsRequest(message: unknown): message is MetricsRequest {
  return typeof message === "object" && message !== null && (message as { type?: unknown }).type === METRICS_REQUEST;
}
