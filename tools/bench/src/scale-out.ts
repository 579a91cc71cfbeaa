#!/usr/bin/env node
// The scale-out benchmark, one command:
//
//   npx -y pnpm@10.34.8 bench:scale-out            (about 2 minutes)
//   npx -y pnpm@10.34.8 bench:scale-out -- --quick (CI-sized, under a minute)
//
// A throwaway PostgreSQL 15 primary and streaming replica (system binaries,
// pg_basebackup -R), a small seeded dataset, then the same mixed read load
// (GetStats and ListTrips walks, 50/50, via @driver-analytics/load) against:
// 1 and 2 worker processes (WORKERS), direct and through HAProxy
// (deploy/haproxy/haproxy.cfg, two single-worker processes), reads on the
// primary and on the replica. For each: calls/s, latency, and CPU per call
// of the server processes, HAProxy, and each PostgreSQL (from /proc, whole
// process trees), so the figures extrapolate to other core counts.
// Writes docs/scale-out-benchmarks.md (or --out FILE).
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { findFreePort, seedDataset } from "@driver-analytics/db";
import { startReplicaPair, type ReplicaPair } from "@driver-analytics/db/testing/replica-pair";
import { runLoad, type Report } from "@driver-analytics/load";
import { benchAuth } from "./bench-auth.js";
import { haproxyInstalled, startServerProcess, type ServerProcess } from "./server-process.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const HAPROXY_CFG = path.join(REPO, "deploy/haproxy/haproxy.cfg");
const TICKS_PER_SECOND = 100;

interface Row {
  name: string;
  workers: string;
  path: "direct" | "HAProxy";
  reads: "primary" | "replica";
  report: Report;
  wallS: number;
  cpuUs: { server: number; haproxy: number; pgPrimary: number; pgReplica: number; load: number };
}

// CPU of a process and its live descendants, plus what its reaped children used.
function treeCpuMicros(root: number): number {
  const stats = new Map<number, { ppid: number; own: number; children: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      stats.set(Number(entry), { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) });
    } catch {
      // gone meanwhile
    }
  }
  let ticks = 0;
  const visit = (pid: number, isRoot: boolean) => {
    const s = stats.get(pid);
    if (s === undefined) return;
    ticks += s.own + (isRoot ? s.children : 0);
    for (const [child, c] of stats) if (c.ppid === pid) visit(child, false);
  };
  visit(root, true);
  return (ticks * 1e6) / TICKS_PER_SECOND;
}

const postmasterPid = (dataDir: string) => Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((arg) => arg !== "--");
  const { values } = parseArgs({ args, options: { quick: { type: "boolean" }, out: { type: "string" } } });
  const quick = values.quick ?? false;
  const out = path.resolve(process.env.INIT_CWD ?? process.cwd(), values.out ?? path.join(REPO, "docs/scale-out-benchmarks.md"));
  const measureMs = quick ? 2_000 : 10_000;
  const drivers = quick ? 50 : 500;
  const tripsPerDriver = quick ? 100 : 500;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const loadAverageAtStart = os.loadavg()[0]!;
  if (!haproxyInstalled()) throw new Error("haproxy is not installed (apt-get install haproxy)");

  log(`scale-out benchmark: PostgreSQL 15 primary + replica, ${drivers} drivers x ${tripsPerDriver} trips`);
  const pair: ReplicaPair = await startReplicaPair({ settings: { shared_buffers: "'256MB'" } });
  const children: ChildProcess[] = [];
  try {
    await seedDataset(pair.primaryUrl, { drivers, tripsPerDriver, reviewRatio: 0.8, cancelledRatio: 0.04, seed: 1 });
    await pair.waitForReplay(120_000);
    const { token, env: authEnv } = await benchAuth(["driver-analytics:read", "driver-analytics:write"], 4 * 3600);
    const baseEnv = {
      DATABASE_URL: pair.primaryUrl,
      ...authEnv,
      // The same total pool whatever the worker count: 4 connections per database server.
      DB_POOL_SIZE: "4",
    };
    const pgPrimary = postmasterPid(pair.primaryDir);
    const pgReplica = postmasterPid(pair.replicaDir);
    const rows: Row[] = [];

    const measure = async (
      name: string,
      meta: Omit<Row, "name" | "report" | "wallS" | "cpuUs">,
      target: string,
      servers: ServerProcess[],
      haproxyPid: number | undefined,
    ) => {
      const shape = {
        host: target,
        metadata: { authorization: `Bearer ${token}` },
        concurrency: 64,
        connections: 4,
        timeoutMs: 10_000,
        durationStop: "wait" as const,
        workload: { kind: "mixed" as const, mix: { stats: 50, list: 50 }, drivers: { min: 1, max: drivers }, maxDepth: 3 },
      };
      await runLoad({ ...shape, durationMs: quick ? 500 : 2_000 }); // warm-up: connections, plans, caches
      const sample = () => ({
        server: servers.reduce((sum, s) => sum + treeCpuMicros(s.pid), 0),
        haproxy: haproxyPid === undefined ? 0 : treeCpuMicros(haproxyPid),
        pgPrimary: treeCpuMicros(pgPrimary),
        pgReplica: treeCpuMicros(pgReplica),
        load: process.cpuUsage().user + process.cpuUsage().system,
      });
      const before = sample();
      const started = performance.now();
      const report = await runLoad({ ...shape, durationMs: measureMs, name });
      const wallS = (performance.now() - started) / 1000;
      const after = sample();
      const cpuUs = {
        server: after.server - before.server,
        haproxy: after.haproxy - before.haproxy,
        pgPrimary: after.pgPrimary - before.pgPrimary,
        pgReplica: after.pgReplica - before.pgReplica,
        load: after.load - before.load,
      };
      const row: Row = { name, ...meta, report, wallS, cpuUs };
      rows.push(row);
      const ok = report.statusCodeDistribution.OK ?? 0;
      log(
        `  ${name.padEnd(34)} ${Math.round(report.rps).toString().padStart(6)}/s  errors ${report.count - ok}  ` +
          `server ${perCall(row, "server")} µs/call  PG ${perCall(row, "pgPrimary")}+${perCall(row, "pgReplica")} µs/call`,
      );
    };

    for (const reads of ["primary", "replica"] as const) {
      const replicaEnv: Record<string, string> = reads === "replica" ? { DATABASE_REPLICA_URLS: pair.replicaUrl } : {};
      for (const workers of [1, 2]) {
        const server = await startServerProcess({ ...baseEnv, ...replicaEnv, WORKERS: String(workers) });
        await waitForWorkers(server.address, workers);
        await measure(`${workers} worker${workers > 1 ? "s" : ""}, direct, ${reads} reads`, { workers: String(workers), path: "direct", reads }, server.address, [server], undefined);
        await server.stop();
      }
      // Two single-worker processes behind HAProxy, each with half the pool.
      const halves = [
        await startServerProcess({ ...baseEnv, ...replicaEnv, DB_POOL_SIZE: "2" }),
        await startServerProcess({ ...baseEnv, ...replicaEnv, DB_POOL_SIZE: "2" }),
      ];
      const front = `127.0.0.1:${await findFreePort()}`;
      const haproxy = spawn("haproxy", ["-db", "-f", HAPROXY_CFG], {
        env: {
          ...process.env,
          DA_LISTEN: front,
          DA_STATS: `127.0.0.1:${await findFreePort()}`,
          DA_BACKEND_1: halves[0]!.address,
          DA_BACKEND_2: halves[1]!.address,
        },
        stdio: ["ignore", "ignore", "ignore"],
      });
      children.push(haproxy);
      await waitForHealthy(front);
      await measure(`2 x 1 worker, HAProxy, ${reads} reads`, { workers: "2 x 1", path: "HAProxy", reads }, front, halves, haproxy.pid);
      haproxy.kill("SIGTERM");
      await Promise.all(halves.map((s) => s.stop()));
    }

    await writeFile(out, markdown(rows, { quick, drivers, tripsPerDriver, measureMs, loadAverageAtStart }));
    log(`wrote ${path.relative(process.cwd(), out)}`);
  } finally {
    for (const child of children) child.kill("SIGKILL");
    await pair.destroy();
  }
}

function perCall(row: Row, key: keyof Row["cpuUs"]): string {
  const ok = row.report.statusCodeDistribution.OK ?? 0;
  return ok === 0 ? "-" : Math.round(row.cpuUs[key] / ok).toString();
}

async function waitForWorkers(address: string, workers: number): Promise<void> {
  // The port accepts once the first worker listens; give the rest a moment.
  await waitForHealthy(address);
  if (workers > 1) await new Promise((resolve) => setTimeout(resolve, 1_500));
}

async function waitForHealthy(address: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`http://${address}/healthz`)).ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${address} did not become healthy`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function ms(report: Report, percentage: number): string {
  const point = report.latencyDistribution.find((p) => p.percentage === percentage);
  return point === undefined ? "-" : (point.latency / 1e6).toFixed(1);
}

function markdown(
  rows: Row[],
  plan: { quick: boolean; drivers: number; tripsPerDriver: number; measureMs: number; loadAverageAtStart: number },
): string {
  const cores = os.availableParallelism();
  const lines: string[] = [];
  lines.push("# Scale-out benchmark");
  lines.push("");
  lines.push(
    `Written by \`npx -y pnpm@10.34.8 bench:scale-out${plan.quick ? " -- --quick" : ""}\` on ${new Date().toISOString().slice(0, 10)}, ` +
      `Node ${process.version}, ${cores} cores (${os.cpus()[0]?.model ?? "unknown CPU"}) shared by the load generator, the server processes, ` +
      `HAProxy and both PostgreSQL servers${plan.quick ? " (quick run: tiny dataset, short measurements; shape only, not figures)" : ""}. ` +
      `Load average when it started: ${plan.loadAverageAtStart.toFixed(1)}` +
      (plan.loadAverageAtStart > cores / 2 ? " (the machine was busy with other work: absolute figures are pessimistic and noisy)." : "."),
  );
  lines.push("");
  lines.push(
    `Workload: mixed reads, 50% GetStats and 50% ListTrips walks up to 3 pages deep, 64 closed-loop callers over 4 HTTP/2 ` +
      `connections (gRPC), ${plan.drivers} drivers x ${plan.tripsPerDriver} trips, ${plan.measureMs / 1000} s per row after a warm-up. ` +
      `PostgreSQL 15 primary and a streaming replica (pg_basebackup -R) on loopback; DB_POOL_SIZE=4 in total for every row.`,
  );
  lines.push("");
  lines.push(
    "With 2 cores for everything, throughput is bounded by the machine, not by the service: compare the **CPU per call** columns " +
      "(from /proc, each process tree) rather than calls/s. µs = CPU microseconds per successful call.",
  );
  lines.push("");
  lines.push("| configuration | calls/s | p50 ms | p99 ms | errors | server µs | HAProxy µs | PG primary µs | PG replica µs | load gen µs |");
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const row of rows) {
    const ok = row.report.statusCodeDistribution.OK ?? 0;
    lines.push(
      `| ${row.name} | ${Math.round(row.report.rps)} | ${ms(row.report, 50)} | ${ms(row.report, 99)} | ${row.report.count - ok} | ` +
        `${perCall(row, "server")} | ${row.path === "HAProxy" ? perCall(row, "haproxy") : "-"} | ${perCall(row, "pgPrimary")} | ` +
        `${perCall(row, "pgReplica")} | ${perCall(row, "load")} |`,
    );
  }
  lines.push("");
  lines.push("## What the figures extrapolate to (arithmetic, not measured)");
  lines.push("");
  lines.push(
    "Calls/s a host could serve if its cores did only this tier's work: cores x 1,000,000 / (CPU µs per call). " +
      "Assumes CPU per call stays flat as cores are added (no lock or memory-bandwidth contention), which a real run must confirm.",
  );
  lines.push("");
  lines.push("| configuration | server tier, 8 cores | server tier, 16 cores | PostgreSQL (primary + replicas), 8 cores | PostgreSQL, 16 cores |");
  lines.push("|---|---:|---:|---:|---:|");
  for (const row of rows) {
    const ok = row.report.statusCodeDistribution.OK ?? 0;
    if (ok === 0) continue;
    const server = (row.cpuUs.server + row.cpuUs.haproxy) / ok;
    const pg = (row.cpuUs.pgPrimary + row.cpuUs.pgReplica) / ok;
    const at = (coresN: number, us: number) => Math.round((coresN * 1e6) / us).toLocaleString("en-US");
    lines.push(`| ${row.name} | ${at(8, server)} | ${at(16, server)} | ${at(8, pg)} | ${at(16, pg)} |`);
  }
  lines.push("");
  lines.push(
    "Reading it: the server tier (Node + HAProxy) costs several times PostgreSQL's CPU per call, so on one host more worker " +
      "processes (WORKERS=auto) buy the most; replicas move PostgreSQL's read CPU off the primary (the primary column drops to " +
      "the probe's share), which matters once the primary's cores are the limit. See docs/scale-out.md for the sizing arithmetic.",
  );
  lines.push("");
  return `${lines.join("\n")}\n`;
}

main().catch((error: unknown) => {
  process.stderr.write(`scale-out benchmark failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
