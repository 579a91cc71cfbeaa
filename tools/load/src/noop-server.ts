// No-op DriverAnalytics servers (connect-node on node:http2, and grpc-js), for
// the end-to-end tests and for measuring this tool's own ceiling. They answer
// at once, with empty stats; ListTrips pretends each driver has `pagesPerDriver`
// pages so page walks can be exercised.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  DriverAnalytics,
  GetStatsRequestSchema,
  GetStatsResponseSchema,
  ListTripsRequestSchema,
  ListTripsResponseSchema,
  type GetStatsRequest,
  type GetStatsResponse,
  type ListTripsRequest,
  type ListTripsResponse,
} from "@driver-analytics/proto";

export interface NoopServerOptions {
  /** 0 (default) = any free port. */
  readonly port?: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS per connection (default 10,000). */
  readonly maxConcurrentStreams?: number;
  /** Pages of trips each driver has (default 3). */
  readonly pagesPerDriver?: number;
  /**
   * Makes calls fail: returns a gRPC code for a driver id, or undefined for OK.
   * E.g. `(id) => id % 2n === 0n ? Code.Unavailable : undefined`.
   */
  readonly failFor?: (driverId: bigint) => number | undefined;
  /** connect-node server only: answer GetStats after this many ms (default 0: at once), to model a slow service. */
  readonly delayMs?: number;
}

export interface RunningServer {
  readonly port: number;
  close(): Promise<void>;
}

const EMPTY_STATS: GetStatsResponse = create(GetStatsResponseSchema);

function handlers(o: NoopServerOptions) {
  const pages = o.pagesPerDriver ?? 3;
  const check = (driverId: bigint): void => {
    const code = o.failFor?.(driverId);
    if (code !== undefined) throw new ConnectError(`driver ${driverId} refused by the no-op server`, code);
  };
  return {
    getStats(req: GetStatsRequest): GetStatsResponse {
      check(req.driverId);
      return EMPTY_STATS;
    },
    listTrips(req: ListTripsRequest): ListTripsResponse {
      check(req.driverId);
      const page = req.pageToken === "" ? 1 : Number(req.pageToken.slice(1)) || 1;
      return create(ListTripsResponseSchema, { nextPageToken: page < pages ? `p${page + 1}` : "" });
    },
  };
}

/** connect-node serving gRPC, gRPC-Web and Connect on plaintext HTTP/2, as the real service does. */
export function startConnectNoopServer(o: NoopServerOptions = {}): Promise<RunningServer> {
  const h = handlers(o);
  const server = http2.createServer(
    {
      // Node's 10 MB default trips with thousands of streams per connection (ENHANCE_YOUR_CALM).
      maxSessionMemory: 1024,
      settings: { maxConcurrentStreams: o.maxConcurrentStreams ?? 10_000 },
    },
    connectNodeAdapter({
      routes(router) {
        router.service(DriverAnalytics, {
          getStats: o.delayMs
            ? (req) => new Promise<GetStatsResponse>((resolve) => setTimeout(() => resolve(h.getStats(req)), o.delayMs))
            : (req) => h.getStats(req),
          listTrips: (req) => h.listTrips(req),
        });
      },
    }),
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, "127.0.0.1", () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sessions) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** grpc-js serving gRPC only: a much cheaper server per call, to find the client's own limit. */
export function startGrpcNoopServer(o: NoopServerOptions = {}): Promise<RunningServer> {
  const h = handlers(o);
  const server = new grpc.Server({ "grpc.max_concurrent_streams": o.maxConcurrentStreams ?? 10_000 });
  const unary = <Req, Res>(
    name: string,
    decode: (b: Buffer) => Req,
    encode: (m: Res) => Buffer,
    handle: (r: Req) => Res,
  ): [grpc.MethodDefinition<Req, Res>, grpc.handleUnaryCall<Req, Res>] => [
    {
      path: `/${DriverAnalytics.typeName}/${name}`,
      requestStream: false,
      responseStream: false,
      requestDeserialize: decode,
      requestSerialize: () => Buffer.alloc(0),
      responseSerialize: encode,
      responseDeserialize: () => undefined as Res,
    },
    (call, callback) => {
      try {
        callback(null, handle(call.request));
      } catch (e) {
        const err = e instanceof ConnectError ? e : new ConnectError(String(e), Code.Internal);
        callback({ code: err.code as number as grpc.status, details: err.rawMessage, name: "Error", message: err.rawMessage });
      }
    },
  ];
  const [statsDef, statsImpl] = unary(
    "GetStats",
    (b) => fromBinary(GetStatsRequestSchema, b),
    (m: GetStatsResponse) => Buffer.from(toBinary(GetStatsResponseSchema, m)),
    h.getStats,
  );
  const [listDef, listImpl] = unary(
    "ListTrips",
    (b) => fromBinary(ListTripsRequestSchema, b),
    (m: ListTripsResponse) => Buffer.from(toBinary(ListTripsResponseSchema, m)),
    h.listTrips,
  );
  server.addService({ GetStats: statsDef, ListTrips: listDef } as grpc.ServiceDefinition, {
    GetStats: statsImpl,
    ListTrips: listImpl,
  } as grpc.UntypedServiceImplementation);
  return new Promise((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${o.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) return reject(err);
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            server.tryShutdown(() => done());
            // Streams still open would hold tryShutdown; a no-op server has nothing to drain.
            setTimeout(() => server.forceShutdown(), 1000).unref();
          }),
      });
    });
  });
}
