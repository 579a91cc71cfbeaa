#!/usr/bin/env node
// The benchmark: one command seeds the reference dataset (once; it is kept),
// starts the server in each strategy as child processes, runs every scenario
// with our ghz-compatible load generator and writes docs/benchmarks.md from
// the figures of this run. `--quick` runs the same scenarios on a tiny
// dataset in well under two minutes, to prove they all work (CI runs it).
import { randomBytes } from "node:crypto";
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
  withConnection,
} from "@driver-analytics/db";
import { formatHtml } from "@driver-analytics/load";
import { SignJWT } from "jose";
import { BASELINE_COMMIT, buildBaseline } from "./baseline.js";
import { FULL_CPU_PLAN, QUICK_CPU_PLAN, renderCpuRows, runCpuRows } from "./cpu-section.js";
import { FULL_OVERLOAD_PLAN, QUICK_OVERLOAD_PLAN, renderOverload, runOverload } from "./overload-section.js";
import { BENCH_DATA_DIR, openDataset, type Dataset } from "./dataset.js";
import { errorPercent, fmtMs, p50, p99, ratio, resultTable, type MachineInfo } from "./markdown.js";
import { runScenario, type ScenarioResult } from "./run-scenario.js";
import { connectionsFor, FULL_PLAN, QUICK_PLAN, type BenchPlan, type Strategy } from "./scenarios.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const BARE_SERVER = fileURLToPath(new URL("./bare-server.js", import.meta.url));
const ISSUER = "driver-analytics-bench";
const AUDIENCE = "driver-analytics";
const GET_STATS = "driveranalytics.v1.DriverAnalytics.GetStats";
const HEALTH_CHECK = "grpc.health.v1.Health.Check";
const CREATE_TRIP = "driveranalytics.v1.DriverAnalytics.CreateTrip";

// The first version: one connection, and nothing refused (callers wait).
const NAIVE_ENV = {
  STRATEGY: "naive",
  DB_POOL_SIZE: "1",
  DB_MAX_WAITING: "1000000",
  DB_ACQUIRE_TIMEOUT_MS: "600000",
  DB_STATEMENT_TIMEOUT_MS: "600000",
  ADMISSION_MAX_CONCURRENCY: "1000000",
  ADMISSION_MAX_QUEUE: "1000000",
  ADMISSION_MAX_QUEUE_WAIT_MS: "600000",
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
  const secret = randomBytes(32).toString("base64");
  const token = await new SignJWT({ scope: "driver-analytics:read driver-analytics:write" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("service:bench")
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("4h")
    .sign(Buffer.from(secret));
  const baseEnv = {
    DATABASE_URL: dataset.connectionString,
    AUTH_HS256_SECRET: secret,
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
    PAGE_TOKEN_SECRET: randomBytes(32).toString("hex"),
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

    log("1. mixed GetStats + ListTrips");
    for (const concurrency of plan.mixedConcurrency) {
      for (const strategy of ["rollup", "naive"] as const) {
        await run("mixed", `c=${concurrency}`, strategy, {
          ...measure,
          concurrency,
          connections: connectionsFor(concurrency),
          workload: { kind: "mixed", mix: { stats: 50, list: 50 }, drivers, maxDepth: 5 },
        });
      }
    }

    log("2. ListTrips at page depth (keyset vs OFFSET)");
    const depthDriver = dataset.driverWithTrips.get(plan.depthDriverTrips)!;
    for (const depth of plan.pageDepths) {
      for (const strategy of ["rollup", "naive"] as const) {
        await run("depth", `page ${depth}`, strategy, {
          ...measure,
          concurrency: 16,
          connections: 4,
          workload: { kind: "page-depth", depth, drivers: { min: depthDriver, max: depthDriver }, pageSize: 50 },
        });
      }
    }

    log("3. GetStats by history size");
    for (const trips of plan.statsTripCounts) {
      const driverId = dataset.driverWithTrips.get(trips)!;
      for (const strategy of ["rollup", "live", "naive"] as const) {
        if (strategy === "naive" && trips > plan.naiveMaxTrips) continue;
        await run("stats", `${trips.toLocaleString("en-US")} trips`, strategy, {
          ...measure,
          concurrency: 16,
          connections: 4,
          call: GET_STATS,
          data: { driverId: String(driverId) },
        });
      }
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
    ["ListTrips, first page of 50", LIST_TRIPS_SQL, [reference, null, null, null, null, 51]],
    ["ListTrips, a page 25,000 trips deep (keyset)", LIST_TRIPS_SQL, [deepDriver, null, null, ...(await cursorAt(dataset, deepDriver, 25_000)), 51]],
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
async function cursorAt(dataset: Dataset, driverId: number, depth: number): Promise<[string | null, string | null]> {
  return withConnection(dataset.connectionString, async (c) => {
    const { rows } = await c.query<{ at: string; id: string }>(
      `SELECT completed_at::text AS at, id::text AS id FROM trips WHERE driver_id = $1
       ORDER BY completed_at DESC, id DESC OFFSET $2 LIMIT 1`,
      [driverId, depth - 1],
    );
    return rows[0] === undefined ? [null, null] : [rows[0].at, rows[0].id];
  });
}

async function setRollupTriggers(dataset: Dataset, enabled: boolean): Promise<void> {
  await withConnection(dataset.connectionString, async (c) => {
    for (const table of ["trips", "payments", "reviews"]) {
      await c.query(`ALTER TABLE ${table} ${enabled ? "ENABLE" : "DISABLE"} TRIGGER USER`);
    }
  });
}

interface RenderInput {
  plan: BenchPlan;
  quick: boolean;
  command: string;
  machine: MachineInfo;
  dataset: Dataset;
  results: ScenarioResult[];
  ceiling: ScenarioResult;
  overload: ScenarioResult;
  writes: ScenarioResult[];
  plans: string;
  reportsDir: string;
  outFile: string;
  totalMs: number;
}

function renderMarkdown(input: RenderInput): string {
  const { plan, results, ceiling, overload, writes } = input;
  const group = (name: string) => results.filter((r) => r.group === name);
  const find = (g: string, label: string, strategy: string) =>
    results.find((r) => r.group === g && r.label === label && r.strategy === strategy);
  const out: string[] = [];
  out.push(`# Benchmarks${input.quick ? " (quick run: checks that everything works, not how fast)" : ""}`);
  out.push("");
  out.push("Every figure below comes from one run of the command, written by it; nothing is typed by hand.");
  out.push("Server, load generator and PostgreSQL share the machine: compare rows of one run, not runs.");
  out.push("");
  out.push(`- Command: \`${input.command}\` (run from the repository root with Node.js ${input.machine.node} first on PATH; ${(input.totalMs / 1000).toFixed(0)} s in all)`);
  out.push(`- Date: ${new Date().toISOString()}`);
  out.push(`- Machine: ${input.machine.cpus}, ${input.machine.memory}, ${input.machine.os}`);
  out.push(`- Node.js: ${input.machine.node} (server, load generator and benchmark)`);
  out.push(`- PostgreSQL: ${input.machine.postgres}`);
  out.push(
    `- Dataset: ${plan.dataset.drivers.toLocaleString("en-US")} drivers x ${plan.dataset.tripsPerDriver.toLocaleString("en-US")} trips, each with payment and review, plus drivers with ${plan.dataset.heavyDrivers.map((n) => n.toLocaleString("en-US")).join(", ")} trips; reference part seeded in ${(input.dataset.seedMs / 1000).toFixed(1)} s${input.dataset.seededNow ? " (this run)" : " (an earlier run; the dataset is kept)"}`,
  );
  out.push(`- Each scenario runs ${plan.measureMs / 1000} s, closed loop unless said, gRPC via @grpc/grpc-js, 20 s deadline (ghz's default).`);
  out.push(`- Strategies: **rollup** = this service (keyset pages, stats from rollups, pool of 2 x cores, admission control); **live** = the same with the stats aggregated from raw rows per call; **naive** = the first version's design (all trips fetched and summed in Node, OFFSET pages, one connection).`);
  out.push(`- HTML reports (histogram, latency over time) for every row: \`${path.relative(path.dirname(input.outFile), input.reportsDir)}/\`.`);
  out.push("");

  out.push("## 1. Mixed GetStats + ListTrips (50/50, up to 5 pages deep)");
  out.push("");
  out.push(resultTable(group("mixed"), "clients"));
  out.push("");
  for (const c of plan.mixedConcurrency) {
    const a = find("mixed", `c=${c}`, "rollup");
    const b = find("mixed", `c=${c}`, "naive");
    if (a && b) out.push(`- ${c.toLocaleString("en-US")} clients: rollup / naive throughput = **${ratio(a.report.rps, b.report.rps)}**; errors ${errorPercent(a.report).toFixed(2)}% vs ${errorPercent(b.report).toFixed(2)}%.`);
  }
  const sat = find("mixed", `c=${plan.saturationConcurrency}`, "rollup");
  if (sat) out.push(`- At ${plan.saturationConcurrency.toLocaleString("en-US")} clients, rollup / no-database ceiling = **${ratio(sat.report.rps, ceiling.report.rps)}**.`);
  out.push("");

  out.push("## 2. ListTrips at page depth: keyset vs OFFSET");
  out.push("");
  out.push(`The ${plan.depthDriverTrips.toLocaleString("en-US")}-trip driver, 50 trips a page; a warm-up walks to the page, then only that page is requested.`);
  out.push("");
  out.push(resultTable(group("depth"), "page"));
  out.push("");
  const first = plan.pageDepths[0]!;
  const last = plan.pageDepths.at(-1)!;
  for (const strategy of ["rollup", "naive"]) {
    const a = find("depth", `page ${last}`, strategy);
    const b = find("depth", `page ${first}`, strategy);
    if (a && b) out.push(`- ${strategy}: p50 at page ${last} / page ${first} = **${ratio(p50(a), p50(b))}**, throughput ${ratio(a.report.rps, b.report.rps)}.`);
  }
  out.push("");

  out.push("## 3. GetStats by history size: rollups vs live aggregate vs naive");
  out.push("");
  out.push(resultTable(group("stats"), "driver"));
  out.push("");
  const sizes = plan.statsTripCounts.map((n) => `${n.toLocaleString("en-US")} trips`);
  for (const strategy of ["rollup", "live"]) {
    const a = find("stats", sizes.at(-1)!, strategy);
    const b = find("stats", sizes[0]!, strategy);
    if (a && b) out.push(`- ${strategy}: p50 at ${sizes.at(-1)} / at ${sizes[0]} = **${ratio(p50(a), p50(b))}**; throughput ${ratio(a.report.rps, b.report.rps)}.`);
  }
  out.push("");

  out.push("## 4. Ceiling: the same server stack without the database");
  out.push("");
  out.push("`grpc.health.v1.Health/Check` answers from memory through the same listener, interceptors and admission control.");
  out.push("");
  out.push(resultTable([ceiling], "clients"));
  out.push("");

  out.push("## 5. Overload: twice the saturation rate");
  out.push("");
  out.push(`Open loop at ${overload.label} (twice what ${plan.saturationConcurrency.toLocaleString("en-US")} closed-loop clients got), 5 s deadline.`);
  out.push("");
  out.push(resultTable([overload], "offered"));
  out.push("");
  out.push(overloadSummary(overload));
  out.push("");

  out.push("## 6. Trip ingestion (CreateTrip): what the rollups cost writers");
  out.push("");
  out.push(resultTable(writes, "rollups"));
  out.push("");
  const [on, off] = writes;
  if (on && off) out.push(`- Writes/s with rollups / without = **${ratio(on.report.rps, off.report.rps)}**; p50 ${fmtMs(p50(on))} vs ${fmtMs(p50(off))} ms, p99 ${fmtMs(p99(on))} vs ${fmtMs(p99(off))} ms.`);
  out.push("");
  out.push("## 7. Query plans on this dataset");
  out.push("");
  out.push("`EXPLAIN (ANALYZE, BUFFERS)` of each RPC's query, second execution, for the reference driver 500 (and the 100,000-trip driver for a deep page).");
  out.push("");
  out.push(input.plans);
  out.push("");
  return `${out.join("\n")}\n`;
}

function overloadSummary(result: ScenarioResult): string {
  const details = result.report.details ?? [];
  const byStatus = new Map<string, number[]>();
  for (const d of details) {
    const list = byStatus.get(d.status) ?? [];
    list.push(d.latency / 1e6);
    byStatus.set(d.status, list);
  }
  const lines: string[] = [];
  const seconds = (result.report.total ?? 0) / 1e9;
  for (const [status, latencies] of byStatus) {
    latencies.sort((a, b) => a - b);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
    lines.push(
      `- ${status}: ${latencies.length.toLocaleString("en-US")} calls (${seconds > 0 ? Math.round(latencies.length / seconds).toLocaleString("en-US") : "-"}/s), p50 ${fmtMs(q(50))} ms, p99 ${fmtMs(q(99))} ms`,
    );
  }
  return lines.join("\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
