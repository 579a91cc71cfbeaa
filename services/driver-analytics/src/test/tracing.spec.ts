// Tracing end to end: the real server, real clients of every protocol, the
// real SDK setup (ops/tracing.ts) with an in-memory exporter in place of OTLP.
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { insertFixtures } from "@driver-analytics/db/testing";
import { DriverAnalytics, GetStatsRequestSchema } from "@driver-analytics/proto";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GRPC_SERVER_KINDS } from "../config.js";
import { startTracing, tracingRequested, type Tracing } from "../ops/tracing.js";
import { createGrpcJsClient, startTestServer, type TestServer } from "../testing/harness.js";
import { lockAllTables } from "../testing/table-lock.js";
import { bearer, driverToken } from "../testing/test-auth.js";

const GET_STATS = "driveranalytics.v1.DriverAnalytics/GetStats";
const { getStats } = DriverAnalytics.method;

interface Caller {
  traceId: string;
  spanId: string;
  traceparent: string;
}

function newCaller(): Caller {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

interface CallOptions {
  headers?: Record<string, string>;
  token?: string;
}

/** A protocol's client: one GetStats call, with extra headers (traceparent) and optionally another token. */
interface Protocol {
  name: string;
  rpcSystem: string;
  getStats(t: TestServer, driverId: bigint, options: CallOptions): Promise<unknown>;
}

const connectClient = (t: TestServer, kind: "connect" | "grpc-web", token: string): Client<typeof DriverAnalytics> => {
  const options = { baseUrl: t.baseUrl, httpVersion: "1.1" as const, interceptors: [bearer(token)] };
  return createClient(DriverAnalytics, kind === "connect" ? createConnectTransport(options) : createGrpcWebTransport(options));
};

const PROTOCOLS: Protocol[] = [
  {
    name: "gRPC (grpc-js client)",
    rpcSystem: "grpc",
    async getStats(t, driverId, { headers = {}, token }) {
      const client = token === undefined ? t.grpcJs : createGrpcJsClient(`127.0.0.1:${t.port}`, {}, { authorization: `Bearer ${token}` });
      try {
        return await client.call(getStats, create(GetStatsRequestSchema, { driverId }), { metadata: headers });
      } finally {
        if (client !== t.grpcJs) client.close();
      }
    },
  },
  ...(["connect", "grpc-web"] as const).map(
    (kind): Protocol => ({
      name: kind === "connect" ? "Connect over HTTP/1.1" : "gRPC-Web over HTTP/1.1",
      rpcSystem: kind === "connect" ? "connect_rpc" : "grpc",
      getStats(t, driverId, { headers = {}, token }) {
        const client = token === undefined ? (kind === "connect" ? t.connect : t.grpcWeb) : connectClient(t, kind, token);
        return client.getStats({ driverId }, { headers });
      },
    }),
  ),
];

/** LogCapture: the server's pino lines, parsed. */
function logCapture() {
  const lines: Record<string, unknown>[] = [];
  let partial = "";
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const parts = (partial + chunk.toString()).split("\n");
      partial = parts.pop()!;
      for (const part of parts) if (part.trim() !== "") lines.push(JSON.parse(part) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, logger: pino({ level: "info" }, stream) };
}

async function codeOfCall(call: Promise<unknown>): Promise<Code> {
  try {
    await call;
  } catch (error) {
    // grpc-js's ServiceError carries the gRPC status code; Connect's codes are the same numbers.
    if (!(error instanceof ConnectError) && typeof (error as { code?: unknown }).code === "number") {
      return (error as { code: Code }).code;
    }
    return ConnectError.from(error).code;
  }
  throw new Error("call succeeded");
}

// Registered once for the file, after the "off" tests: the api's tracers
// are bound to the first SDK registered and stay so.
const exporter = new InMemorySpanExporter();
let tracing: Tracing | undefined;
afterAll(async () => {
  await tracing?.shutdown();
});

describe("tracingRequested: off unless the environment asks", () => {
  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "" }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, true],
    [{ OTEL_SDK_DISABLED: "false" }, true],
    [{ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, false],
    [{ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, false],
  ] as const)("%j -> %s", (env, expected) => {
    expect(tracingRequested(env)).toBe(expected);
  });
});

describe("tracing off (no SDK registered)", () => {
  let t: TestServer;
  const logs = logCapture();

  beforeAll(async () => {
    t = await startTestServer({ logger: logs.logger });
  });
  afterAll(async () => {
    await t.close();
  });

  it("serves calls carrying a traceparent and logs no trace id", async () => {
    const caller = newCaller();
    expect(await codeOfCall(t.connect.getStats({ driverId: 404n }, { headers: { traceparent: caller.traceparent } }))).toBe(
      Code.NotFound,
    );
    const line = logs.lines.find((l) => l.msg === "call failed" && l.code === "NotFound");
    expect(line).toBeDefined();
    expect(line).not.toHaveProperty("traceId");
    expect(line).not.toHaveProperty("spanId");
  });
});

// gRPC served by each framework (Connect and gRPC-Web are connect-node's either way).
describe.each(GRPC_SERVER_KINDS)("tracing on, gRPC on %s", (grpcServer) => {
  let t: TestServer;
  const logs = logCapture();

  beforeAll(async () => {
    tracing ??= await startTracing({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    // statement_timeout 1 s: PostgreSQL ends the statement of the DEADLINE_EXCEEDED case below.
    t = await startTestServer({ grpcServer, logger: logs.logger, statementTimeoutMs: 1_000 });
    await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: 1n }, { id: 2n }],
      trips: [{ driverId: 1n, completedAtMicros: 1_750_000_000_000_000n, fareMinor: 1000n }],
    });
  });
  afterAll(async () => {
    await t.close();
  });

  const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  /** serverSpanOf waits for the call's SERVER span: it ends once the response is on its way. */
  const serverSpanOf = (caller: Caller) =>
    vi.waitFor(() => {
      const servers = spansOf(caller.traceId).filter((s) => s.kind === SpanKind.SERVER);
      expect(servers).toHaveLength(1);
      return servers[0]!;
    });
  const childrenOf = (span: ReadableSpan) =>
    spansOf(span.spanContext().traceId)
      .filter((s) => s.parentSpanContext?.spanId === span.spanContext().spanId)
      .sort((a, b) => hrMicros(a.startTime) - hrMicros(b.startTime));

  describe.each(PROTOCOLS)("$name", (protocol) => {
    it("one call: a SERVER span, child of the caller's traceparent, over the pool wait and the SQL statement", async () => {
      const caller = newCaller();
      await protocol.getStats(t, 1n, { headers: { traceparent: caller.traceparent } });
      const server = await serverSpanOf(caller);
      expect(server.name).toBe(GET_STATS);
      expect(server.parentSpanContext?.traceId).toBe(caller.traceId);
      expect(server.parentSpanContext?.spanId).toBe(caller.spanId);
      expect(server.parentSpanContext?.isRemote).toBe(true);
      expect(server.attributes).toMatchObject({
        "rpc.system": protocol.rpcSystem,
        "rpc.service": "driveranalytics.v1.DriverAnalytics",
        "rpc.method": "GetStats",
        "rpc.grpc.status_code": 0,
      });
      expect(server.status.code).toBe(SpanStatusCode.UNSET);
      expect(server.resource.attributes["service.name"]).toBe("driver-analytics");

      const children = childrenOf(server);
      expect(children.map((s) => [s.name, s.kind])).toEqual([
        ["pg.pool.wait", SpanKind.INTERNAL],
        ["SELECT", SpanKind.CLIENT],
      ]);
      const [wait, select] = children as [ReadableSpan, ReadableSpan];
      expect(wait.attributes["db.system"]).toBe("postgresql");
      expect(select.attributes).toMatchObject({ "db.system": "postgresql", "db.operation": "SELECT", "db.response.returned_rows": 1 });
      // The parameterized text, never the values.
      expect(select.attributes["db.statement"]).toMatch(/WHERE d\.id = \$1/);
      // Nested in time: the wait ends before the statement starts; both inside the call.
      expect(hrMicros(wait.endTime)).toBeLessThanOrEqual(hrMicros(select.startTime) + CLOCK_SLACK_US);
      for (const child of children) {
        expect(hrMicros(child.startTime)).toBeGreaterThanOrEqual(hrMicros(server.startTime) - CLOCK_SLACK_US);
        expect(hrMicros(child.endTime)).toBeLessThanOrEqual(hrMicros(server.endTime) + CLOCK_SLACK_US);
        expect(child.status.code).toBe(SpanStatusCode.UNSET);
        expect(childrenOf(child)).toEqual([]);
      }
      // Nothing else in the trace.
      expect(spansOf(caller.traceId)).toHaveLength(3);
    });

    it("NOT_FOUND: the code on the span, status left UNSET (the caller's error), the trace id in the log line", async () => {
      const caller = newCaller();
      expect(await codeOfCall(protocol.getStats(t, 404n, { headers: { traceparent: caller.traceparent } }))).toBe(Code.NotFound);
      const server = await serverSpanOf(caller);
      expect(server.attributes["rpc.grpc.status_code"]).toBe(Code.NotFound);
      expect(server.status.code).toBe(SpanStatusCode.UNSET);
      expect(childrenOf(server).map((s) => s.name)).toEqual(["pg.pool.wait", "SELECT"]);
      const line = logs.lines.find((l) => l.msg === "call failed" && l.traceId === caller.traceId);
      expect(line).toMatchObject({ code: "NotFound", method: GET_STATS, spanId: server.spanContext().spanId });
    });

    it("PERMISSION_DENIED: refused before the handler, so no database spans", async () => {
      const caller = newCaller();
      const token = await driverToken(1n);
      expect(await codeOfCall(protocol.getStats(t, 2n, { token, headers: { traceparent: caller.traceparent } }))).toBe(
        Code.PermissionDenied,
      );
      const server = await serverSpanOf(caller);
      expect(server.attributes["rpc.grpc.status_code"]).toBe(Code.PermissionDenied);
      expect(server.status.code).toBe(SpanStatusCode.UNSET);
      expect(childrenOf(server)).toEqual([]);
      const line = logs.lines.find((l) => l.msg === "call failed" && l.traceId === caller.traceId);
      expect(line).toMatchObject({ code: "PermissionDenied", spanId: server.spanContext().spanId });
    });

    it("DEADLINE_EXCEEDED (statement_timeout): status ERROR on the call and on the statement", async () => {
      const caller = newCaller();
      const lock = await lockAllTables(t.testDb.connectionString);
      try {
        expect(await codeOfCall(protocol.getStats(t, 1n, { headers: { traceparent: caller.traceparent } }))).toBe(
          Code.DeadlineExceeded,
        );
        const server = await serverSpanOf(caller);
        expect(server.attributes["rpc.grpc.status_code"]).toBe(Code.DeadlineExceeded);
        expect(server.status.code).toBe(SpanStatusCode.ERROR);
        const select = await vi.waitFor(() => {
          const found = childrenOf(server).find((s) => s.name === "SELECT");
          expect(found).toBeDefined();
          return found!;
        });
        expect(select.status.code).toBe(SpanStatusCode.ERROR);
        expect(select.attributes["db.response.status_code"]).toBe("57014"); // query_canceled
        expect(select.events.map((e) => e.name)).toContain("exception");
      } finally {
        await lock.release();
      }
    });
  });

  it("a call without traceparent starts a new trace: a root SERVER span", async () => {
    const before = new Set(exporter.getFinishedSpans().map((s) => s.spanContext().spanId));
    await t.connect.getStats({ driverId: 1n });
    const server = await vi.waitFor(() => {
      const found = exporter
        .getFinishedSpans()
        .filter((s) => s.kind === SpanKind.SERVER && s.name === GET_STATS && !before.has(s.spanContext().spanId));
      expect(found).toHaveLength(1);
      return found[0]!;
    });
    expect(server.parentSpanContext).toBeUndefined();
    expect(childrenOf(server).map((s) => s.name)).toEqual(["pg.pool.wait", "SELECT"]);
  });

  it("database work outside a call (the health probe's SELECT 1 every second) makes no root spans", async () => {
    // The probe has run every second during the tests above; and one query here, outside any call.
    await t.db.query("SELECT 1 AS one", []);
    const orphans = exporter.getFinishedSpans().filter((s) => s.kind !== SpanKind.SERVER && s.parentSpanContext === undefined);
    expect(orphans.map((s) => s.name)).toEqual([]);
  });
});

// The SDK anchors each span's start at Date.now() (1 ms resolution) and
// times its duration with performance.now(): across spans, 1 ms of slack.
const CLOCK_SLACK_US = 1_000;

function hrMicros([seconds, nanos]: readonly [number, number]): number {
  return seconds * 1e6 + nanos / 1e3;
}
