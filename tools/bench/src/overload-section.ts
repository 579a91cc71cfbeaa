import { runLoad, type LoadOptions, type Report } from "@driver-analytics/load";
import { cpuSplit, sampleCpu, type CpuSplit } from "./cpu.js";
import { runClosedLoop, runOpenLoop, summarize, type CallRecord, type OpenLoopSummary, type OpenLoopWorkload } from "./open-loop.js";
import type { ServerProcess } from "./server-process.js";

/** OverloadPlan: the sizes of issue 15's proof; --quick shrinks only durations. */
export interface OverloadPlan {
  measureMs: number;
  /** How long each row's own capacity is measured for, just before it. */
  capacityMs: number;
  levels: number[];
  deadlineMs: number;
  connections: number;
  closedLoopClients: number;
  drivers: number;
}

export const FULL_OVERLOAD_PLAN: Omit<OverloadPlan, "drivers"> = {
  measureMs: 10_000,
  capacityMs: 4_000,
  levels: [0.8, 1.5, 2, 4],
  deadlineMs: 2_000,
  connections: 16,
  closedLoopClients: 10_000,
};

export const QUICK_OVERLOAD_PLAN: Omit<OverloadPlan, "drivers"> = {
  measureMs: 1_500,
  capacityMs: 1_000,
  levels: [0.8, 2, 4],
  deadlineMs: 2_000,
  connections: 4,
  closedLoopClients: 500,
};

/** ServerUnderTest: a name for the tables and how to start it. */
export interface ServerUnderTest {
  name: string;
  start: () => Promise<ServerProcess>;
}

/** A row and the capacity it is a multiple of: measured just before it (the machine drifts within a run). */
interface Measured {
  capacity: number;
  summary: OpenLoopSummary;
  /** Cores busy, by whom, while the capacity was measured and during the row (absent: a part of a longer run). */
  cores?: { atCapacity: CpuSplit; inRow: CpuSplit };
}

interface LevelRow extends Measured {
  workload: OpenLoopWorkload;
  level: string;
}

export interface OverloadResult {
  server: string;
  rows: LevelRow[];
  coldStart: Measured;
  recoveryFirst: Measured;
  recoverySecond: Measured;
  retryStorm: Measured;
  closedLoop: Report;
  serverCpuPerCallUs: Record<string, number>;
}

/**
 * runOverload is issue 15's proof for one server: its closed-loop capacity,
 * then open-loop load at multiples of it (GetStats and mixed), a retry storm,
 * recovery from 4x, 10,000 closed-loop clients, and a cold start at 0.8x of
 * the warm capacity.
 */
export async function runOverload(
  target: ServerUnderTest,
  plan: OverloadPlan,
  token: string,
  log: (line: string) => void,
): Promise<OverloadResult> {
  const cpuPerCall: Record<string, number> = {};
  let server = await target.start();
  // Each run returns who kept the cores busy while it ran: on 2 shared
  // cores the generator's share is the server's loss.
  const open = async (
    label: string,
    workload: OpenLoopWorkload,
    rate: (ms: number) => number,
    durationMs: number,
    { retryRefused = false, stepAtMs }: { retryRefused?: boolean; stepAtMs?: number } = {},
  ) => {
    const before = sampleCpu(server.pid);
    const started = performance.now();
    const records = await runOpenLoop({
      address: server.address,
      token,
      connections: plan.connections,
      rate,
      durationMs,
      deadlineMs: plan.deadlineMs,
      workload,
      drivers: plan.drivers,
      retryRefused,
      ...(stepAtMs === undefined ? {} : { stepAtMs }),
    });
    const cpu = cpuSplit(before, sampleCpu(server.pid), (performance.now() - started) * 1000);
    const s = summarize(records);
    cpuPerCall[label] = (cpu.serverCores * ((performance.now() - started) / 1000) * 1e6) / Math.max(1, records.length);
    log(
      `  ${target.name.padEnd(10)} ${label.padEnd(18)} offered ${Math.round(s.offeredPerSecond)}/s ok ${Math.round(s.okPerSecond)}/s ` +
        `(${pct(s.okShare)}) refused ${pct(s.refusedShare)} p99 ${fmt(s.refusedP99Ms)} ms, deadline ${pct(s.deadlineShare)}, ` +
        `lost with a connection ${pct(s.connectionLostShare)}, ` +
        `admitted p99 ${fmt(s.admittedP99Ms)} ms, generator lag p99 ${fmt(s.sendLagP99Ms)} ms, cores ${coresText(cpu)}`,
    );
    return { records, cores: cpu };
  };
  try {
    // The closed-loop crowd: the load tool (grpc-js, ghz's 20 s deadline), mixed workload.
    const closedLoopCrowd = () =>
      runLoad({
        host: server.address,
        metadata: { authorization: `Bearer ${token}` },
        concurrency: plan.closedLoopClients,
        connections: plan.connections,
        durationMs: plan.measureMs,
        timeoutMs: 20_000,
        durationStop: "wait",
        workload: { kind: "mixed", mix: { stats: 50, list: 50 }, drivers: { min: 1, max: plan.drivers }, maxDepth: 1 },
      } as LoadOptions);
    // Warm the JIT and the pool, then measure capacity as the issue did: 200 in
    // flight over 8 connections, with the open loop's own client.
    const capacityOf = async (workload: OpenLoopWorkload, durationMs: number) => {
      const before = sampleCpu(server.pid);
      const started = performance.now();
      const { okPerSecond } = await runClosedLoop({
        address: server.address,
        token,
        connections: 8,
        concurrency: 200,
        durationMs,
        deadlineMs: 20_000,
        workload,
        drivers: plan.drivers,
      });
      return { capacity: okPerSecond, cores: cpuSplit(before, sampleCpu(server.pid), (performance.now() - started) * 1000) };
    };
    await capacityOf("mixed", Math.min(3_000, plan.measureMs));
    // Each row is offered a multiple of the capacity measured just before it:
    // this machine's speed drifts by tens of percent within a run, and a rate
    // from minutes earlier made a 0.8x row an overload (or a 2x row 1.5x).
    const freshCapacity = async (workload: OpenLoopWorkload) => {
      const measured = await capacityOf(workload, plan.capacityMs);
      log(`  ${target.name.padEnd(10)} capacity now: ${workload} ${Math.round(measured.capacity)}/s`);
      await pause(500);
      return measured;
    };
    // A row of one open-loop run, a multiple of the capacity measured just before it.
    const measuredRow = (before: { capacity: number; cores: CpuSplit }, run: { records: CallRecord[]; cores: CpuSplit }): Measured => ({
      capacity: before.capacity,
      summary: summarize(run.records),
      cores: { atCapacity: before.cores, inRow: run.cores },
    });
    const rows: LevelRow[] = [];
    for (const workload of ["stats", "mixed"] as const) {
      for (const level of plan.levels) {
        const before = await freshCapacity(workload);
        const run = await open(`${workload} ${level}x`, workload, () => level * before.capacity, plan.measureMs);
        rows.push({ workload, level: `${level}x`, ...measuredRow(before, run) });
        await pause(1_000);
      }
    }
    const stormCapacity = await freshCapacity("stats");
    const retryStorm = measuredRow(
      stormCapacity,
      await open("retry storm 2x", "stats", () => 2 * stormCapacity.capacity, plan.measureMs, { retryRefused: true }),
    );
    await pause(1_000);
    const drop = plan.measureMs;
    const recoveryCapacity = (await freshCapacity("stats")).capacity;
    const { records: recovery } = await open(
      "recovery 4x->0.8x",
      "stats",
      (ms) => (ms < drop ? 4 : 0.8) * recoveryCapacity,
      2 * plan.measureMs,
      { stepAtMs: drop },
    );
    const half = Math.min(5_000, plan.measureMs / 2);
    const recoveryFirst = { capacity: recoveryCapacity, summary: summarize(recovery, drop, drop + half) };
    const recoverySecond = { capacity: recoveryCapacity, summary: summarize(recovery, drop + half, 2 * drop) };
    await pause(1_000);
    const closedLoop = await closedLoopCrowd();
    log(`  ${target.name.padEnd(10)} ${plan.closedLoopClients} closed-loop clients: ${Math.round(closedLoop.rps)}/s, errors ${closedLoop.count - (closedLoop.statusCodeDistribution.OK ?? 0)} ${errorCodes(closedLoop)}`);

    // A rolling deploy: a fresh process gets its full share of the warm capacity at once.
    const warm = await freshCapacity("stats");
    await server.stop();
    server = await target.start();
    const coldStart = measuredRow(warm, await open("cold start 0.8x", "stats", () => 0.8 * warm.capacity, plan.measureMs));
    return {
      server: target.name,
      rows,
      coldStart,
      recoveryFirst,
      recoverySecond,
      retryStorm,
      closedLoop,
      serverCpuPerCallUs: cpuPerCall,
    };
  } finally {
    await server.stop();
  }
}

/** renderOverload: the issue's table, the servers side by side, from one run. */
export function renderOverload(results: readonly OverloadResult[], plan: OverloadPlan): string[] {
  const out: string[] = [];
  out.push(
    `Open loop (a gRPC client writing HTTP/2 frames itself, tools/bench/src/h2-grpc-client.ts, offering calls on a fixed schedule, ${plan.connections} connections, ` +
      `${plan.deadlineMs / 1000} s deadline, ${plan.measureMs / 1000} s per row; latency from each call's scheduled start). ` +
      `Capacity: the same server's closed-loop rate at 200 in flight over 8 connections, with the same client, measured for ${plan.capacityMs / 1000} s just before each row (the machine's speed drifts within a run; each row is a multiple of its own, shown in the offered column). ` +
      `The generator shares the 2 cores with the server and PostgreSQL: grpc-js's client spent 364 µs of CPU per GetStats call, one on node:http2 213 µs, this one about 50-90 µs ` +
      `(its lag behind its schedule is the last column: small, the figures are the server's). ` +
      `But its CPU grows with the offered rate while the server's capacity was measured beside a generator offering 1x: the cores columns show who kept the 2 cores busy ` +
      `(server / generator / the rest, PostgreSQL and the kernel) while the row's capacity was measured and during the row. ` +
      `Other: any other status, and calls lost with a connection the server ended (GOAWAY, or closed), after which the generator reconnects, as grpc-js does.`,
  );
  out.push("");
  out.push(
    "| server | workload | offered | offered/s | goodput/s | goodput / capacity | OK | admitted p50 / p99 ms | refused | refusal p50 / p99 ms | DEADLINE_EXCEEDED | other | generator lag p99 ms | cores at capacity | cores in the row |",
  );
  out.push("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of results) {
    for (const row of r.rows) out.push(levelLine(r.server, row.workload, `${row.level} of ${Math.round(row.capacity)}/s`, row));
    out.push(levelLine(r.server, "stats", `retry storm: 2x of ${Math.round(r.retryStorm.capacity)}/s, refused calls retried once after their pushback`, r.retryStorm));
    out.push(levelLine(r.server, "stats", `recovery: first 5 s at 0.8x after 4x of ${Math.round(r.recoveryFirst.capacity)}/s`, r.recoveryFirst));
    out.push(levelLine(r.server, "stats", "recovery: next 5 s at 0.8x", r.recoverySecond));
    out.push(levelLine(r.server, "stats", `cold start: 0.8x of the warm ${Math.round(r.coldStart.capacity)}/s from the first second`, r.coldStart));
  }
  out.push("");
  out.push(`${plan.closedLoopClients.toLocaleString("en-US")} closed-loop clients (mixed, ${plan.connections} connections, 20 s deadline):`);
  out.push("");
  out.push("| server | calls/s | OK | errors | errors by code | p50 ms | p99 ms |");
  out.push("|---|---|---|---|---|---|---|");
  for (const r of results) {
    const errors = r.closedLoop.count - (r.closedLoop.statusCodeDistribution.OK ?? 0);
    const p = (q: number) => fmt((r.closedLoop.latencyDistribution.find((l) => l.percentage === q)?.latency ?? NaN) / 1e6);
    out.push(
      `| ${r.server} | ${Math.round(r.closedLoop.rps)} | ${r.closedLoop.statusCodeDistribution.OK ?? 0} | ${errors} | ${errorCodes(r.closedLoop) || "-"} | ${p(50)} | ${p(99)} |`,
    );
  }
  out.push("");
  const perCall = results.map((r) => `${r.server}: ${Object.entries(r.serverCpuPerCallUs).map(([k, v]) => `${k} ${Math.round(v)} µs`).join(", ")}`);
  out.push(`Server CPU per offered call (served or refused): ${perCall.join("; ")}.`);
  return out;
}

function levelLine(server: string, workload: string, label: string, { summary: s, capacity, cores }: Measured): string {
  return (
    `| ${server} | ${workload} | ${label} | ${Math.round(s.offeredPerSecond)} | ${Math.round(s.okPerSecond)} | ${(s.okPerSecond / capacity).toFixed(2)} | ` +
    `${pct(s.okShare)} | ${fmt(s.admittedP50Ms)} / ${fmt(s.admittedP99Ms)} | ${pct(s.refusedShare)} | ${fmt(s.refusedP50Ms)} / ${fmt(s.refusedP99Ms)} | ` +
    `${pct(s.deadlineShare)} | ${pct(s.otherShare)}${s.connectionLostShare > 0 ? ` (${pct(s.connectionLostShare)} lost with a connection)` : ""} | ${fmt(s.sendLagP99Ms)} | ${coresText(cores?.atCapacity)} | ${coresText(cores?.inRow)} |`
  );
}

/** coresText: "0.95 / 0.31 / 0.62", server / generator / the rest. */
function coresText(split: CpuSplit | undefined): string {
  return split === undefined ? "-" : `${split.serverCores.toFixed(2)} / ${split.loadCores.toFixed(2)} / ${split.otherCores.toFixed(2)}`;
}

/** errorCodes: "Unavailable 12, DeadlineExceeded 3" for a closed-loop report. */
function errorCodes(report: Report): string {
  return Object.entries(report.statusCodeDistribution)
    .filter(([code]) => code !== "OK")
    .map(([code, n]) => `${code} ${n}`)
    .join(", ");
}

function pct(share: number): string {
  return `${(100 * share).toFixed(1)}%`;
}

function fmt(ms: number): string {
  return Number.isNaN(ms) ? "-" : ms < 10 ? ms.toFixed(1) : Math.round(ms).toString();
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

