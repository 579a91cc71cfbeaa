import { fileURLToPath } from "node:url";
import { Code } from "@connectrpc/connect";
import { processCpuMicros } from "./cpu.js";
import { grpcFrame, H2GrpcClient } from "./h2-grpc-client.js";
import { startServerProcess } from "./server-process.js";

const REFUSAL_SERVER = fileURLToPath(new URL("./refusal-server.js", import.meta.url));
const GET_STATS = "/driveranalytics.v1.DriverAnalytics/GetStats";
const TICK_MS = 2;

export interface RefusalCost {
  server: "gate" | "bare";
  refusedPerSecond: number;
  /** Server CPU per refused call, µs. */
  serverUsPerRefusal: number;
}

/**
 * measureRefusalCost offers GetStats at `rate` for `durationMs` to a server
 * that refuses everything (refusal-server.ts), over 16 connections with the
 * open loop's own client, and divides the server's CPU by the refusals.
 */
export async function measureRefusalCost(server: "gate" | "bare", rate: number, durationMs: number): Promise<RefusalCost> {
  const refuser = await startServerProcess({}, [REFUSAL_SERVER, server]);
  const client = new H2GrpcClient(refuser.address, 16);
  try {
    await client.waitForReady();
    const frame = grpcFrame(new Uint8Array([8, 1])); // driver_id 1
    const offer = async (ms: number) => {
      let refused = 0;
      let sent = 0;
      const answered: Promise<void>[] = [];
      const begin = performance.now();
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const elapsed = performance.now() - begin;
          for (const due = Math.floor((Math.min(elapsed, ms) * rate) / 1000); sent < due; sent++) {
            answered.push(
              new Promise((done) =>
                client.call(GET_STATS, frame, "Bearer -", 2_000, (code) => {
                  if (code === Code.Unavailable) refused++;
                  done();
                }),
              ),
            );
          }
          if (elapsed >= ms) {
            clearInterval(timer);
            resolve();
          }
        }, TICK_MS);
      });
      await Promise.all(answered);
      return refused;
    };
    await offer(1_000); // connections and JIT warm
    const cpuBefore = processCpuMicros(refuser.pid);
    const started = performance.now();
    const refused = await offer(durationMs);
    const seconds = (performance.now() - started) / 1000;
    return {
      server,
      refusedPerSecond: refused / seconds,
      serverUsPerRefusal: (processCpuMicros(refuser.pid) - cpuBefore) / Math.max(1, refused),
    };
  } finally {
    client.close();
    await refuser.stop();
  }
}

/** renderRefusalCost: the refusal rows, beside what serving a GetStats call cost in the same run. */
export function renderRefusalCost(costs: readonly RefusalCost[], servedGetStatsUs: number | undefined): string[] {
  const name = { gate: "this commit's listener, admission gate and controller", bare: "bare node:http2, trailers-only UNAVAILABLE (the floor)" };
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
