// Random and mutated requests never yield INTERNAL (or UNKNOWN) and never
// take the process down: driver ids across the whole int64 range, page sizes
// across int32, timestamps far outside what PostgreSQL stores, and page
// tokens that are random, unicode, huge, truncated, bit-flipped, or another
// driver's. FUZZ_RUNS sets the number of cases (default 300); `pnpm --filter
// @driver-analytics/server run fuzz` runs 10,000.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { insertFixtures } from "@driver-analytics/db/testing";
import {
  DriverAnalytics,
  GetStatsRequestSchema,
  ListTripsRequestSchema,
  type GetStatsRequest,
  type ListTripsRequest,
} from "@driver-analytics/proto";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../testing/harness.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const FORBIDDEN = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);
// Nothing of the database may leak into a message.
const LEAK = /select|from |postgres|pg_|sql|stack|at .*\.js/i;

describe("fuzzing requests and page tokens", () => {
  let t: TestServer;
  const tokens: Record<"driver1" | "driver2", string> = { driver1: "", driver2: "" };

  beforeAll(async () => {
    t = await startTestServer({ poolSize: 4 });
    await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: 1n }, { id: 2n }],
      trips: Array.from({ length: 12 }, (_, i) => ({
        driverId: BigInt((i % 2) + 1),
        completedAtMicros: 1_750_000_000_000_000n + BigInt(i) * 60_000_000n,
        ...(i % 3 === 0 ? { review: { rating: 4, comment: "ünïcødé 🚕" } } : {}),
      })),
    });
    tokens.driver1 = (await t.connect.listTrips({ driverId: 1n, pageSize: 2 })).nextPageToken;
    tokens.driver2 = (await t.connect.listTrips({ driverId: 2n, pageSize: 2 })).nextPageToken;
    expect(tokens.driver1).not.toBe("");
  });

  afterAll(async () => {
    await t.close();
  });

  const driverId = fc.oneof(
    fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
    fc.constantFrom(0n, 1n, 2n, 3n, -1n, INT64_MIN, INT64_MAX),
  );
  // Seconds across int64 (far past year 9999 and before year 1) and nanos across int32.
  const timestamp = fc.option(
    fc.record({
      seconds: fc.oneof(
        fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
        fc.bigInt({ min: -62_135_596_800n, max: 253_402_300_799n }),
        fc.constantFrom(1_750_000_000n, 0n),
      ),
      nanos: fc.oneof(fc.integer(), fc.integer({ min: 0, max: 999_999_999 })),
    }),
    { nil: undefined, freq: 2 },
  );
  const mutate = (token: string) =>
    fc.oneof(
      fc.nat({ max: Math.max(0, token.length - 1) }).map((n) => token.slice(0, n)),
      fc.tuple(fc.nat({ max: token.length - 1 }), fc.integer({ min: 0, max: 6 })).map(([i, bit]) => {
        const code = token.charCodeAt(i) ^ (1 << bit);
        return token.slice(0, i) + String.fromCharCode(code) + token.slice(i + 1);
      }),
      fc.string({ maxLength: 8 }).map((extra) => token + extra),
      fc.constant(token.split("").reverse().join("")),
      fc.constant(Buffer.from(token, "base64url").toString("base64")),
    );
  // Built lazily, like listTrips below: the tokens exist only after beforeAll.
  const pageToken = () => fc.oneof(
    fc.constant(""),
    fc.constant(tokens.driver1),
    fc.constant(tokens.driver2),
    fc.constantFrom("driver1" as const, "driver2" as const).chain((k) => mutate(tokens[k])),
    fc.string({ maxLength: 64 }),
    fc.string({ unit: "binary", maxLength: 64 }),
    fc.base64String({ maxLength: 200 }),
    fc.constantFrom("A".repeat(5_000), "🚕".repeat(20_000), "\u0000\uFFFF\uD800", "%00", "../../etc/passwd"),
  );
  const pageSize = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -2, max: 1_100 }));

  const getStats = fc.record({ driverId, startTime: timestamp, endTime: timestamp }).map((init) =>
    create(GetStatsRequestSchema, init),
  );
  const listTrips = () =>
    fc.record({ driverId, pageSize, pageToken: pageToken(), startTime: timestamp, endTime: timestamp }).map((init) =>
      create(ListTripsRequestSchema, init),
    );

  async function codeOf(call: Promise<unknown>): Promise<{ code: Code | "OK"; message: string }> {
    try {
      await call;
      return { code: "OK", message: "" };
    } catch (error) {
      if (error instanceof ConnectError) return { code: error.code, message: error.rawMessage };
      const e = error as grpc.ServiceError;
      return { code: e.code as number as Code, message: e.details };
    }
  }

  it(`never answers INTERNAL to ${RUNS} random and mutated requests, over gRPC, Connect and grpc-js`, async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          getStats.map((r) => ({ kind: "getStats" as const, request: r as GetStatsRequest | ListTripsRequest })),
          listTrips().map((r) => ({ kind: "listTrips" as const, request: r as GetStatsRequest | ListTripsRequest })),
        ),
        fc.constantFrom("grpc", "connect", "grpcJs" as const),
        async ({ kind, request }, via) => {
          let call: Promise<unknown>;
          if (via === "grpcJs") {
            call =
              kind === "getStats"
                ? t.grpcJs.call(DriverAnalytics.method.getStats, request as GetStatsRequest, { deadlineMs: 10_000 })
                : t.grpcJs.call(DriverAnalytics.method.listTrips, request as ListTripsRequest, { deadlineMs: 10_000 });
          } else {
            const client = t[via];
            call =
              kind === "getStats"
                ? client.getStats(request as GetStatsRequest, { timeoutMs: 10_000 })
                : client.listTrips(request as ListTripsRequest, { timeoutMs: 10_000 });
          }
          const { code, message } = await codeOf(call);
          const name = code === "OK" ? "OK" : Code[code];
          seen.set(name!, (seen.get(name!) ?? 0) + 1);
          if (code !== "OK" && FORBIDDEN.has(code)) throw new Error(`${kind} via ${via} answered ${name}: ${message}`);
          if (LEAK.test(message)) throw new Error(`${kind} via ${via} leaked internals: ${message}`);
        },
      ),
      { numRuns: RUNS },
    );
    console.info(`fuzz: ${RUNS} cases, codes ${JSON.stringify(Object.fromEntries(seen))}`);
    // The fuzzer must reach both worlds: answers and refusals.
    expect(seen.get("OK")).toBeGreaterThan(0);
    expect(seen.get("InvalidArgument")).toBeGreaterThan(0);

    // Still alive and well.
    const stats = await t.grpc.getStats({ driverId: 1n });
    expect(stats.stats?.totalTrips).toBe(6n);
    // A slot comes back when the server's stream closes, just after the client has its answer.
    await expect.poll(() => t.server.admission.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  }, Math.max(60_000, RUNS * 20));
});
