// The real, built server as a child process: calls in flight when SIGTERM
// arrives (held in PostgreSQL by a table lock, and waiting in the admission
// queue) all complete successfully, new connections are refused, and the
// process exits 0 once they are done.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createTestDatabase, insertFixtures, type TestDatabase } from "@driver-analytics/db/testing";
import { DriverAnalytics, GetStatsRequestSchema, ListTripsRequestSchema } from "@driver-analytics/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrpcJsClient } from "../testing/harness.js";
import { lockAllTables } from "../testing/table-lock.js";
import { bearer, serviceToken, TEST_AUDIENCE, TEST_AUTH_SECRET, TEST_ISSUER } from "../testing/test-auth.js";

const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
const CALLS_PER_CLIENT = 10;
const POOL_SIZE = 2;

interface Child {
  process: ChildProcess;
  address: string;
  exited: Promise<number | null>;
  logs: Record<string, unknown>[];
}

async function startChild(databaseUrl: string): Promise<Child> {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      HOST: "127.0.0.1",
      PORT: "0",
      DB_POOL_SIZE: String(POOL_SIZE),
      SHUTDOWN_GRACE_MS: "15000",
      LOG_LEVEL: "info",
      AUTH_HS256_SECRET: new TextDecoder().decode(TEST_AUTH_SECRET),
      AUTH_ISSUER: TEST_ISSUER,
      AUTH_AUDIENCE: TEST_AUDIENCE,
      PAGE_TOKEN_SECRET: "a-page-token-secret-for-the-shutdown-test",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const logs: Record<string, unknown>[] = [];
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === "listening") resolve(String(entry.address));
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return { process: child, address, exited, logs };
}

describe("graceful shutdown of the real server", () => {
  let testDb: TestDatabase;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build the server first (pnpm --filter @driver-analytics/server build)`);
    testDb = await createTestDatabase();
    await insertFixtures(testDb.connectionString, {
      drivers: [{ id: 1n }],
      trips: Array.from({ length: 10 }, (_, i) => ({ driverId: 1n, completedAtMicros: 1_750_000_000_000_000n + BigInt(i) })),
    });
  });

  afterAll(async () => {
    await testDb?.drop();
  });

  it("completes every call accepted before SIGTERM, refuses new connections, and exits 0", async () => {
    const child = await startChild(testDb.connectionString);
    const baseUrl = `http://${child.address}`;
    const token = await serviceToken();
    const grpcJs = createGrpcJsClient(child.address, {}, { authorization: `Bearer ${token}` });
    const clients: Client<typeof DriverAnalytics>[] = [
      createClient(DriverAnalytics, createGrpcTransport({ baseUrl, interceptors: [bearer(token)] })),
      createClient(DriverAnalytics, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer(token)] })),
    ];
    const request = create(GetStatsRequestSchema, { driverId: 1n });
    try {
      // Connections first, so every call below is on an accepted connection.
      await Promise.all([grpcJs.call(DriverAnalytics.method.getStats, request), ...clients.map((c) => c.getStats(request))]);

      const lock = await lockAllTables(testDb.connectionString);
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < CALLS_PER_CLIENT; i++) {
        calls.push(grpcJs.call(DriverAnalytics.method.getStats, request, { deadlineMs: 20_000 }));
        calls.push(clients[0]!.listTrips(create(ListTripsRequestSchema, { driverId: 1n, pageSize: 3 }), { timeoutMs: 20_000 }));
        calls.push(clients[1]!.getStats(request, { timeoutMs: 20_000 }));
      }
      const settled = Promise.allSettled(calls);
      // Wait until the server holds every call: running (blocked on the lock) or queued for admission.
      await expect
        .poll(
          async () => {
            const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
            const value = (state: string) =>
              Number(new RegExp(`^driver_analytics_admission\\{state="${state}"\\} (\\d+)$`, "m").exec(metrics)?.[1] ?? 0);
            return value("in_flight") + value("queued");
          },
          { timeout: 10_000, interval: 20 },
        )
        .toBe(calls.length);

      const sigtermAt = performance.now();
      child.process.kill("SIGTERM");
      // The listening socket closes at once: new connections are refused...
      await expect
        .poll(() => fetch(`${baseUrl}/healthz`).then(() => "open", () => "refused"), { timeout: 5_000, interval: 20 })
        .toBe("refused");
      // ...while the accepted calls wait in PostgreSQL a while longer.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(child.process.exitCode).toBeNull();
      await lock.release();

      const outcomes = await settled;
      const failed = outcomes.flatMap((o) => (o.status === "rejected" ? [ConnectError.from(o.reason).message] : []));
      expect(failed).toEqual([]);
      const exitCode = await child.exited;
      console.info(
        `shutdown: ${calls.length} in-flight calls completed, exit ${exitCode} ${(performance.now() - sigtermAt).toFixed(0)} ms after SIGTERM`,
      );
      expect(exitCode).toBe(0);
      expect(child.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(["shutting down: draining in-flight calls", "stopped"]));
    } finally {
      grpcJs.close();
      if (child.process.exitCode === null) child.process.kill("SIGKILL");
    }
  });
});
