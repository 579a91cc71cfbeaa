#!/usr/bin/env node
// A bare server for the benchmark's overhead rows: the service's own
// handlers, database pool and queries, behind one framework with nothing
// else (no auth, admission, metrics, request ids or error mapping), so the
// full service's cost per call can be read against the framework's floor.
//   node dist/bare-server.js connect|grpc-js   (DATABASE_URL, PORT)
import http2 from "node:http2";
import { randomBytes } from "node:crypto";
import type { HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Database } from "@driver-analytics/db";
import { DriverAnalytics } from "@driver-analytics/proto";
import {
  createAnalyticsQueries,
  createDriverAnalyticsService,
  grpcMethodDefinition,
  PageTokenCodec,
} from "@driver-analytics/server";
import * as grpc from "@grpc/grpc-js";

async function main(): Promise<void> {
  const kind = process.argv[2];
  const port = Number(process.env.PORT ?? 0);
  const db = new Database({
    connectionString: process.env.DATABASE_URL!,
    poolSize: Number(process.env.DB_POOL_SIZE ?? 4),
    acquireTimeoutMs: 10_000,
    maxWaiting: 100_000,
    statementTimeoutMs: 5_000,
  });
  const service = createDriverAnalyticsService({
    queries: createAnalyticsQueries(db, "rollup"),
    pageTokens: new PageTokenCodec(randomBytes(32)),
  });
  if (kind === "connect") {
    const server = http2.createServer(
      { maxSessionMemory: 64, settings: { maxConcurrentStreams: 250 } },
      connectNodeAdapter({ routes: (router) => router.service(DriverAnalytics, service), compressMinBytes: Infinity }),
    );
    server.listen(port, "127.0.0.1");
  } else if (kind === "grpc-js") {
    const server = new grpc.Server({ "grpc.max_concurrent_streams": 250 });
    const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const method of DriverAnalytics.methods) {
      definition[method.localName] = grpcMethodDefinition(DriverAnalytics, method);
      const fn = (service as unknown as Record<string, (req: unknown, ctx: HandlerContext) => Promise<unknown>>)[method.localName]!;
      implementation[method.localName] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const controller = new AbortController();
        const onCancelled = () => controller.abort();
        call.once("cancelled", onCancelled);
        // The handlers read only these of a context (see core/served-service.ts).
        const context = { signal: controller.signal, requestHeader: new Headers(), responseHeader: new Headers() };
        // grpc-js reports every call "cancelled" as its stream closes, answered
        // or not: stop listening once answered, as the service's adapter does,
        // or each call pays an abort (and its DOMException's stack trace).
        fn.call(service, call.request, context as unknown as HandlerContext)
          .finally(() => call.off("cancelled", onCancelled))
          .then(
            (response) => callback(null, response),
            (error: Error) => callback({ code: grpc.status.UNKNOWN, details: error.message }),
          );
      };
    }
    server.addService(definition as grpc.ServiceDefinition, implementation);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
    );
  } else {
    throw new Error("usage: bare-server connect|grpc-js");
  }
  process.on("SIGTERM", () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`bare-server: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
