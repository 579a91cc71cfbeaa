#!/usr/bin/env node
// What tracing costs per call: the built server as child processes, tracing
// off (the default), on with every call sampled and exported over OTLP
// HTTP/protobuf to a local receiver (this process: accepts and discards),
// and on with nothing sampled (OTEL_TRACES_SAMPLER=always_off). GetStats in
// a closed loop over gRPC, every call carrying a W3C traceparent; the
// servers are measured in interleaved rounds so a busy machine hurts all
// alike. Prints a markdown section for docs/benchmarks.md.
//
//   npx -y pnpm@10.34.8 build && npx -y pnpm@10.34.8 --filter @driver-analytics/bench run tracing-cost [-- --rounds 3 --seconds 4]
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { parseArgs } from "node:util";
import { runLoad, type Report } from "@driver-analytics/load";
import { benchAuth } from "./bench-auth.js";
import { processCpuMicros } from "./cpu.js";
import { BENCH_DATA_DIR, openDataset } from "./dataset.js";
import { QUICK_PLAN } from "./scenarios.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

const CONCURRENCY = 16;
const CONNECTIONS = 2;

interface Variant {
  name: string;
  env: Record<string, string>;
}

interface Sample {
  calls: number;
  errors: number;
  rps: number;
  usPerCall: number;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((arg) => arg !== "--");
  const { values } = parseArgs({
    args,
    options: { rounds: { type: "string", default: "3" }, seconds: { type: "string", default: "4" } },
  });
  const rounds = Number(values.rounds);
  const measureMs = Number(values.seconds) * 1000;
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const receiver = await startOtlpReceiver();
  const dataset = await openDataset(QUICK_PLAN.dataset, `${BENCH_DATA_DIR}-quick`, log);
  const { token, env: authEnv } = await benchAuth(["driver-analytics:read"], 3600);
  const baseEnv = {
    DATABASE_URL: dataset.connectionString,
    ...authEnv,
    STRATEGY: "rollup",
    OTEL_SDK_DISABLED: "",
    OTEL_EXPORTER_OTLP_ENDPOINT: "",
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "",
  };
  const variants: Variant[] = [
    { name: "off (default)", env: {} },
    { name: "on, every call sampled, OTLP export", env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_TRACES_SAMPLER: "always_on" } },
    { name: "on, nothing sampled (always_off)", env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_TRACES_SAMPLER: "always_off" } },
  ];
  const servers: ServerProcess[] = [];
  for (const variant of variants) servers.push(await startServerProcess({ ...baseEnv, ...variant.env }));
  const traceparent = `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;
  const measure = async (server: ServerProcess, durationMs: number): Promise<Sample> => {
    const before = processCpuMicros(server.pid);
    const report: Report = await runLoad({
      host: server.address,
      metadata: { authorization: `Bearer ${token}`, traceparent },
      call: "driveranalytics.v1.DriverAnalytics.GetStats",
      data: { driver_id: `{{randomInt 1 ${QUICK_PLAN.dataset.drivers}}}` },
      concurrency: CONCURRENCY,
      connections: CONNECTIONS,
      durationMs,
      timeoutMs: 20_000,
      durationStop: "wait",
    });
    const cpu = processCpuMicros(server.pid) - before;
    const errors = report.count - (report.statusCodeDistribution.OK ?? 0);
    return { calls: report.count, errors, rps: report.rps, usPerCall: cpu / Math.max(1, report.count) };
  };

  const samples: Sample[][] = variants.map(() => []);
  try {
    for (const [i, server] of servers.entries()) {
      log(`warm-up: ${variants[i]!.name}`);
      await measure(server, 2_000);
    }
    const exportedBefore = receiver.stats();
    for (let round = 1; round <= rounds; round++) {
      for (const [i, server] of servers.entries()) {
        const sample = await measure(server, measureMs);
        samples[i]!.push(sample);
        log(`round ${round} ${variants[i]!.name.padEnd(38)} ${Math.round(sample.rps)}/s  ${sample.usPerCall.toFixed(0)} µs/call  errors ${sample.errors}`);
      }
    }
    // The batch processor exports every 5 s by default: give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 5_500));
    const exported = receiver.stats();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const off = median(samples[0]!.map((s) => s.usPerCall));
    const lines = [
      "## Tracing cost",
      "",
      `Server CPU per GetStats call (user + system of the server process, from /proc), closed loop over gRPC: ${CONCURRENCY} in flight over ${CONNECTIONS} connections, ` +
        `every call carrying a W3C traceparent; ${rounds} interleaved rounds of ${measureMs / 1000} s per variant after a 2 s warm-up, median shown. ` +
        `The OTLP receiver (node:http, accepts and discards) runs in the load generator's process, not the server's.`,
      "",
      `- Command: \`npx -y pnpm@10.34.8 build && npx -y pnpm@10.34.8 --filter @driver-analytics/bench run tracing-cost -- --rounds ${rounds} --seconds ${measureMs / 1000}\``,
      `- Machine: ${os.cpus().length} x ${os.cpus()[0]?.model.trim() ?? "unknown"}, shared with other work (busy), Node ${process.version}, dataset: the quick bench dataset (${QUICK_PLAN.dataset.drivers} drivers)`,
      `- Exported during the measured rounds: ${exported.requests - exportedBefore.requests} OTLP requests, ${((exported.bytes - exportedBefore.bytes) / 1e6).toFixed(1)} MB`,
      "",
      "| tracing | server CPU per call, median (µs) | rounds (µs) | vs off, median of the rounds' differences | calls/s (median) | errors |",
      "|---|---|---|---|---|---|",
      ...variants.map((variant, i) => {
        const us = median(samples[i]!.map((s) => s.usPerCall));
        // Paired by round: the variants of one round ran back to back, under the same outside load.
        const delta = median(samples[i]!.map((s, round) => s.usPerCall - samples[0]![round]!.usPerCall));
        return (
          `| ${variant.name} | ${us.toFixed(0)} | ${samples[i]!.map((s) => s.usPerCall.toFixed(0)).join(", ")} | ` +
          `${i === 0 ? "-" : `${delta >= 0 ? "+" : ""}${delta.toFixed(0)} µs (${((delta / off) * 100).toFixed(0)} %)`} | ` +
          `${Math.round(median(samples[i]!.map((s) => s.rps)))} | ${samples[i]!.reduce((sum, s) => sum + s.errors, 0)} |`
        );
      }),
      "",
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    for (const server of servers) await server.stop();
    await dataset.stop();
    receiver.close();
  }
}

/** startOtlpReceiver: an OTLP/HTTP endpoint that answers 200 to everything and counts what it was sent. */
async function startOtlpReceiver(): Promise<{ url: string; stats(): { requests: number; bytes: number }; close(): void }> {
  let requests = 0;
  let bytes = 0;
  const server = http.createServer((request, response) => {
    request.on("data", (chunk: Buffer) => (bytes += chunk.length));
    request.on("end", () => {
      requests++;
      // An empty ExportTraceServiceResponse: full success.
      response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => ({ requests, bytes }),
    close: () => server.close(),
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`tracing-cost: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
