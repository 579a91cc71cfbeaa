// Measures this tool's own ceiling: a no-op server in a child process (so the
// two do not share one event loop), driven at high concurrency over several
// HTTP/2 connections. Prints calls/s, latency, and the CPU each side spent.
//
//   node dist/ceiling.js [--concurrency 10000] [--connections 8] [--duration 10s]
//                        [--warmup 3s] [--scenarios connect-server/grpc,connect-server/connect,grpc-server/grpc]
import { spawn } from "node:child_process";
import { createInterface, type Interface } from "node:readline";
import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseDuration } from "./duration.js";
import type { Protocol } from "./options.js";
import { runLoad } from "./run-load.js";

// pnpm forwards the `--` of `pnpm run ceiling -- --concurrency 1000` verbatim.
const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== "--"),
  options: {
    concurrency: { type: "string", default: "10000" },
    connections: { type: "string", default: "8" },
    duration: { type: "string", default: "10s" },
    warmup: { type: "string", default: "3s" },
    scenarios: { type: "string", default: "connect-server/grpc,connect-server/connect,grpc-server/grpc" },
  },
});
const concurrency = Number(values.concurrency);
const connections = Number(values.connections);
const durationMs = parseDuration(values.duration);
const warmupMs = parseDuration(values.warmup);

interface Server {
  port: number;
  cpuMicros(): Promise<number>;
  stop(): void;
}

async function startServer(kind: string): Promise<Server> {
  const entry = fileURLToPath(new URL("./noop-server-main.js", import.meta.url));
  const child = spawn(process.execPath, [entry, "--kind", kind], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines: Interface = createInterface({ input: child.stdout });
  const nextLine = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      lines.once("line", (l) => resolve(JSON.parse(l) as Record<string, unknown>));
      child.once("exit", (code) => reject(new Error(`no-op server exited (${code})`)));
    });
  const { port } = (await nextLine()) as { port: number };
  return {
    port,
    async cpuMicros() {
      child.stdin.write("cpu\n");
      const { cpu } = (await nextLine()) as { cpu: { user: number; system: number } };
      return cpu.user + cpu.system;
    },
    stop() {
      child.stdin.end();
    },
  };
}

const ms = (ns: number): string => (ns / 1e6).toFixed(1);

console.log(
  `ceiling: Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? "?"}), ` +
    `c=${concurrency} over ${connections} connections, ${values.duration} measured after ${values.warmup} warm-up; ` +
    "client and server share this machine",
);
for (const scenario of values.scenarios.split(",")) {
  const [serverKind, protocol] = scenario.split("/") as [string, Protocol];
  const server = await startServer(serverKind === "grpc-server" ? "grpc" : "connect");
  try {
    const base = {
      host: `127.0.0.1:${server.port}`,
      protocol,
      call: "driveranalytics.v1.DriverAnalytics.GetStats",
      data: { driver_id: "{{randomInt 1 1000}}" },
      concurrency,
      connections,
      // Calls cut off by the end of the run are left out rather than counted as Canceled.
      durationStop: "ignore" as const,
    };
    if (warmupMs > 0) await runLoad({ ...base, durationMs: warmupMs });
    const cpu0 = await server.cpuMicros();
    const r = await runLoad({ ...base, durationMs });
    const serverCpu = (await server.cpuMicros()) - cpu0;
    const p = (pct: number): number => r.latencyDistribution.find((l) => l.percentage === pct)?.latency ?? 0;
    const errors = r.count - (r.statusCodeDistribution.OK ?? 0);
    const g = r.loadGenerator;
    console.log(
      `${scenario.padEnd(24)} ${r.rps.toFixed(0).padStart(6)} calls/s  p50 ${ms(p(50))} ms  p99 ${ms(p(99))} ms  ` +
        `errors ${errors}  max in flight ${g.maxInFlight}  ` +
        `client ${g.cpuMicrosPerCall.toFixed(0)} µs/call (${(g.cpuUtilization * 100).toFixed(0)}% of a core, ` +
        `loop delay p99 ${g.eventLoopDelayP99Ms.toFixed(0)} ms)  ` +
        `server ${(serverCpu / Math.max(1, r.count)).toFixed(0)} µs/call (${((serverCpu / 1000 / (r.total / 1e6)) * 100).toFixed(0)}% of a core)`,
    );
    if (errors > 0) console.log(`  errors: ${JSON.stringify(r.errorDistribution)}`);
  } finally {
    server.stop();
  }
}
