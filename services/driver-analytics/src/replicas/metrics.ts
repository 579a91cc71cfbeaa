import type { ReadRouter, ReadRoute } from "@driver-analytics/db";
import { Counter, Gauge, type Registry } from "prom-client";

const ROUTES: ReadRoute[] = ["replica", "replica-waited", "primary-no-replica", "primary-stale", "primary-replica-failed"];

/**
 * registerReplicaMetrics adds the read replicas' metrics to a registry:
 * - driver_analytics_replica_lag_seconds{replica}: how long ago the primary was
 *   where the replica is now (0: it has everything); absent while unreachable;
 * - driver_analytics_replica_healthy{replica}: 1 while it serves reads;
 * - driver_analytics_reads_total{route}: reads by where they went and why.
 * With several workers the lag and health gauges are aggregated with max and
 * min (every worker probes the same replicas), the reads are summed.
 */
export function registerReplicaMetrics(registry: Registry, router: ReadRouter): void {
  new Gauge({
    name: "driver_analytics_replica_lag_seconds",
    help: "Replica lag: how long ago the primary had written WAL the replica has not replayed (0: caught up).",
    labelNames: ["replica"],
    registers: [registry],
    aggregator: "max",
    collect() {
      this.reset();
      for (const status of router.replicaStatuses()) {
        if (status.lagSeconds !== undefined) this.set({ replica: status.name }, status.lagSeconds);
      }
    },
  });
  new Gauge({
    name: "driver_analytics_replica_healthy",
    help: "1 while the replica serves reads (reachable, in recovery, lag within REPLICA_MAX_LAG_MS), else 0.",
    labelNames: ["replica"],
    registers: [registry],
    aggregator: "min",
    collect() {
      for (const status of router.replicaStatuses()) this.set({ replica: status.name }, status.healthy ? 1 : 0);
    },
  });
  const seen = new Map<ReadRoute, number>();
  new Counter({
    name: "driver_analytics_reads_total",
    help: "Reads (GetStats, ListTrips, GetEarningsSeries) by route: replica, replica-waited (for a consistency token), primary-no-replica, primary-stale (no replica replayed the token in REPLICA_WAIT_MS), primary-replica-failed.",
    labelNames: ["route"],
    registers: [registry],
    collect() {
      const now = router.readsByRoute();
      for (const route of ROUTES) {
        const count = now.get(route) ?? 0;
        this.inc({ route }, count - (seen.get(route) ?? 0));
        seen.set(route, count);
      }
    },
  });
}
