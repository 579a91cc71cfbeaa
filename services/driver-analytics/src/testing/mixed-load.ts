// Mixed load for whole-system tests: closed-loop callers over gRPC
// (@grpc/grpc-js and connect-node), Connect (HTTP/1.1) and gRPC-Web
// (HTTP/1.1), each a mix of GetStats, ListTrips, GetEarningsSeries and
// CreateTrip. Every outcome is recorded with its start and end time.
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import {
  CreateTripRequestSchema,
  DriverAnalytics,
  GetStatsRequestSchema,
  ListTripsRequestSchema,
  TripStatus,
} from "@driver-analytics/proto";
import { createGrpcJsClient } from "./harness.js";
import { bearer } from "./test-auth.js";

export type Protocol = "grpc-js" | "grpc" | "connect" | "grpc-web";
export const PROTOCOLS: Protocol[] = ["grpc-js", "grpc", "connect", "grpc-web"];

export interface Outcome {
  protocol: Protocol;
  method: string;
  startedAt: number;
  endedAt: number;
  /** Code.Ok is 0 in neither enum; "ok" marks success. */
  code: Code | "ok";
  message?: string;
}

export interface MixedLoadOptions {
  /** host:port */
  address: string;
  token: string;
  driverIds: bigint[];
  /** Callers per protocol. */
  callersPerProtocol: number;
  /** Share of calls that are CreateTrip (default 0.2). */
  writeShare?: number;
  deadlineMs?: number;
  currencyCode?: string;
}

export interface MixedLoad {
  outcomes: Outcome[];
  /** Calls started and not finished now. */
  inFlight(): number;
  stop(): Promise<Outcome[]>;
}

/** startMixedLoad starts the callers; stop() waits for their last calls. */
export function startMixedLoad(options: MixedLoadOptions): MixedLoad {
  const baseUrl = `http://${options.address}`;
  const interceptors = [bearer(options.token)];
  const deadlineMs = options.deadlineMs ?? 10_000;
  const clients: Record<Exclude<Protocol, "grpc-js">, Client<typeof DriverAnalytics>> = {
    grpc: createClient(DriverAnalytics, createGrpcTransport({ baseUrl, interceptors })),
    connect: createClient(DriverAnalytics, createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors })),
    "grpc-web": createClient(DriverAnalytics, createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors })),
  };
  const grpcJs = createGrpcJsClient(options.address, {}, { authorization: `Bearer ${options.token}` });
  const outcomes: Outcome[] = [];
  let stopped = false;
  let inFlight = 0;
  const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!;

  const callOnce = async (protocol: Protocol): Promise<void> => {
    const driverId = pick(options.driverIds);
    const roll = Math.random();
    const writeShare = options.writeShare ?? 0.2;
    const method = roll < writeShare ? "CreateTrip" : roll < writeShare + (1 - writeShare) / 2 ? "GetStats" : "ListTrips";
    const now = Date.now();
    const started = performance.now();
    inFlight++;
    try {
      if (protocol === "grpc-js") {
        if (method === "CreateTrip") {
          await grpcJs.call(DriverAnalytics.method.createTrip, tripRequest(driverId, now, options.currencyCode), { deadlineMs });
        } else if (method === "GetStats") {
          await grpcJs.call(DriverAnalytics.method.getStats, create(GetStatsRequestSchema, { driverId }), { deadlineMs });
        } else {
          await grpcJs.call(DriverAnalytics.method.listTrips, create(ListTripsRequestSchema, { driverId, pageSize: 10 }), { deadlineMs });
        }
      } else {
        const client = clients[protocol];
        const callOptions = { timeoutMs: deadlineMs };
        if (method === "CreateTrip") await client.createTrip(tripRequest(driverId, now, options.currencyCode), callOptions);
        else if (method === "GetStats") await client.getStats({ driverId }, callOptions);
        else await client.listTrips({ driverId, pageSize: 10 }, callOptions);
      }
      outcomes.push({ protocol, method, startedAt: started, endedAt: performance.now(), code: "ok" });
    } catch (error) {
      const { code, message } = errorCode(error);
      outcomes.push({ protocol, method, startedAt: started, endedAt: performance.now(), code, message });
    } finally {
      inFlight--;
    }
  };

  const loops = PROTOCOLS.flatMap((protocol) =>
    Array.from({ length: options.callersPerProtocol }, async () => {
      while (!stopped) await callOnce(protocol);
    }),
  );
  return {
    outcomes,
    inFlight: () => inFlight,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      grpcJs.close();
      return outcomes;
    },
  };
}

function tripRequest(driverId: bigint, nowMs: number, currencyCode = "USD") {
  return create(CreateTripRequestSchema, {
    requestId: randomUUID(),
    driverId,
    status: TripStatus.COMPLETED,
    startTime: timestampFromMs(nowMs - 20 * 60_000),
    completeTime: timestampFromMs(nowMs - 60_000),
    distanceMeters: 5_000n,
    fare: { currencyCode, amountMinor: 1_500n },
    tip: { currencyCode, amountMinor: 100n },
  });
}

/** errorCode: the status of a failed call from any of the clients (grpc-js errors carry the same numbers). */
export function errorCode(error: unknown): { code: Code; message: string } {
  if (error instanceof ConnectError) return { code: error.code, message: error.rawMessage };
  const grpc = error as { code?: unknown; details?: unknown; message?: unknown };
  if (typeof grpc.code === "number") return { code: grpc.code as Code, message: String(grpc.details ?? grpc.message) };
  return { code: Code.Unknown, message: String(error) };
}

/** summarize counts outcomes by result, e.g. { ok: 812, unavailable: 3 }. */
export function summarize(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.code === "ok" ? "ok" : Code[o.code]!;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
