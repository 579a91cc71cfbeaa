// Tracing in the real process (dist/main.js): with OTEL_EXPORTER_OTLP_ENDPOINT
// the spans reach an OTLP/HTTP receiver (node:http, here) and SIGTERM flushes
// the ones still buffered; OTEL_SDK_DISABLED=true keeps it off.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { createTestDatabase, insertFixtures, type TestDatabase } from "@driver-analytics/db/testing";
import { DriverAnalytics, GetStatsRequestSchema } from "@driver-analytics/proto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createGrpcJsClient } from "../testing/harness.js";
import { serviceToken, TEST_AUDIENCE, TEST_AUTH_SECRET, TEST_ISSUER } from "../testing/test-auth.js";

const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

interface Export {
  path: string;
  contentType: string | undefined;
  body: Buffer;
}

async function startReceiver() {
  const exports: Export[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      exports.push({ path: request.url ?? "", contentType: request.headers["content-type"], body: Buffer.concat(chunks) });
      response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exports, close: () => server.close() };
}

async function startChild(env: Record<string, string>) {
  // Nothing of the parent's OTEL_* (or DATABASE_URL) leaks into the child.
  const parentEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("OTEL_") && key !== "DATABASE_URL"));
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...parentEnv,
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "info",
      SHUTDOWN_DRAIN_DELAY_MS: "0",
      AUTH_HS256_SECRET: new TextDecoder().decode(TEST_AUTH_SECRET),
      AUTH_ISSUER: TEST_ISSUER,
      AUTH_AUDIENCE: TEST_AUDIENCE,
      ...env,
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
  return { child, address, logs, exited };
}

describe("tracing in the server process", () => {
  let testDb: TestDatabase;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build the server first`);
    testDb = await createTestDatabase();
    await insertFixtures(testDb.connectionString, { drivers: [{ id: 1n }], trips: [] });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    receiver?.close();
    await testDb?.drop();
  });

  const getStats = async (address: string, traceparent: string) => {
    const client = createGrpcJsClient(address, {}, { authorization: `Bearer ${await serviceToken()}` });
    try {
      await client.call(DriverAnalytics.method.getStats, create(GetStatsRequestSchema, { driverId: 1n }), { metadata: { traceparent } });
    } finally {
      client.close();
    }
  };

  it("OTEL_EXPORTER_OTLP_ENDPOINT: the call's spans are exported over OTLP/HTTP protobuf, flushed on SIGTERM", async () => {
    const traceId = randomBytes(16);
    const { child, address, logs, exited } = await startChild({
      DATABASE_URL: testDb.connectionString,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: "driver-analytics-under-test",
      // No export on the timer: only shutdown's flush can send them.
      OTEL_BSP_SCHEDULE_DELAY: "600000",
    });
    expect(logs.some((l) => String(l.msg).startsWith("tracing on"))).toBe(true);
    await getStats(address, `00-${traceId.toString("hex")}-${randomBytes(8).toString("hex")}-01`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.exports).toEqual([]);

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(receiver.exports.length).toBeGreaterThanOrEqual(1);
    const sent = receiver.exports.find((e) => e.body.includes(traceId));
    expect(sent).toBeDefined();
    expect(sent!.path).toBe("/v1/traces");
    expect(sent!.contentType).toBe("application/x-protobuf");
    // Protobuf keeps strings as they are: the span names and the resource's service.name.
    for (const text of ["driveranalytics.v1.DriverAnalytics/GetStats", "pg.pool.wait", "SELECT", "driver-analytics-under-test"]) {
      expect(sent!.body.includes(Buffer.from(text))).toBe(true);
    }
  });

  it("an unreachable collector: the export failure is logged, the calls are served", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const { child, address, logs, exited } = await startChild({
      DATABASE_URL: testDb.connectionString,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_BSP_SCHEDULE_DELAY: "50",
    });
    await getStats(address, `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`);
    // The exporter retries with backoff (about 8 s) before it reports the failure.
    await vi.waitFor(() => expect(logs.some((l) => /^tracing: .*ECONNREFUSED/.test(String(l.msg)))).toBe(true), { timeout: 20_000 });
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("OTEL_SDK_DISABLED=true wins over the endpoint: tracing off, nothing exported", async () => {
    const before = receiver.exports.length;
    const { child, address, logs, exited } = await startChild({
      DATABASE_URL: testDb.connectionString,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SDK_DISABLED: "true",
    });
    await getStats(address, `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(logs.some((l) => String(l.msg).startsWith("tracing on"))).toBe(false);
    expect(receiver.exports.length).toBe(before);
  });
});
