// Reads on a real PostgreSQL streaming replica (a throwaway PG15 primary and
// a pg_basebackup -R replica, started here), through the real server process:
// - reads measurably land on the replica (our counters and the replica's own
//   pg_stat_user_tables);
// - read-your-writes: with recovery_min_apply_delay on the replica, a read
//   without the write's consistency token does not see the write, a read with
//   it does (the primary answers when the replica cannot in REPLICA_WAIT_MS,
//   the replica once it has replayed the write), and a ListTrips walk keeps
//   its floor across pages;
// - the replica stopped under mixed load: 0 failed calls, health SERVING,
//   reads back on the replica once it is up again.
// Skipped, saying why, where PostgreSQL server binaries are missing (CI installs postgresql-15).
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { withConnection } from "@driver-analytics/db";
import { insertFixtures } from "@driver-analytics/db/testing";
import { startReplicaPair, systemPostgresBin, type ReplicaPair } from "@driver-analytics/db/testing/replica-pair";
import { CreateTripRequestSchema, DriverAnalytics, TripStatus } from "@driver-analytics/proto";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricValue, startServerChild, type ServerChild } from "../testing/server-process.js";
import { startMixedLoad, summarize } from "../testing/mixed-load.js";
import { bearer, serviceToken } from "../testing/test-auth.js";

const pgBin = systemPostgresBin();
if ("missing" in pgBin) console.warn(`replica-reads.spec: skipped: ${pgBin.missing}`);

const DRIVERS = [1n, 2n, 3n, 4n];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const HEADER = "x-consistency-token";

describe.skipIf("missing" in pgBin)("reads on a streaming replica", () => {
  let pair: ReplicaPair;
  const servers: ServerChild[] = [];
  let token: string;

  const startServer = async (env: Record<string, string> = {}) => {
    const server = await startServerChild({
      DATABASE_URL: pair.primaryUrl,
      DATABASE_REPLICA_URLS: pair.replicaUrl,
      DB_POOL_SIZE: "2",
      ...env,
    });
    servers.push(server);
    return server;
  };
  const clientsOf = (server: ServerChild) => {
    const baseUrl = `http://${server.address}`;
    const interceptors = [bearer(token)];
    return {
      connect: createClient(DriverAnalytics, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors })),
      grpc: createClient(DriverAnalytics, createGrpcTransport({ baseUrl, interceptors })),
    };
  };
  const reads = async (server: ServerChild) => {
    const text = await server.metrics();
    const routes = ["replica", "replica-waited", "primary-no-replica", "primary-stale", "primary-replica-failed"];
    return Object.fromEntries(routes.map((route) => [route, metricValue(text, "driver_analytics_reads_total", { route })]));
  };
  const replicaScans = () =>
    withConnection(pair.replicaUrl, async (c) =>
      Number((await c.query("SELECT coalesce(sum(coalesce(idx_scan, 0) + coalesce(seq_scan, 0)), 0) AS n FROM pg_stat_user_tables")).rows[0].n),
    );

  beforeAll(async () => {
    pair = await startReplicaPair();
    await insertFixtures(pair.primaryUrl, {
      drivers: DRIVERS.map((id) => ({ id })),
      trips: DRIVERS.flatMap((driverId) =>
        Array.from({ length: 25 }, (_, i) => ({ driverId, completedAtMicros: 1_750_000_000_000_000n + BigInt(i) * 1_000_000n })),
      ),
    });
    await pair.waitForReplay();
    token = await serviceToken();
  });

  afterAll(async () => {
    for (const server of servers) server.process.kill("SIGKILL");
    await Promise.all(servers.map((s) => s.exited));
    await pair?.destroy();
  });

  it("serves reads from the replica, measurably", async () => {
    const server = await startServer();
    const { connect } = clientsOf(server);
    const scansBefore = await replicaScans();
    for (let i = 0; i < 40; i++) {
      await connect.getStats({ driverId: DRIVERS[i % 4]! });
      await connect.listTrips({ driverId: DRIVERS[i % 4]!, pageSize: 5 });
    }
    const routed = await reads(server);
    console.log(`replica-reads.spec: 80 reads routed ${JSON.stringify(routed)}`);
    expect(routed.replica).toBe(80);
    expect(metricValue(await server.metrics(), "driver_analytics_replica_healthy")).toBe(1);
    expect(await server.metrics()).toMatch(/driver_analytics_replica_lag_seconds\{replica="127\.0\.0\.1:\d+"\} /);
    // The replica's own statistics (flushed within a second) saw the scans.
    let scans = 0;
    for (let i = 0; i < 40 && scans < 80; i++) {
      await sleep(100);
      scans = (await replicaScans()) - scansBefore;
    }
    console.log(`replica-reads.spec: index and sequential scans on the replica: ${scans}`);
    expect(scans).toBeGreaterThanOrEqual(80);
    server.process.kill("SIGTERM");
    expect((await server.exited).code).toBe(0);
  });

  it("reads its writes with the consistency token while the replica applies WAL 1.5 s late", async () => {
    await pair.setApplyDelay(1_500);
    try {
      // The replica stays in rotation (lag allowed up to 60 s); a token read waits 100 ms, then reads the primary.
      const impatient = await startServer({ REPLICA_MAX_LAG_MS: "60000", REPLICA_WAIT_MS: "100" });
      // This one waits up to 10 s for the replica.
      const patient = await startServer({ REPLICA_MAX_LAG_MS: "60000", REPLICA_WAIT_MS: "10000" });
      const a = clientsOf(impatient);
      const b = clientsOf(patient);
      const driverId = 3n;
      const before = (await a.connect.getStats({ driverId })).stats!.totalTrips;

      let consistency: string | null = null;
      const now = Date.now();
      await a.grpc.createTrip(
        create(CreateTripRequestSchema, {
          requestId: randomUUID(),
          driverId,
          status: TripStatus.COMPLETED,
          startTime: timestampFromMs(now - 600_000),
          completeTime: timestampFromMs(now - 60_000),
          distanceMeters: 1_000n,
          fare: { currencyCode: "USD", amountMinor: 900n },
        }),
        { onHeader: (h) => (consistency = h.get(HEADER)) },
      );
      expect(consistency).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      const withToken = { headers: { [HEADER]: consistency! } };

      // Without the token the delayed replica answers, without the write: the delay is real.
      expect((await a.connect.getStats({ driverId })).stats!.totalTrips).toBe(before);
      // With it: the impatient server gives up on the replica and asks the primary.
      expect((await a.connect.getStats({ driverId }, withToken)).stats!.totalTrips).toBe(before + 1n);
      expect((await a.grpc.listTrips({ driverId, pageSize: 1 }, withToken)).trips[0]!.distanceMeters).toBe(1_000n);
      const aRoutes = await reads(impatient);
      expect(aRoutes["primary-stale"]).toBe(2);

      // A page walk carries its floor: page 2 (no header) must be as fresh as page 1 (with the token).
      const page1 = await a.connect.listTrips({ driverId, pageSize: 5 }, withToken);
      expect(page1.trips[0]!.distanceMeters).toBe(1_000n);
      const stale = (await reads(impatient))["primary-stale"]!;
      const page2 = await a.connect.listTrips({ driverId, pageSize: 5, pageToken: page1.nextPageToken });
      expect(page2.trips.length).toBe(5);
      // Served by a server at least as fresh as page 1: the primary, the replica being still 1.5 s behind.
      expect((await reads(impatient))["primary-stale"]).toBe(stale + 1);

      // The patient server waits for the replica to replay the write, and reads it there.
      const waitedFrom = performance.now();
      expect((await b.connect.getStats({ driverId }, withToken)).stats!.totalTrips).toBe(before + 1n);
      const waitedMs = performance.now() - waitedFrom;
      expect((await reads(patient))["replica-waited"]).toBe(1);
      console.log(`replica-reads.spec: token read waited ${waitedMs.toFixed(0)} ms for the replica (apply delay 1,500 ms)`);

    } finally {
      await pair.setApplyDelay(0);
    }
  });

  it("keeps serving with 0 errors when the replica stops under mixed load, and takes it back", async () => {
    await pair.waitForReplay();
    const server = await startServer();
    const load = startMixedLoad({ address: server.address, token, driverIds: DRIVERS, callersPerProtocol: 2 });
    await sleep(1_000);
    const beforeStop = await reads(server);
    await pair.stopReplica("fast");
    const stoppedAt = Date.now();
    const health: number[] = [];
    while (Date.now() - stoppedAt < 2_000) {
      health.push((await fetch(`http://${server.address}/healthz`)).status);
      await sleep(200);
    }
    const duringStop = await reads(server);
    await pair.startReplica();
    // Wait until the probe takes it back, then see reads land on it again.
    const deadline = Date.now() + 20_000;
    while (metricValue(await server.metrics(), "driver_analytics_replica_healthy") !== 1) {
      if (Date.now() > deadline) throw new Error("replica was not taken back");
      await sleep(100);
    }
    const takenBack = await reads(server);
    await sleep(1_000);
    const outcomes = await load.stop();
    const afterBack = await reads(server);
    console.log(
      `replica-reads.spec: replica stopped under load: ${JSON.stringify(summarize(outcomes))}; reads before ${JSON.stringify(beforeStop)}, ` +
        `during ${JSON.stringify(duringStop)}, after ${JSON.stringify(afterBack)}`,
    );
    expect(outcomes.filter((o) => o.code !== "ok")).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(100);
    expect(health.every((status) => status === 200)).toBe(true);
    expect(duringStop["primary-no-replica"]! - beforeStop["primary-no-replica"]!).toBeGreaterThan(0);
    expect(afterBack.replica! - takenBack.replica!).toBeGreaterThan(0);
  });
});
