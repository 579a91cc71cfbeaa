// Child-process entry for the ceiling measurement: a no-op server in its own
// process (own event loop, own core). Prints {"port":N} once listening; on a
// "cpu" line on stdin prints its CPU usage so far; exits when stdin closes.
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { startConnectNoopServer, startGrpcNoopServer } from "./noop-server.js";

const { values } = parseArgs({
  options: { kind: { type: "string", default: "connect" }, "max-streams": { type: "string", default: "10000" } },
});
const maxConcurrentStreams = Number(values["max-streams"]);
const server =
  values.kind === "grpc"
    ? await startGrpcNoopServer({ maxConcurrentStreams })
    : await startConnectNoopServer({ maxConcurrentStreams });
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);

const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim() === "cpu") process.stdout.write(`${JSON.stringify({ cpu: process.cpuUsage() })}\n`);
});
lines.on("close", () => {
  void server.close().then(() => process.exit(0));
});
