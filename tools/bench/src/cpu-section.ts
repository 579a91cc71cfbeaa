import { runLoad, type LoadOptions, type Report } from "@driver-analytics/load";
import { cpuSplit, sampleCpu, type CpuSplit } from "./cpu.js";
import type { ServerProcess } from "./server-process.js";
import type { ServerUnderTest } from "./overload-section.js";

/** CpuPlan: sizes for issue 11's per-call rows; --quick shrinks durations and clients. */
export interface CpuPlan {
  measureMs: number;
  /** Closed loop for the per-call rows: in flight, connections. */
  concurrency: number;
  connections: number;
  mixedClients: number;
  manyClients: number;
  manyConnections: number;
  drivers: number;
}

export const FULL_CPU_PLAN: Omit<CpuPlan, "drivers"> = {
  measureMs: 10_000,
  concurrency: 200,
  connections: 8,
  mixedClients: 1_000,
  manyClients: 10_000,
  manyConnections: 16,
};

export const QUICK_CPU_PLAN: Omit<CpuPlan, "drivers"> = {
  measureMs: 1_500,
  concurrency: 50,
  connections: 4,
  mixedClients: 200,
  manyClients: 500,
  manyConnections: 4,
};

type Call = "GetStats" | "ListTrips(50)" | "Health/Check" | "mixed";

export interface CpuRow {
  server: string;
  call: Call;
  clients: number;
  report: Report;
  cpu: CpuSplit;
  /** Server CPU per completed call, µs. */
  serverUsPerCall: number;
}

function shape(call: Call, plan: CpuPlan): Partial<LoadOptions> {
  const driver = `{{randomInt 1 ${plan.drivers}}}`;
  switch (call) {
    case "GetStats":
      return { call: "driveranalytics.v1.DriverAnalytics.GetStats", data: { driver_id: driver } };
    case "ListTrips(50)":
      return { call: "driveranalytics.v1.DriverAnalytics.ListTrips", data: { driver_id: driver, page_size: 50 } };
    case "Health/Check":
      return { call: "grpc.health.v1.Health.Check", data: { service: "driveranalytics.v1.DriverAnalytics" } };
    case "mixed":
      return { workload: { kind: "mixed", mix: { stats: 50, list: 50 }, drivers: { min: 1, max: plan.drivers }, maxDepth: 5 } };
  }
}

async function measure(server: ServerProcess, name: string, call: Call, plan: CpuPlan, token: string, clients: number, connections: number): Promise<CpuRow> {
  const before = sampleCpu(server.pid);
  const started = performance.now();
  const report = await runLoad({
    host: server.address,
    metadata: { authorization: `Bearer ${token}` },
    concurrency: clients,
    connections,
    durationMs: plan.measureMs,
    timeoutMs: 20_000,
    durationStop: "wait",
    ...shape(call, plan),
  } as LoadOptions);
  const wallUs = (performance.now() - started) * 1000;
  const cpu = cpuSplit(before, sampleCpu(server.pid), wallUs);
  const serverUsPerCall = (cpu.serverCores * wallUs) / Math.max(1, report.count);
  return { server: name, call, clients, report, cpu, serverUsPerCall };
}

/**
 * runCpuRows measures, back to back on one machine, what each server spends
 * per call: the bare frameworks with the same handlers (the floor), the
 * full service with gRPC on connect-node and on grpc-js, and the baseline
 * commit; then the mixed workload at 1,000 clients and 10,000 clients over
 * 16 connections. The grpc-js load client is on the same cores: its share
 * is in every row.
 */
export async function runCpuRows(
  servers: readonly ServerUnderTest[],
  plan: CpuPlan,
  token: string,
  log: (line: string) => void,
): Promise<CpuRow[]> {
  const rows: CpuRow[] = [];
  for (const target of servers) {
    const server = await target.start();
    try {
      const bare = target.name.startsWith("bare");
      // Warm-up: JIT, pool, page cache.
      await measure(server, target.name, bare ? "GetStats" : "mixed", { ...plan, measureMs: Math.min(3_000, plan.measureMs) }, token, plan.concurrency, plan.connections);
      const calls: Call[] = bare ? ["GetStats", "ListTrips(50)"] : ["GetStats", "ListTrips(50)", "Health/Check", "mixed"];
      for (const call of calls) {
        const row = await measure(server, target.name, call, plan, token, plan.concurrency, plan.connections);
        rows.push(row);
        logRow(log, row);
      }
      if (!bare) {
        for (const [clients, connections] of [
          [plan.mixedClients, Math.min(16, Math.max(1, plan.mixedClients / 50))],
          [plan.manyClients, plan.manyConnections],
        ] as const) {
          const row = await measure(server, target.name, "mixed", plan, token, clients, connections);
          rows.push(row);
          logRow(log, row);
        }
      }
    } finally {
      await server.stop();
    }
  }
  return rows;
}

function logRow(log: (line: string) => void, row: CpuRow): void {
  log(
    `  ${row.server.padEnd(22)} ${row.call.padEnd(14)} c=${String(row.clients).padEnd(6)} ${Math.round(row.report.rps)}/s ` +
      `server ${Math.round(row.serverUsPerCall)} µs/call, client ${row.cpu.loadCores.toFixed(2)} cores, errors ${errors(row.report)}`,
  );
}

function errors(report: Report): number {
  return report.count - (report.statusCodeDistribution.OK ?? 0);
}

function p(report: Report, q: number): number {
  return (report.latencyDistribution.find((l) => l.percentage === q)?.latency ?? NaN) / 1e6;
}

/** renderCpuRows: the per-call table and the ratios issue 11 sets targets for. */
export function renderCpuRows(rows: readonly CpuRow[], plan: CpuPlan, names: { full: string; fullConnect: string; baseline?: string }): string[] {
  const out: string[] = [];
  out.push(
    `Closed loop, grpc-js client on the same cores (its share is the "client cores" column), ${plan.concurrency} in flight over ${plan.connections} connections unless the row says otherwise.`,
  );
  out.push("");
  out.push("| server | call | clients | calls/s | server CPU per call (µs) | server cores | client cores | other (PostgreSQL) cores | p50 ms | p99 ms | errors |");
  out.push("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    out.push(
      `| ${r.server} | ${r.call} | ${r.clients} | ${Math.round(r.report.rps)} | ${Math.round(r.serverUsPerCall)} | ${r.cpu.serverCores.toFixed(2)} | ` +
        `${r.cpu.loadCores.toFixed(2)} | ${r.cpu.otherCores.toFixed(2)} | ${p(r.report, 50).toFixed(1)} | ${p(r.report, 99).toFixed(1)} | ${errors(r.report)} |`,
    );
  }
  const find = (server: string, call: Call, clients = plan.concurrency) => rows.find((r) => r.server === server && r.call === call && r.clients === clients);
  // A row whose calls failed measured failing, not serving: no ratio from it.
  const valid = (r: CpuRow | undefined): r is CpuRow => r !== undefined && errors(r.report) <= r.report.count / 100;
  const ratio = (a: CpuRow | undefined, b: CpuRow | undefined, f: (r: CpuRow) => number) =>
    valid(a) && valid(b) ? (f(a) / f(b)).toFixed(2) : "- (a row failed)";
  const cpu = (r: CpuRow) => r.serverUsPerCall;
  out.push("");
  out.push("Ratios from the rows above (targets from issue 11 in brackets):");
  out.push("");
  for (const call of ["GetStats", "ListTrips(50)"] as const) {
    out.push(`- ${call}: full service on grpc-js / bare grpc-js, server CPU per call = **${ratio(find(names.full, call), find("bare grpc-js", call), cpu)}** (≤ 1.1)`);
    out.push(`- ${call}: full service on connect-node / bare connect-node = **${ratio(find(names.fullConnect, call), find("bare connect-node", call), cpu)}**`);
    out.push(`- ${call}: gRPC path (grpc-js) / connect-node path, full service = **${ratio(find(names.full, call), find(names.fullConnect, call), cpu)}** (≤ 0.5)`);
  }
  for (const server of [names.full, names.fullConnect, "bare grpc-js"]) {
    out.push(`- ${server}: ListTrips(50) / GetStats server CPU per call = **${ratio(find(server, "ListTrips(50)"), find(server, "GetStats"), cpu)}** (≤ 1.5)`);
  }
  if (names.baseline !== undefined) {
    out.push(
      `- Mixed at ${plan.mixedClients.toLocaleString("en-US")} clients over gRPC: this commit / ${names.baseline} throughput = **${ratio(find(names.full, "mixed", plan.mixedClients), find(names.baseline, "mixed", plan.mixedClients), (r) => r.report.rps)}** (≥ 2)`,
    );
  }
  const many = find(names.full, "mixed", plan.manyClients);
  if (many) {
    out.push(
      `- ${plan.manyClients.toLocaleString("en-US")} clients over ${plan.manyConnections} connections: ${errors(many.report)} errors; p99 / p50 = **${(p(many.report, 99) / p(many.report, 50)).toFixed(2)}** (0 errors, ≤ 1.5)`,
    );
  }
  const ceiling = find(names.full, "Health/Check");
  const mixed = find(names.full, "mixed");
  if (ceiling && mixed) out.push(`- Mixed / Health/Check (the machine's ceiling through the same stack) = **${ratio(mixed, ceiling, (r) => r.report.rps)}**`);
  return out;
}
