#!/usr/bin/env node
// The benchmark: one command seeds the reference dataset (once; it is kept),
// starts the server in each strategy as child processes, runs every scenario
// with our ghz-compatible load generator and writes docs/benchmarks.md from
// the figures of this run. `--quick` runs the same scenarios on a tiny
// dataset in well under two minutes, to prove they all work (CI runs it).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  DRIVER_STATS_LIVE_SQL,
  DRIVER_STATS_ROLLUP_SQL,
  DRIVER_STATS_ROLLUP_WINDOW_SQL,
  EARNINGS_SERIES_SQL,
  LIST_TRIPS_SQL,
  listTripsPageParams,
  withConnection,
  type TripCursor,
} from "@driver-analytics/db";
import { formatHtml } from "@driver-analytics/load";
import { benchAuth } from "./bench-auth.js";
import { BASELINE_COMMIT, buildBaseline } from "./baseline.js";
import { FULL_CPU_PLAN, QUICK_CPU_PLAN, renderCpuRows, runCpuRows } from "./cpu-section.js";
import { FULL_OVERLOAD_PLAN, QUICK_OVERLOAD_PLAN, renderOverload, runOverload } from "./overload-section.js";
import { measureRefusalCost, renderRefusalCost } from "./refusal-cost.js";
import { BENCH_DATA_DIR, openDataset, type Dataset } from "./dataset.js";
import { renderMarkdown, type MachineInfo } from "./markdown.js";
import { runScenario, type ScenarioResult } from "./run-scenario.js";
import { connectionsFor, FULL_PLAN, QUICK_PLAN, readScenarios, type BenchPlan, type Strategy } from "./scenarios.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const BARE_SERVER = fileURLToPath(new URL("./bare-server.js", import.meta.url));
const HEALTH_CHECK = "grpc.health.v1.Health.Check";
const CREATE_TRIP = "driveranalytics.v1.DriverAnalytics.CreateTrip";
// Calls per second offered to the refusal-only servers: about 4x this machine's GetStats capacity.
const REFUSAL_RATE = 8_000;

// The first version: one connection, and nothing refused (callers wait).
const NAIVE_ENV = {
  STRATEGY: "naive",
  DB_POOL_SIZE: "1",
  DB_MAX_WAITING: "1000000",
  DB_ACQUIRE_TIMEOUT_MS: "600000",
  DB_STATEMENT_TIMEOUT_MS: "600000",
  // The first version had no admission control: a fixed limit nobody reaches.
  ADMISSION_INITIAL_CONCURRENCY: "1000000",
  ADMISSION_MIN_CONCURRENCY: "1000000",
  ADMISSION_MAX_CONCURRENCY: "1000000",
  ADMISSION_MAX_QUEUE: "1000000",
  ADMISSION_MAX_QUEUE_WAIT_MS: "600000",
  ADMISSION_MAX_EVENT_LOOP_DELAY_MS: "600000",
};

async function main(): Promise<void> {
  // pnpm forwards the `--` of `pnpm bench -- --quick` verbatim.
  const args = process.argv.slice(2).filter((arg) => arg !== "--");
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      out: { type: "string" },
      "data-dir": { type: "string" },
    },
  });
  const quick = values.quick;
  const plan = quick ? QUICK_PLAN : FULL_PLAN;
  const command = `npx -y pnpm@10.34.8 bench${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`;
  // --out is relative to where the user ran pnpm (INIT_CWD), not to this package.
  const outFile =
    values.out !== undefined
      ? path.resolve(process.env.INIT_CWD ?? process.cwd(), values.out)
      : quick
        ? path.join(await mkdtemp(path.join(os.tmpdir(), "bench-")), "benchmarks.md")
        : path.join(REPO, "docs/benchmarks.md");
  const reportsDir = path.join(path.dirname(outFile), "bench-reports");
  // The reports are this run's: none may survive from an earlier one.
  await rm(reportsDir, { recursive: true, force: true });
  await mkdir(reportsDir, { recursive: true });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = performance.now();

  const dataset = await openDataset(plan.dataset, values["data-dir"] ?? (quick ? `${BENCH_DATA_DIR}-quick` : BENCH_DATA_DIR), log);
  const { token, env: authEnv } = await benchAuth(["driver-analytics:read", "driver-analytics:write"], 4 * 3600);
  const baseEnv = {
    DATABASE_URL: dataset.connectionString,
    ...authEnv,
    // Each server is stopped between sections: no balancer to wait for.
    SHUTDOWN_DRAIN_DELAY_MS: "0",
  };
  const servers: Record<Strategy, ServerProcess> = {
    rollup: await startServerProcess({ ...baseEnv, STRATEGY: "rollup" }),
    live: await startServerProcess({ ...baseEnv, STRATEGY: "live" }),
    naive: await startServerProcess({ ...baseEnv, ...NAIVE_ENV }),
  };
  const results: ScenarioResult[] = [];
  const run = async (...args: Parameters<typeof runScenario> extends [unknown, unknown, ...infer Rest] ? Rest : never) => {
    const [group, label, strategy] = args;
    const server = strategy === "ceiling" ? servers.rollup : servers[strategy];
    const result = await runScenario(server, token, ...args);
    results.push(result);
    const file = `${group}-${label}-${strategy}`.replace(/[^a-z0-9-]+/gi, "_");
    await writeFile(path.join(reportsDir, `${file}.html`), formatHtml(result.report));
    return result;
  };

  try {
    const drivers = { min: 1, max: plan.dataset.drivers };
    // "wait": calls in flight when time is up finish and count, rather than
    // being cancelled and reported as errors (ghz's default "close").
    const measure = { durationMs: plan.measureMs, timeoutMs: 20_000, durationStop: "wait" as const };

    // Groups 1-3 are plain data (scenarios.ts); 4-6 depend on earlier results or change the database.
    for (const section of readScenarios(plan, dataset.driverWithTrips, measure)) {
      log(section.title);
      for (const sc of section.scenarios) await run(section.group, sc.label, sc.strategy, sc.shape);
    }

    log("4. ceiling: the same server stack, no database (health check)");
    const ceiling = await run("ceiling", `c=${plan.ceilingConcurrency}`, "ceiling", {
      ...measure,
      concurrency: plan.ceilingConcurrency,
      connections: connectionsFor(plan.ceilingConcurrency),
      call: HEALTH_CHECK,
      data: { service: "driveranalytics.v1.DriverAnalytics" },
    });

    log("5. overload: twice the saturation rate, open loop");
    const saturated = results.find((r) => r.group === "mixed" && r.strategy === "rollup" && r.label === `c=${plan.saturationConcurrency}`)!;
    const offered = Math.round(saturated.report.rps * 2);
    const overload = await run("overload", `${offered}/s offered`, "rollup", {
      ...measure,
      rps: offered,
      concurrency: Math.max(plan.mixedConcurrency.at(-1)!, 100),
      connections: 16,
      timeoutMs: 5_000,
      details: true,
      workload: { kind: "mixed", mix: { stats: 50, list: 50 }, drivers, maxDepth: 5 },
    });

    log("6. trip ingestion, rollups on and off");
    const writes: ScenarioResult[] = [];
    for (const rollups of ["on", "off"] as const) {
      if (rollups === "off") await setRollupTriggers(dataset, false);
      try {
        writes.push(
          await run("writes", `rollups ${rollups}`, "rollup", {
            ...measure,
            concurrency: plan.writeConcurrency,
            connections: 4,
            call: CREATE_TRIP,
            data: JSON.stringify({
              requestId: "{{newUUID}}",
              driverId: `{{randomInt ${dataset.writerRange.min} ${dataset.writerRange.max}}}`,
              status: "TRIP_STATUS_COMPLETED",
              startTime: "2025-06-01T10:00:00Z",
              completeTime: "2025-06-01T10:20:00Z",
              distanceMeters: "5000",
              fare: { currencyCode: "USD", amountMinor: "1500" },
              tip: { currencyCode: "USD", amountMinor: "100" },
            }),
          }),
        );
      } finally {
        if (rollups === "off") await setRollupTriggers(dataset, true);
      }
    }
    // The trips written with triggers off have no rollups yet: rebuild the writers'.
    await withConnection(dataset.connectionString, (c) =>
      c.query("SELECT rebuild_driver_rollups(array(SELECT generate_series($1::int8, $2::int8)))", [
        dataset.writerRange.min,
        dataset.writerRange.max,
      ]),
    );

    // The strategies' servers are done: the sections below start their own, one at a time.
    for (const server of Object.values(servers)) await server.stop();
    const rollupEnv = { ...baseEnv, STRATEGY: "rollup" };
    const baseline = await buildBaseline(BASELINE_COMMIT, log);
    const baselineTarget =
      "main" in baseline
        ? { name: `baseline ${BASELINE_COMMIT}`, start: () => startServerProcess(rollupEnv, [baseline.main]) }
        : undefined;
    if ("error" in baseline) log(`  ${baseline.error}`);
    const full = { name: "this commit, gRPC on grpc-js", start: () => startServerProcess(rollupEnv) };
    const fullConnect = {
      name: "this commit, gRPC on connect-node",
      start: () => startServerProcess({ ...rollupEnv, GRPC_SERVER: "connect" }),
    };
    const bare = (kind: "connect" | "grpc-js") => ({
      name: `bare ${kind === "connect" ? "connect-node" : "grpc-js"}`,
      start: () => startServerProcess(rollupEnv, [BARE_SERVER, kind]),
    });

    log("7. per-call CPU: bare frameworks, the full service on each, the baseline");
    const cpuPlan = { ...(quick ? QUICK_CPU_PLAN : FULL_CPU_PLAN), drivers: plan.dataset.drivers };
    const cpuRows = await runCpuRows(
      [bare("grpc-js"), bare("connect"), full, fullConnect, ...(baselineTarget ? [baselineTarget] : [])],
      cpuPlan,
      token,
      log,
    );

    log("8. overload without collapse: open loop, this commit and the baseline");
    const overloadPlan = { ...(quick ? QUICK_OVERLOAD_PLAN : FULL_OVERLOAD_PLAN), drivers: plan.dataset.drivers };
    const overloadResults = [];
    for (const target of [full, ...(baselineTarget ? [baselineTarget] : [])]) {
      overloadResults.push(await runOverload(target, overloadPlan, token, log));
    }
    const refusalCosts = [];
    for (const server of ["gate", "bare", "haproxy"] as const) {
      const cost = await measureRefusalCost(server, REFUSAL_RATE, quick ? 1_500 : 8_000);
      if (cost === undefined) {
        log(`  refusal alone, ${server}: skipped, not installed (apt-get install haproxy)`);
        continue;
      }
      log(`  refusal alone, ${server}: ${Math.round(cost.refusedPerSecond)}/s, ${Math.round(cost.serverUsPerRefusal)} µs server CPU per refusal`);
      refusalCosts.push(cost);
    }
    const extra = [
      "",
      "## 8. CPU per call: the service against its frameworks' floor",
      "",
      ...("error" in baseline ? [`(${baseline.error})`, ""] : []),
      ...renderCpuRows(cpuRows, cpuPlan, {
        full: full.name,
        fullConnect: fullConnect.name,
        ...(baselineTarget ? { baseline: baselineTarget.name } : {}),
      }),
      "",
      "## 9. Overload without collapse: open-loop load above capacity",
      "",
      ...renderOverload(overloadResults, overloadPlan),
      "",
      ...renderRefusalCost(refusalCosts, overloadResults[0]?.serverCpuPerCallUs["stats 0.8x"]),
      "",
      "## Other benchmarks, each from its own command",
      "",
      "- `docs/scale-out-benchmarks.md`: 1 vs 2 workers, direct and through HAProxy, primary vs replica reads (`npx -y pnpm@10.34.8 bench:scale-out`).",
      "- `docs/tracing-benchmarks.md`: what OpenTelemetry tracing costs per call (`npx -y pnpm@10.34.8 --filter @driver-analytics/bench run tracing-cost`).",
      "",
    ];

    const plans = await explainQueries(dataset, plan);

    const machine: MachineInfo = {
      cpus: `${os.cpus().length} x ${os.cpus()[0]?.model.trim() ?? "unknown"}`,
      memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
      node: process.version,
      postgres: `${dataset.postgresVersion} (embedded, shared_buffers 1GB, max_parallel_workers_per_gather 0, random_page_cost 1.1)`,
      os: `${os.type()} ${os.release()}`,
    };
    const markdown = renderMarkdown({ plan, quick, command, machine, dataset, results, ceiling, overload, writes, plans, reportsDir, outFile, totalMs: performance.now() - started });
    await writeFile(outFile, markdown + extra.join("\n"));
    log(`wrote ${outFile} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    for (const server of Object.values(servers)) await server.stop();
    await dataset.stop();
  }
}

/** explainQueries prints the plans each RPC's query runs with on the benchmark dataset. */
async function explainQueries(dataset: Dataset, plan: BenchPlan): Promise<string> {
  const reference = Math.min(500, plan.dataset.drivers);
  const deepDriver = dataset.driverWithTrips.get(plan.depthDriverTrips)!;
  const window = ["2025-03-01T09:30:00Z", "2025-06-15T17:45:00Z"];
  const queries: Array<[string, string, unknown[]]> = [
    ["GetStats, all time, from the rollups", DRIVER_STATS_ROLLUP_SQL, [reference]],
    ["GetStats, a window, from the rollups", DRIVER_STATS_ROLLUP_WINDOW_SQL, [reference, ...window]],
    ["GetStats, all time, live aggregate (STRATEGY=live)", DRIVER_STATS_LIVE_SQL, [reference, null, null]],
    ["ListTrips, first page of 50", LIST_TRIPS_SQL, listTripsPageParams({ driverId: BigInt(reference), window: {}, pageSize: 50 })],
    [
      "ListTrips, a page 25,000 trips deep (keyset)",
      LIST_TRIPS_SQL,
      listTripsPageParams({ driverId: BigInt(deepDriver), window: {}, pageSize: 50, after: await cursorAt(dataset, deepDriver, 25_000) }),
    ],
    ["GetEarningsSeries, 90 days", EARNINGS_SERIES_SQL, [reference, "2025-03-01", "2025-05-30", "1 day", "day"]],
  ];
  return withConnection(dataset.connectionString, async (c) => {
    const sections: string[] = [];
    for (const [title, sql, params] of queries) {
      await c.query(`EXPLAIN (ANALYZE) ${sql}`, params); // warm the cache, as a serving database is
      const { rows } = await c.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      sections.push(`### ${title}\n\n\`\`\`\n${rows.map((r) => r["QUERY PLAN"]).join("\n")}\n\`\`\``);
    }
    return sections.join("\n\n");
  });
}

/** cursorAt is the keyset cursor after the driver's first `depth` trips, newest first. */
async function cursorAt(dataset: Dataset, driverId: number, depth: number): Promise<TripCursor | undefined> {
  return withConnection(dataset.connectionString, async (c) => {
    const { rows } = await c.query<{ at: string; id: string }>(
      `SELECT (extract(epoch FROM completed_at) * 1000000)::int8::text AS at, id::text AS id FROM trips
       WHERE driver_id = $1 ORDER BY completed_at DESC, id DESC OFFSET $2 LIMIT 1`,
      [driverId, depth - 1],
    );
    return rows[0] === undefined ? undefined : { completedAtMicros: BigInt(rows[0].at), id: BigInt(rows[0].id) };
  });
}

async function setRollupTriggers(dataset: Dataset, enabled: boolean): Promise<void> {
  await withConnection(dataset.connectionString, async (c) => {
    for (const table of ["trips", "payments", "reviews"]) {
      await c.query(`ALTER TABLE ${table} ${enabled ? "ENABLE" : "DISABLE"} TRIGGER USER`);
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
