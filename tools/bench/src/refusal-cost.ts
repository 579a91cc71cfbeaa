import { fileURLToPath } from "node:url";
import { Code } from "@connectrpc/connect";
import { processCpuMicros } from "./cpu.js";
import { runOpenLoop } from "./open-loop.js";
import { haproxyInstalled, startServerProcess } from "./server-process.js";

const REFUSAL_SERVER = fileURLToPath(new URL("./refusal-server.js", import.meta.url));
const HAPROXY_REFUSAL_CFG = fileURLToPath(new URL("../haproxy/refuse-all.cfg", import.meta.url));

export type RefusingServer = "gate" | "bare" | "haproxy";

export interface RefusalCost {
  server: RefusingServer;
  refusedPerSecond: number;
  /** Server CPU per refused call, µs. */
  serverUsPerRefusal: number;
}

/**
 * measureRefusalCost offers GetStats open loop at `rate` for `durationMs` to
 * a server that refuses everything (refusal-server.ts), over 16 connections
 * with the overload rows' own generator, and divides the server's CPU by the
 * refusals. "haproxy" is HAProxy answering every call itself
 * (haproxy/refuse-all.cfg); undefined when HAProxy is not installed.
 */
export async function measureRefusalCost(server: RefusingServer, rate: number, durationMs: number): Promise<RefusalCost | undefined> {
  if (server === "haproxy" && !haproxyInstalled()) return undefined;
  const refuser =
    server === "haproxy"
      ? await startServerProcess({}, ["-db", "-f", HAPROXY_REFUSAL_CFG], "haproxy")
      : await startServerProcess({}, [REFUSAL_SERVER, server]);
  try {
    const offer = (ms: number) =>
      runOpenLoop({
        address: refuser.address,
        token: "-",
        connections: 16,
        rate: () => rate,
        durationMs: ms,
        deadlineMs: 2_000,
        workload: "stats",
        drivers: 1,
      });
    await offer(1_000); // JIT warm
    const cpuBefore = processCpuMicros(refuser.pid);
    const started = performance.now();
    const refused = (await offer(durationMs)).filter((r) => r.code === Code.Unavailable).length;
    const seconds = (performance.now() - started) / 1000;
    return {
      server,
      refusedPerSecond: refused / seconds,
      serverUsPerRefusal: (processCpuMicros(refuser.pid) - cpuBefore) / Math.max(1, refused),
    };
  } finally {
    await refuser.stop();
  }
}

/** renderRefusalCost: the refusal rows, beside what serving a GetStats call cost in the same run. */
export function renderRefusalCost(costs: readonly RefusalCost[], servedGetStatsUs: number | undefined): string[] {
  const name = {
    gate: "this commit's listener, admission gate and controller",
    bare: "bare node:http2, trailers-only UNAVAILABLE (the floor)",
    haproxy: "HAProxy 2.6 in front, one thread, trailers-only UNAVAILABLE (tools/bench/haproxy/refuse-all.cfg)",
  };
  const out = [
    "Refusal alone: servers that refuse every call (tools/bench/src/refusal-server.ts), offered GetStats open loop over 16 connections with the same client" +
      (servedGetStatsUs === undefined ? "." : `; a served GetStats cost ${Math.round(servedGetStatsUs)} µs of server CPU (the 0.8x row above).`),
    "",
    "| refusing server | refused/s | server CPU per refusal | share of a served GetStats |",
    "|---|---|---|---|",
  ];
  for (const c of costs) {
    const share = servedGetStatsUs === undefined ? "-" : `1/${(servedGetStatsUs / c.serverUsPerRefusal).toFixed(1)}`;
    out.push(`| ${name[c.server]} | ${Math.round(c.refusedPerSecond)} | ${Math.round(c.serverUsPerRefusal)} µs | ${share} |`);
  }
  return out;
}
