import { readFileSync } from "node:fs";

// Linux CPU accounting from /proc, to tell what bounded a scenario: the
// server process, the load generator (this process), or the rest (PostgreSQL).
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** processCpuMicros is the user + system CPU time of a process so far. */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which may contain spaces, in parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / TICKS_PER_SECOND;
}

/** machineCpuMicros is the busy CPU time of all cores so far. */
export function machineCpuMicros(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user! + nice! + system! + irq! + softirq! + steal!) * 1e6) / TICKS_PER_SECOND;
}

export interface CpuSample {
  server: number;
  self: number;
  machine: number;
}

export function sampleCpu(serverPid: number): CpuSample {
  const usage = process.cpuUsage();
  return { server: processCpuMicros(serverPid), self: usage.user + usage.system, machine: machineCpuMicros() };
}

export interface CpuSplit {
  /** Cores busy on average, by whom. */
  serverCores: number;
  loadCores: number;
  otherCores: number;
}

export function cpuSplit(before: CpuSample, after: CpuSample, wallMicros: number): CpuSplit {
  const server = after.server - before.server;
  const self = after.self - before.self;
  const machine = after.machine - before.machine;
  return {
    serverCores: server / wallMicros,
    loadCores: self / wallMicros,
    otherCores: Math.max(0, machine - server - self) / wallMicros,
  };
}
