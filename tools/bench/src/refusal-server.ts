#!/usr/bin/env node
// A server that refuses every DriverAnalytics call, for the benchmark's
// refusal-cost rows: what a refusal costs the server, measured alone rather
// than inferred from a mix of served and refused calls.
//   node dist/refusal-server.js gate|bare   (PORT)
// gate: the service's own listener, admission gate and controller (its only
//   slot held, its queue 0 long: every call is refused at stream arrival, by
//   the code that refuses under overload).
// bare: node:http2 answering every stream with a trailers-only UNAVAILABLE,
//   the floor under any refusal on this runtime.
import http2 from "node:http2";
import { AdmissionController, AdmissionGate, Listener } from "@driver-analytics/server";

const GATED_PREFIX = "/driveranalytics.v1.DriverAnalytics/";

async function main(): Promise<void> {
  const kind = process.argv[2];
  const port = Number(process.env.PORT ?? 0);
  if (kind === "bare") {
    const server = http2.createServer({ settings: { maxConcurrentStreams: 250 } });
    server.on("stream", (stream) => {
      stream.on("error", () => undefined);
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": "14", "grpc-message": "busy", "grpc-retry-pushback-ms": "200" },
        { endStream: true },
      );
    });
    server.listen(port, "127.0.0.1");
  } else if (kind === "gate") {
    const controller = new AdmissionController({
      initialConcurrency: 1,
      minConcurrency: 1,
      maxConcurrency: 1,
      maxQueue: 0,
      maxQueueWaitMs: 1_000,
      maxEventLoopDelayMs: 1_000,
    });
    controller.acquire(undefined, { admit: () => undefined, refuse: () => undefined });
    const gate = new AdmissionGate(controller, GATED_PREFIX);
    const listener = new Listener(
      {
        request: (_req, res) => res.end(),
        stream: (stream, headers, serveAsRequest) => gate.stream(stream, headers, serveAsRequest),
      },
      { maxConcurrentStreams: 250, maxSessionMemoryMb: 64 },
    );
    await listener.listen(port, "127.0.0.1");
  } else {
    throw new Error(`usage: refusal-server.js gate|bare, got ${kind}`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
