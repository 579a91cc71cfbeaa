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
