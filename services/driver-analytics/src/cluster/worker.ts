// The worker side of a WORKERS=N process group.
import cluster from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";
import { METRICS_REQUEST, METRICS_RESPONSE, type MetricsRequest, type MetricsResponse } from "./messages.js";

const METRICS_TIMEOUT_MS = 5_000;

/**
 * exposeClusterMetrics makes a worker's /metrics report the whole process
 * group: the worker offers its registry to the primary's AggregatorRegistry
 * (prom-client sums counters and histograms across workers; gauges use their
 * own aggregator) and answers a scrape with the primary's aggregate. A no-op
 * outside a cluster worker. It replaces registry.metrics() in place, so the
 * /metrics endpoint needs no change.
 */
export function exposeClusterMetrics(registry: Registry): void {
  if (!cluster.isWorker) return;
  // Constructing one installs prom-client's worker-side IPC listener.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  process.on("message", (message: unknown) => {
    if (typeof message !== "object" || message === null) return;
    const response = message as Partial<MetricsResponse>;
    if (response.type !== METRICS_RESPONSE || typeof response.id !== "number") return;
    const waiter = pending.get(response.id);
    if (waiter === undefined) return;
    pending.delete(response.id);
    if ("text" in response && typeof response.text === "string") waiter.resolve(response.text);
    else waiter.reject(new Error(`cluster metrics failed: ${"error" in response ? response.error : "no answer"}`));
  });
  registry.metrics = () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error("cluster metrics timed out"));
      }, METRICS_TIMEOUT_MS);
      pending.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      const request: MetricsRequest = { type: METRICS_REQUEST, id };
      process.send?.(request);
    });
}
