// Test harness: a real server on a free port over a fresh test database, and
// real clients for it — @grpc/grpc-js (what internal services use) and
// connect-node's Connect protocol (what Connect-Web speaks).
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Database } from "@driver-analytics/db";
import { createTestDatabase, type TestDatabase } from "@driver-analytics/db/testing";
import { DriverAnalytics } from "@driver-analytics/proto";
import * as grpc from "@grpc/grpc-js";
import { pino, type Logger } from "pino";
import type { Strategy } from "../handlers/analytics-queries.js";
import type { AdmissionOptions } from "../ops/admission/admission-controller.js";
import type { DatabaseProbeOptions } from "../ops/health.js";
import type { GrpcServerKind } from "../config.js";
import type { ConnectionLimits } from "../http/listener.js";
import { createServer, type DriverAnalyticsServer } from "../server.js";
import { bearer, serviceToken, testVerifier } from "./test-auth.js";

export interface TestServer {
  baseUrl: string;
  port: number;
  testDb: TestDatabase;
  db: Database;
  server: DriverAnalyticsServer;
  /** Connect protocol over HTTP/1.1, as browsers speak it. */
  connect: Client<typeof DriverAnalytics>;
  grpcWeb: Client<typeof DriverAnalytics>;
  /** gRPC via connect-node's client. */
  grpc: Client<typeof DriverAnalytics>;
  /** A @grpc/grpc-js client; close it with grpcJs.close(). */
  grpcJs: GrpcJsClient;
  /** The token the clients above send: a service's, with read and write scopes. */
  token: string;
  close(): Promise<void>;
}

export interface TestServerOptions {
  strategy?: Strategy;
  /** Reuse a database instead of creating a fresh one (it is not dropped on close). */
  testDb?: TestDatabase;
  poolSize?: number;
  maxWaiting?: number;
  acquireTimeoutMs?: number;
  statementTimeoutMs?: number;
  admission?: AdmissionOptions;
  healthProbe?: DatabaseProbeOptions;
  dashboardDir?: string;
  corsAllowedOrigins?: readonly string[];
  grpcServer?: GrpcServerKind;
  connectionLimits?: Partial<ConnectionLimits>;
  /** Per-connection cap on concurrent HTTP/2 streams; the server's default when absent. */
  maxConcurrentStreams?: number;
  /** The server's logger; silent when absent. */
  logger?: Logger;
}

/** startTestServer starts the real server on 127.0.0.1:0 over a fresh migrated database. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const ownsDb = options.testDb === undefined;
  const testDb = options.testDb ?? (await createTestDatabase());
  const db = new Database({
    connectionString: testDb.connectionString,
    poolSize: options.poolSize ?? 4,
    acquireTimeoutMs: options.acquireTimeoutMs ?? 2_000,
    maxWaiting: options.maxWaiting ?? 1_000,
    statementTimeoutMs: options.statementTimeoutMs ?? 10_000,
  });
  const server = createServer({
    db,
    logger: options.logger ?? pino({ level: "silent" }),
    auth: testVerifier(),
    strategy: options.strategy ?? "rollup",
    processMetrics: false,
    ...(options.admission === undefined ? {} : { admission: options.admission }),
    ...(options.healthProbe === undefined ? {} : { healthProbe: options.healthProbe }),
    ...(options.dashboardDir === undefined ? {} : { dashboardDir: options.dashboardDir }),
    ...(options.corsAllowedOrigins === undefined ? {} : { corsAllowedOrigins: options.corsAllowedOrigins }),
    grpcServer: options.grpcServer ?? "grpc-js",
    ...(options.connectionLimits === undefined ? {} : { connectionLimits: options.connectionLimits }),
    ...(options.maxConcurrentStreams === undefined ? {} : { maxConcurrentStreams: options.maxConcurrentStreams }),
  });
  const { port } = await server.listener.listen(0, "127.0.0.1");
  const baseUrl = `http://127.0.0.1:${port}`;
  const token = await serviceToken();
  const grpcJs = createGrpcJsClient(`127.0.0.1:${port}`, {}, { authorization: `Bearer ${token}` });
  const interceptors = [bearer(token)];
  return {
    baseUrl,
    port,
    testDb,
    db,
    server,
    connect: createClient(DriverAnalytics, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors })),
    grpcWeb: createClient(DriverAnalytics, createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors })),
    grpc: createClient(DriverAnalytics, createGrpcTransport({ baseUrl, interceptors })),
    grpcJs,
    token,
    async close() {
      grpcJs.close();
      await server.close(1_000);
      await db.close();
      if (ownsDb) await testDb.drop();
    },
  };
}

export interface GrpcJsCallOptions {
  deadlineMs?: number;
  metadata?: Record<string, string>;
}

/** GrpcJsClient calls any unary DriverAnalytics method through @grpc/grpc-js. */
export interface GrpcJsClient {
  call<I extends DescMessage, O extends DescMessage>(
    method: { name: string; input: I; output: O },
    request: MessageShape<I>,
    options?: GrpcJsCallOptions,
  ): Promise<MessageShape<O>>;
  close(): void;
}

/** createGrpcJsClient: defaultMetadata goes with every call unless the call sets the same key. */
export function createGrpcJsClient(
  address: string,
  channelOptions: grpc.ChannelOptions = {},
  defaultMetadata: Record<string, string> = {},
): GrpcJsClient {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), channelOptions);
  return {
    call(method, request, options = {}) {
      const path = `/${DriverAnalytics.typeName}/${method.name}`;
      const metadata = new grpc.Metadata();
      for (const [key, value] of Object.entries({ ...defaultMetadata, ...options.metadata })) metadata.set(key, value);
      const callOptions: grpc.CallOptions =
        options.deadlineMs === undefined ? {} : { deadline: new Date(Date.now() + options.deadlineMs) };
      return new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          path,
          (message: MessageShape<typeof method.input>) => Buffer.from(toBinary(method.input, message)),
          (bytes: Buffer) => fromBinary(method.output, bytes),
          request,
          metadata,
          callOptions,
          (error, response) => (error ? reject(error) : resolve(response!)),
        );
      });
    },
    close: () => client.close(),
  };
}

/** codeOf awaits a call that must fail and returns its status code. */
export async function codeOf(call: Promise<unknown>): Promise<Code> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error).code;
  }
  throw new Error("call succeeded");
}
