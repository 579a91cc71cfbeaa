// What operators and their tools see: gRPC health (Check, List, Watch),
// server reflection through buf curl (a real third-party client) and our own
// reflection client, Prometheus metrics and /healthz on the RPC port, and the
// request id echoed back.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { insertFixtures } from "@driver-analytics/db/testing";
import {
  DriverAnalytics,
  GetStatsRequestSchema,
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
  ServerReflection,
  ServerReflectionRequestSchema,
  type ServerReflectionRequest,
} from "@driver-analytics/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrpcJsClient, startTestServer, type TestServer } from "../testing/harness.js";

const exec = promisify(execFile);
const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
const SERVICE = DriverAnalytics.typeName;

describe("operations surface", () => {
  let t: TestServer;
  let health: ReturnType<typeof createClient<typeof Health>>;

  beforeAll(async () => {
    t = await startTestServer({ healthProbe: { intervalMs: 100, timeoutMs: 500 } });
    await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: 1n }],
      trips: [{ driverId: 1n, completedAtMicros: 1_750_000_000_000_000n, fareMinor: 1234n }],
    });
    health = createClient(Health, createGrpcTransport({ baseUrl: t.baseUrl }));
    await waitFor(async () => (await health.check({ service: "" })).status === ServingStatus.SERVING);
  });

  afterAll(async () => {
    await t.close();
  });

  describe("grpc.health.v1.Health", () => {
    it("reports SERVING for the server and for DriverAnalytics, NOT_FOUND for an unknown service", async () => {
      expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
      expect((await health.check({ service: SERVICE })).status).toBe(ServingStatus.SERVING);
      const error = await health.check({ service: "no.such.Service" }).catch((e: unknown) => ConnectError.from(e));
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.NotFound);
      const list = await health.list({});
      expect(Object.keys(list.statuses).sort()).toEqual(["", SERVICE]);
    });

    it("answers without a token over every protocol, Connect over HTTP/1.1 included", async () => {
      const overConnect = createClient(Health, createConnectTransport({ baseUrl: t.baseUrl, httpVersion: "1.1" }));
      expect((await overConnect.check({ service: SERVICE })).status).toBe(ServingStatus.SERVING);
    });

    it("Watch streams the current status, then SERVICE_UNKNOWN for an unknown service", async () => {
      const controller = new AbortController();
      const first = await health.watch({ service: SERVICE }, { signal: controller.signal })[Symbol.asyncIterator]().next();
      expect(first.value?.status).toBe(ServingStatus.SERVING);
      controller.abort();
      const unknown = new AbortController();
      const answer = await health.watch({ service: "nope" }, { signal: unknown.signal })[Symbol.asyncIterator]().next();
      expect(answer.value?.status).toBe(ServingStatus.SERVICE_UNKNOWN);
      unknown.abort();
    });

    it("GET /healthz mirrors the server's status", async () => {
      const res = await fetch(`${t.baseUrl}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("SERVING\n");
    });
  });

  describe("reflection, through buf curl", () => {
    const base = () => ["curl", "--protocol", "grpc", "--http2-prior-knowledge"];

    it("lists the services (v1 and v1alpha)", async () => {
      for (const protocol of ["grpc-v1", "grpc-v1alpha"]) {
        const { stdout } = await exec(BUF, [...base(), "--reflect-protocol", protocol, "--list-services", t.baseUrl]);
        expect(stdout.trim().split("\n").sort()).toEqual([
          SERVICE,
          "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection",
        ]);
      }
    });

    it("lists DriverAnalytics' methods and calls GetStats with no .proto file", async () => {
      const { stdout: methods } = await exec(BUF, [...base(), "--list-methods", t.baseUrl]);
      expect(methods.trim().split("\n")).toEqual(expect.arrayContaining([`${SERVICE}/GetStats`, `${SERVICE}/ListTrips`]));
      const { stdout } = await exec(BUF, [
        ...base(),
        "-H",
        `Authorization: Bearer ${t.token}`,
        "-d",
        '{"driver_id": 1}',
        `${t.baseUrl}/${SERVICE}/GetStats`,
      ]);
      const answer = JSON.parse(stdout) as { stats: { totalTrips: string; fareEarnings: { amountMinor: string } } };
      expect(answer.stats.totalTrips).toBe("1");
      expect(answer.stats.fareEarnings.amountMinor).toBe("1234");
    });
  });

  describe("reflection, with our own client (describe)", () => {
    async function reflect(requests: ServerReflectionRequest[]) {
      const client = createClient(ServerReflection, createGrpcTransport({ baseUrl: t.baseUrl }));
      const answers = [];
      const stream = (async function* () {
        yield* requests;
      })();
      for await (const answer of client.serverReflectionInfo(stream)) answers.push(answer);
      return answers;
    }

    it("describes DriverAnalytics with every dependency, enough to rebuild its schema", async () => {
      const [answer] = await reflect([
        create(ServerReflectionRequestSchema, {
          messageRequest: { case: "fileContainingSymbol", value: `${SERVICE}.GetStats` },
        }),
      ]);
      expect(answer?.messageResponse.case).toBe("fileDescriptorResponse");
      const protos = (answer!.messageResponse.value as { fileDescriptorProto: Uint8Array[] }).fileDescriptorProto.map(
        (bytes) => fromBinary(FileDescriptorProtoSchema, bytes),
      );
      expect(protos.map((p) => p.name)).toEqual([
        "driveranalytics/v1/driver_analytics.proto",
        "google/protobuf/timestamp.proto",
      ]);
      // Dependencies first, as a FileDescriptorSet wants them.
      const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: protos.reverse() }));
      const service = registry.getService(SERVICE);
      expect(service?.methods.map((m) => m.name)).toEqual(expect.arrayContaining(["GetStats", "ListTrips"]));
      expect(registry.getMessage("driveranalytics.v1.GetStatsRequest")?.fields.map((f) => f.name)).toEqual([
        "driver_id",
        "start_time",
        "end_time",
      ]);
    });

    it("answers file_by_filename, sends a dependency once per stream, and reports unknown names as NOT_FOUND", async () => {
      const answers = await reflect([
        create(ServerReflectionRequestSchema, { messageRequest: { case: "fileByFilename", value: "driveranalytics/v1/driver_analytics.proto" } }),
        create(ServerReflectionRequestSchema, { messageRequest: { case: "fileByFilename", value: "driveranalytics/v1/driver_analytics.proto" } }),
        create(ServerReflectionRequestSchema, { messageRequest: { case: "fileByFilename", value: "google/protobuf/timestamp.proto" } }),
        create(ServerReflectionRequestSchema, { messageRequest: { case: "fileContainingSymbol", value: "no.Such" } }),
        create(ServerReflectionRequestSchema, { messageRequest: { case: "allExtensionNumbersOfType", value: "driveranalytics.v1.Trip" } }),
      ]);
      const fileCounts = answers.slice(0, 3).map((a) => (a.messageResponse.value as { fileDescriptorProto: unknown[] }).fileDescriptorProto.length);
      expect(fileCounts).toEqual([2, 1, 1]);
      expect(answers[3]?.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
      expect(answers[4]?.messageResponse).toMatchObject({
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: "driveranalytics.v1.Trip", extensionNumber: [] },
      });
    });
  });

  describe("metrics and request ids", () => {
    it("serves Prometheus metrics on GET /metrics: calls by code, latency, pool, admission, shedding", async () => {
      await t.connect.getStats(create(GetStatsRequestSchema, { driverId: 1n }));
      await t.connect.getStats(create(GetStatsRequestSchema, { driverId: 999n })).catch(() => undefined);
      const grpcClient = createGrpcJsClient(`127.0.0.1:${t.port}`, {}, { authorization: `Bearer ${t.token}` });
      try {
        await grpcClient.call(DriverAnalytics.method.getStats, create(GetStatsRequestSchema, { driverId: 1n }));
      } finally {
        grpcClient.close();
      }
      const res = await fetch(`${t.baseUrl}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      const text = await res.text();
      // Every series once, though connect-node and grpc-js both served GetStats.
      const series = text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) => l.slice(0, l.lastIndexOf(" ")));
      expect(series.filter((s, i) => series.indexOf(s) !== i)).toEqual([]);
      const labels = `grpc_type="unary",grpc_service="${SERVICE}",grpc_method="GetStats"`;
      expect(metricValue(text, `grpc_server_handled_total{${labels},grpc_code="OK"}`)).toBeGreaterThanOrEqual(1);
      expect(metricValue(text, `grpc_server_handled_total{${labels},grpc_code="NotFound"}`)).toBeGreaterThanOrEqual(1);
      expect(metricValue(text, `grpc_server_handling_seconds_count{${labels},grpc_code="OK"}`)).toBeGreaterThanOrEqual(1);
      expect(metricValue(text, 'driver_analytics_db_pool_connections{state="total"}')).toBeGreaterThanOrEqual(1);
      expect(metricValue(text, "driver_analytics_db_pool_waiting")).toBe(0);
      expect(metricValue(text, 'driver_analytics_shed_total{reason="queue-full"}')).toBe(0);
      expect(metricValue(text, "driver_analytics_db_connection_errors_total")).toBe(0);
      expect(metricValue(text, 'driver_analytics_admission{state="in_flight"}')).toBe(0);
      // Nothing has queued: wait estimates are as Little's law gives them.
      expect(metricValue(text, "driver_analytics_admission_wait_estimate_scale")).toBe(1);
      expect(metricValue(text, "driver_analytics_database_up")).toBe(1);
    });

    it("echoes the caller's x-request-id, or makes one, on success and on failure", async () => {
      const headers: (string | null)[] = [];
      await t.connect.getStats(create(GetStatsRequestSchema, { driverId: 1n }), {
        headers: { "x-request-id": "abc-123" },
        onHeader: (h) => headers.push(h.get("x-request-id")),
      });
      await t.connect.getStats(create(GetStatsRequestSchema, { driverId: 1n }), {
        headers: { "x-request-id": "spaces are not ok" },
        onHeader: (h) => headers.push(h.get("x-request-id")),
      });
      const failure = await t.connect
        .getStats(create(GetStatsRequestSchema, { driverId: 999n }), { headers: { "x-request-id": "failing-1" } })
        .catch((e: unknown) => ConnectError.from(e));
      expect(headers[0]).toBe("abc-123");
      expect(headers[1]).toMatch(/^[0-9a-f-]{36}$/);
      expect((failure as ConnectError).metadata.get("x-request-id")).toBe("failing-1");
    });
  });
});

function metricValue(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
