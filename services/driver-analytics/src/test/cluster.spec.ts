// WORKERS=2, the real built server as a process group (node:cluster):
// - calls are served by both workers, and /metrics on either reports the
//   whole group (the handled-calls counter equals what the clients counted);
// - DB_POOL_SIZE is the group's total: PostgreSQL never sees more connections;
// - a worker killed with SIGKILL is logged and replaced;
// - SIGTERM drains every worker under load: 0 failed calls, exit 0.
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { DriverAnalytics } from "@driver-analytics/proto";
import { withConnection } from "@driver-analytics/db";
import { createTestDatabase, insertFixtures, type TestDatabase } from "@driver-analytics/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMixedLoad, summarize } from "../testing/mixed-load.js";
import { metricValue, startServerChild, type ServerChild } from "../testing/server-process.js";
import { serviceToken } from "../testing/test-auth.js";

const DRIVERS = [1n, 2n, 3n];
const POOL_TOTAL = 4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function childPids(parent: number): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("WORKERS=2: a process group on one port", () => {
  let testDb: TestDatabase;
  let group: ServerChild;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    await insertFixtures(testDb.connectionString, {
      drivers: DRIVERS.map((id) => ({ id })),
      trips: DRIVERS.flatMap((driverId) =>
        Array.from({ length: 20 }, (_, i) => ({ driverId, completedAtMicros: 1_750_000_000_000_000n + BigInt(i) * 1_000_000n })),
      ),
    });
    group = await startServerChild({ DATABASE_URL: testDb.connectionString, WORKERS: "2", DB_POOL_SIZE: String(POOL_TOTAL) });
  });

  afterAll(async () => {
    group?.process.kill("SIGKILL");
    for (const pid of group?.process.pid === undefined ? [] : childPids(group.process.pid)) process.kill(pid, "SIGKILL");
    await testDb?.drop();
  });

  it("serves from both workers, reports the group on /metrics, keeps to DB_POOL_SIZE, replaces a killed worker, drains on SIGTERM", async () => {
    const token = await serviceToken();
    expect(group.logs.filter((l) => l.msg === "listening").map((l) => l.worker).sort()).toEqual([1, 2]);
    expect(group.logs.find((l) => l.msg === "listening")?.poolSize).toBe(POOL_TOTAL / 2);

    // Many connections (each load caller has its own HTTP/1.1 connection), so both workers get some.
    let load = startMixedLoad({ address: group.address, token, driverIds: DRIVERS, callersPerProtocol: 3 });
    await sleep(1_500);
    let outcomes = await load.stop();
    expect(outcomes.filter((o) => o.code !== "ok")).toEqual([]);
    const metrics = await group.metrics();
    expect(metricValue(metrics, "driver_analytics_cluster_workers")).toBe(2);
    // Every call of the load, counted once, whichever worker served it and whichever answers the scrape.
    expect(metricValue(metrics, "grpc_server_handled_total", { grpc_service: "driveranalytics.v1.DriverAnalytics" })).toBe(outcomes.length);
    const backends = await withConnection(testDb.connectionString, async (c) =>
      Number(
        (await c.query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'driver-analytics'"))
          .rows[0].n,
      ),
    );
    console.log(`cluster.spec: ${outcomes.length} calls; PostgreSQL connections of the group: ${backends} (DB_POOL_SIZE=${POOL_TOTAL})`);
    expect(backends).toBeLessThanOrEqual(POOL_TOTAL);
    expect(backends).toBeGreaterThanOrEqual(2); // one or more per worker: both served

    // SIGKILL one worker: logged and replaced.
    const workers = childPids(group.process.pid!);
    expect(workers.length).toBe(2);
    process.kill(workers[0]!, "SIGKILL");
    const deadline = Date.now() + 20_000;
    while (!group.logs.some((l) => l.msg === "listening" && l.worker === 3)) {
      if (Date.now() > deadline) throw new Error("no replacement worker listened");
      await sleep(100);
    }
    const died = group.logs.find((l) => l.msg === "worker died: starting a replacement");
    expect(died).toMatchObject({ pid: workers[0], signal: "SIGKILL" });
    const after = await group.metrics();
    expect(metricValue(after, "driver_analytics_cluster_workers")).toBe(2);
    expect(metricValue(after, "driver_analytics_cluster_worker_restarts_total")).toBe(1);

    // SIGTERM under load: every call completes, every worker drains, exit 0.
    load = startMixedLoad({ address: group.address, token, driverIds: DRIVERS, callersPerProtocol: 3 });
    await sleep(1_000);
    group.process.kill("SIGTERM");
    const exit = await group.exited;
    outcomes = await load.stop();
    console.log(`cluster.spec: SIGTERM under load: ${JSON.stringify(summarize(outcomes))}`);
    // Every call a worker accepted succeeded: no worker logged a failed call
    // (each logs one line per failure), and what failed on the client side
    // never reached a handler: new connections after the port closed
    // (ECONNREFUSED), HTTP/2 streams sent after the GOAWAY (REFUSED_STREAM;
    // connect-node reports it as INTERNAL, grpc-js as UNAVAILABLE), requests
    // written on a keep-alive HTTP/1.1 connection the server was closing
    // ("socket hang up", EPIPE, ECONNRESET), connections still queued on the
    // closing listening socket (ECONNRESET, as with one process). Clients may
    // retry all of them; behind HAProxy they are retried and none reach the
    // client (haproxy.spec.ts). grpc-js words a refused reconnect "No
    // connection established. Last error: Failed to connect" (1 run in 4).
    const notAccepted = /ECONNREFUSED|REFUSED_STREAM|socket hang up|ECONNRESET|EPIPE|No connection established/;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(group.logs.filter((l) => l.msg === "call failed")).toEqual([]);
    expect(outcomes.filter((o) => o.code !== "ok" && !notAccepted.test(o.message ?? ""))).toEqual([]);
    expect(group.logs.filter((l) => l.msg === "stopped").length).toBe(3); // two workers and the primary
  });

  it("runs the README's demo with WORKERS=2: one embedded PostgreSQL, the banner's tokens and page tokens valid on every worker", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "da-cluster-demo-"));
    chmodSync(dir, 0o755); // as root, PostgreSQL runs as postgres and must reach it
    // No DATABASE_URL and no keys: demo mode, as `WORKERS=2 pnpm start` on a fresh machine.
    const demo = await startServerChild({
      WORKERS: "2",
      DATA_DIR: path.join(dir, "pg"),
      DATABASE_URL: "",
      AUTH_HS256_SECRET: "",
      AUTH_ISSUER: "",
      PAGE_TOKEN_SECRET: "",
    });
    try {
      const deadline = Date.now() + 10_000;
      while (!demo.text.some((line) => line.startsWith("export DRIVER_TOKEN="))) {
        if (Date.now() > deadline) throw new Error("no demo banner");
        await sleep(50);
      }
      const driverToken = demo.text.find((line) => line.startsWith("export DRIVER_TOKEN="))!.slice("export DRIVER_TOKEN=".length);
      // A new HTTP/1.1 connection per call: the primary hands them to both workers in turn.
      const call = () =>
        createClient(
          DriverAnalytics,
          createConnectTransport({
            baseUrl: `http://${demo.address}`,
            httpVersion: "1.1",
            nodeOptions: { agent: false },
            interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${driverToken}`), next(req))],
          }),
        );
      let pageToken = "";
      const seen: bigint[] = [];
      for (let page = 0; page < 6; page++) {
        const response = await call().listTrips({ driverId: 1n, pageSize: 20, pageToken });
        seen.push(...response.trips.map((t) => t.tripId));
        pageToken = response.nextPageToken;
      }
      expect((await call().getStats({ driverId: 1n })).stats?.totalTrips).toBe(600n); // main.ts DEMO_DATASET.tripsPerDriver
      expect(new Set(seen).size).toBe(120); // six pages, from alternating workers, no repeats
      const served = demo.logs.filter((l) => l.msg === "listening").map((l) => l.worker);
      expect(served.sort()).toEqual([1, 2]);
      demo.process.kill("SIGTERM");
      expect(await demo.exited).toEqual({ code: 0, signal: null });
    } finally {
      demo.process.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
