// The real, built server as a child process: calls in flight when SIGTERM
// arrives (held in PostgreSQL by a table lock, and waiting in the admission
// queue) all complete successfully, new connections are refused, and the
// process exits 0 once they are done. In demo mode, with idle and half-open
// connections open: health turns NOT_SERVING for the drain delay while calls
// still succeed, none of those connections holds the exit, and the embedded
// PostgreSQL stops.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createTestDatabase, insertFixtures, type TestDatabase } from "@driver-analytics/db/testing";
import {
  DriverAnalytics,
  GetStatsRequestSchema,
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  ListTripsRequestSchema,
} from "@driver-analytics/proto";
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
  /** The admin port's address, when ADMIN_PORT is set. */
  adminAddress: string | undefined;
  exited: Promise<number | null>;
  logs: Record<string, unknown>[];
}

const AUTH_ENV = {
  AUTH_HS256_SECRET: new TextDecoder().decode(TEST_AUTH_SECRET),
  AUTH_ISSUER: TEST_ISSUER,
  AUTH_AUDIENCE: TEST_AUDIENCE,
  PAGE_TOKEN_SECRET: "a-page-token-secret-for-the-shutdown-test",
};

async function startChild(env: Record<string, string>): Promise<Child> {
  const { DATABASE_URL: _inherited, ...parentEnv } = process.env;
  const child = spawn(process.execPath, [MAIN], {
    env: { ...parentEnv, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "info", ...AUTH_ENV, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const logs: Record<string, unknown>[] = [];
  let adminAddress: string | undefined;
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === "admin listening") adminAddress = String(entry.address);
        if (entry.msg === "listening") resolve(String(entry.address));
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return { process: child, address, adminAddress, exited, logs };
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
    const child = await startChild({
      DATABASE_URL: testDb.connectionString,
      DB_POOL_SIZE: String(POOL_SIZE),
      SHUTDOWN_GRACE_MS: "15000",
      SHUTDOWN_DRAIN_DELAY_MS: "0",
      ADMIN_PORT: "0",
    });
    const baseUrl = `http://${child.address}`;
    const adminUrl = `http://${child.adminAddress!}`;
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

      // Production (DATABASE_URL) with ADMIN_PORT: /metrics there, not on the RPC port;
      // /healthz on both (balancers check the RPC port; it says what gRPC health says).
      expect((await fetch(`${baseUrl}/metrics`)).status).toBe(404);
      expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
      const adminMetrics = await fetch(`${adminUrl}/metrics`);
      expect(adminMetrics.status).toBe(200);
      expect(await adminMetrics.text()).toMatch(/^grpc_server_handled_total\{/m);
      expect(await (await fetch(`${adminUrl}/healthz`)).text()).toBe("SERVING\n");
      expect((await fetch(`${adminUrl}/${DriverAnalytics.typeName}/GetStats`, { method: "POST" })).status).toBe(404);

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
            const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
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

const GRACE_MS = 8_000;

/** openRaw connects and runs onConnect; the socket's errors are expected and ignored. */
function openRaw(address: string, onConnect: (socket: net.Socket) => void = () => undefined): Promise<net.Socket> {
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    socket.on("error", () => undefined);
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      onConnect(socket);
      resolve(socket);
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("graceful shutdown in demo mode, with idle and half-open connections", () => {
  let dir: string;
  let postmasterPid: number | undefined;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build the server first (pnpm --filter @driver-analytics/server build)`);
    dir = await mkdtemp(path.join(os.tmpdir(), "driver-analytics-shutdown-"));
    // As root the embedded server runs as user postgres, which must reach the data directory.
    await chmod(dir, 0o755);
  });

  afterAll(async () => {
    if (postmasterPid !== undefined && alive(postmasterPid)) process.kill(postmasterPid, "SIGQUIT");
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  // With a drain delay, and without one (the second run reuses the first's data directory).
  it.each([2_000, 0])(
    "SHUTDOWN_DRAIN_DELAY_MS=%i: NOT_SERVING for the delay while serving, exit 0 within the grace, PostgreSQL stopped",
    async (DRAIN_DELAY_MS) => {
      const dataDir = path.join(dir, "pg");
      const child = await startChild({
        DATA_DIR: dataDir,
        SHUTDOWN_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
        SHUTDOWN_GRACE_MS: String(GRACE_MS),
        HEALTH_PROBE_INTERVAL_MS: "100",
      });
      const baseUrl = `http://${child.address}`;
      const sockets: net.Socket[] = [];
      let h2Session: http2.ClientHttp2Session | undefined;
      const token = await serviceToken();
      const grpcJs = createGrpcJsClient(child.address, {}, { authorization: `Bearer ${token}` });
      try {
        const [pidLine, , , portLine] = readFileSync(path.join(dataDir, "postmaster.pid"), "latin1").split("\n");
        postmasterPid = Number(pidLine);
        const postgresPort = Number(portLine);
        expect(alive(postmasterPid)).toBe(true);

        const connect = createClient(DriverAnalytics, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer(token)] }));
        const health = createClient(Health, createGrpcTransport({ baseUrl }));
        const request = create(GetStatsRequestSchema, { driverId: 1n });
        await expect.poll(async () => (await fetch(`${baseUrl}/healthz`)).status, { timeout: 10_000, interval: 50 }).toBe(200);
        await Promise.all([grpcJs.call(DriverAnalytics.method.getStats, request), connect.getStats(request)]);

        // Connections that make no call: silent (still being sniffed), a partial
        // HTTP/1.1 request, HTTP/2's preface alone, an idle keep-alive socket, an
        // idle HTTP/2 session. The default time limits (10 s and more) are far
        // off: shutdown itself must close them.
        for (let i = 0; i < 20; i++) sockets.push(await openRaw(child.address));
        for (let i = 0; i < 20; i++) sockets.push(await openRaw(child.address, (s) => s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n")));
        for (let i = 0; i < 10; i++) sockets.push(await openRaw(child.address, (s) => s.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")));
        sockets.push(await openRaw(child.address, (s) => s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")));
        h2Session = http2.connect(baseUrl);
        h2Session.on("error", () => undefined);
        await new Promise<void>((resolve, reject) => {
          const stream = h2Session!.request({ ":path": "/healthz" });
          stream.resume();
          stream.once("close", resolve);
          stream.once("error", reject);
        });

        const sigtermAt = performance.now();
        child.process.kill("SIGTERM");
        let servedUntil = 0;
        if (DRAIN_DELAY_MS > 0) {
          // The drain delay: NOT_SERVING at once, over HTTP and gRPC...
          await expect.poll(async () => (await fetch(`${baseUrl}/healthz`)).status, { timeout: 1_000, interval: 20 }).toBe(503);
          expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
          // ...while calls succeed, on the connections there and on new ones.
          await Promise.all([grpcJs.call(DriverAnalytics.method.getStats, request), connect.getStats(request)]);
          const fresh = createClient(DriverAnalytics, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [bearer(token)] }));
          expect((await fresh.getStats(request)).stats).toBeDefined();
          servedUntil = performance.now() - sigtermAt;
          expect(servedUntil).toBeLessThan(DRAIN_DELAY_MS);
          expect(child.process.exitCode).toBeNull();
        }

        const exitCode = await child.exited;
        const exitMs = performance.now() - sigtermAt;
        console.info(
          `demo shutdown: ${DRAIN_DELAY_MS > 0 ? `NOT_SERVING and still serving ${servedUntil.toFixed(0)} ms after SIGTERM, ` : ""}` +
            `exit ${exitCode} ${exitMs.toFixed(0)} ms after it (drain delay ${DRAIN_DELAY_MS} ms, grace ${GRACE_MS} ms), ` +
            `${sockets.length} idle and half-open sockets and an idle HTTP/2 session open`,
        );
        expect(exitCode).toBe(0);
        expect(exitMs).toBeGreaterThanOrEqual(DRAIN_DELAY_MS);
        expect(exitMs).toBeLessThan(DRAIN_DELAY_MS + GRACE_MS);
        // Nor did any of those connections hold the drain until the grace ran out.
        expect(exitMs).toBeLessThan(DRAIN_DELAY_MS + GRACE_MS / 2);
        expect(child.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(["stopped"]));
        expect(child.logs.map((l) => l.msg)).not.toContain("shutdown did not finish in time: exiting");
        // (The sockets never read, so they learn of it only now.)
        await Promise.all(
          sockets.map((s) => new Promise((resolve) => (s.closed ? resolve(0) : s.once("close", resolve).resume()))),
        );

        // The embedded PostgreSQL is gone, its port closed.
        expect(alive(postmasterPid)).toBe(false);
        expect(existsSync(path.join(dataDir, "postmaster.pid"))).toBe(false);
        await expect(openRaw(`127.0.0.1:${postgresPort}`)).rejects.toThrow(/ECONNREFUSED/);
      } finally {
        grpcJs.close();
        h2Session?.destroy();
        for (const s of sockets) s.destroy();
        if (child.process.exitCode === null) {
          child.process.kill("SIGKILL");
          await child.exited;
        }
        // A server that failed to stop its PostgreSQL: stop it, lest the next run find the directory in use.
        if (postmasterPid !== undefined && alive(postmasterPid)) {
          process.kill(postmasterPid, "SIGQUIT");
          await expect.poll(() => alive(postmasterPid!), { timeout: 10_000 }).toBe(false);
        }
      }
    },
  );
});
