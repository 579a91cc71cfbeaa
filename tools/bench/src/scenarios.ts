import type { LoadOptions } from "@driver-analytics/load";
import type { DatasetPlan } from "./dataset.js";

export type Strategy = "rollup" | "live" | "naive";

/** BenchPlan: everything one run measures; the full run and --quick differ only in sizes. */
export interface BenchPlan {
  dataset: DatasetPlan;
  measureMs: number;
  mixedConcurrency: number[];
  pageDepths: number[];
  /** The heavy driver whose pages are walked to depth. */
  depthDriverTrips: number;
  statsTripCounts: number[];
  /** The naive strategy is skipped above this many trips (it would fetch them all per call). */
  naiveMaxTrips: number;
  ceilingConcurrency: number;
  writeConcurrency: number;
  /** Concurrency that saturates the server, for the overload scenario's rate probe. */
  saturationConcurrency: number;
}

export const FULL_PLAN: BenchPlan = {
  dataset: { drivers: 1000, tripsPerDriver: 1000, heavyDrivers: [10_000, 100_000, 1_000_000], writerDrivers: 100 },
  measureMs: 12_000,
  mixedConcurrency: [100, 1_000, 10_000],
  pageDepths: [1, 100, 500],
  depthDriverTrips: 100_000,
  statsTripCounts: [1_000, 10_000, 100_000, 1_000_000],
  naiveMaxTrips: 100_000,
  ceilingConcurrency: 1_000,
  writeConcurrency: 50,
  saturationConcurrency: 1_000,
};

export const QUICK_PLAN: BenchPlan = {
  dataset: { drivers: 50, tripsPerDriver: 100, heavyDrivers: [1_000, 5_000], writerDrivers: 10 },
  measureMs: 1_500,
  mixedConcurrency: [10, 100, 1_000],
  pageDepths: [1, 10, 50],
  depthDriverTrips: 5_000,
  statsTripCounts: [100, 1_000, 5_000],
  naiveMaxTrips: 5_000,
  ceilingConcurrency: 100,
  writeConcurrency: 10,
  saturationConcurrency: 100,
};

/** connectionsFor spreads concurrency over HTTP/2 connections as ghz users do with --connections. */
export function connectionsFor(concurrency: number): number {
  return Math.max(1, Math.min(16, Math.floor(concurrency / 50)));
}

export type LoadShape = Omit<LoadOptions, "host" | "metadata" | "onProgress" | "signal">;

export const GET_STATS = "driveranalytics.v1.DriverAnalytics.GetStats";

export interface Scenario {
  /** The row's parameter: concurrency, page depth, trips. */
  label: string;
  strategy: Strategy;
  shape: LoadShape;
}

export interface ScenarioSection {
  group: string;
  title: string;
  scenarios: Scenario[];
}

/**
 * readScenarios lists the read scenarios (sections 1-3 of docs/benchmarks.md)
 * as data: each is one load shape against one strategy's server.
 * `driverWithTrips` maps a history size to the driver seeded with it.
 */
export function readScenarios(
  plan: BenchPlan,
  driverWithTrips: ReadonlyMap<number, number>,
  measure: Pick<LoadShape, "durationMs" | "timeoutMs" | "durationStop">,
): ScenarioSection[] {
  const drivers = { min: 1, max: plan.dataset.drivers };
  const depthDriver = driverWithTrips.get(plan.depthDriverTrips)!;
  const both = ["rollup", "naive"] as const;
  return [
    {
      group: "mixed",
      title: "1. mixed GetStats + ListTrips",
      scenarios: plan.mixedConcurrency.flatMap((concurrency) =>
        both.map((strategy) => ({
          label: `c=${concurrency}`,
          strategy,
          shape: {
            ...measure,
            concurrency,
            connections: connectionsFor(concurrency),
            workload: { kind: "mixed", mix: { stats: 50, list: 50 }, drivers, maxDepth: 5 },
          },
        })),
      ),
    },
    {
      group: "depth",
      title: "2. ListTrips at page depth (keyset vs OFFSET)",
      scenarios: plan.pageDepths.flatMap((depth) =>
        both.map((strategy) => ({
          label: `page ${depth}`,
          strategy,
          shape: {
            ...measure,
            concurrency: 16,
            connections: 4,
            workload: { kind: "page-depth", depth, drivers: { min: depthDriver, max: depthDriver }, pageSize: 50 },
          },
        })),
      ),
    },
    {
      group: "stats",
      title: "3. GetStats by history size",
      scenarios: plan.statsTripCounts.flatMap((trips) =>
        (["rollup", "live", "naive"] as const)
          .filter((strategy) => strategy !== "naive" || trips <= plan.naiveMaxTrips)
          .map((strategy) => ({
            label: `${trips.toLocaleString("en-US")} trips`,
            strategy,
            shape: {
              ...measure,
              concurrency: 16,
              connections: 4,
              call: GET_STATS,
              data: { driverId: String(driverWithTrips.get(trips)!) },
            },
          })),
      ),
    },
  ];
}
