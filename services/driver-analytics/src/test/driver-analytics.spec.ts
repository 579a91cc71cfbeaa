import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Database, findFreePort } from "@driver-analytics/db";
import { insertFixtures, type FixtureTrip } from "@driver-analytics/db/testing";
import {
  DriverAnalytics,
  GetStatsRequestSchema,
  ListTripsRequestSchema,
  type ListTripsResponse,
} from "@driver-analytics/proto";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRPC_SERVER_KINDS } from "../config.js";
import { createServer } from "../server.js";
import { codeOf, startTestServer, type TestServer } from "../testing/harness.js";
import { bearer, serviceToken, testVerifier } from "../testing/test-auth.js";

const HOUR = 3_600_000_000n;
const T0 = 1_750_000_000_000_000n;
const { getStats, listTrips } = DriverAnalytics.method;

function ts(micros: bigint) {
  const t = timestampFromMs(0);
  t.seconds = micros / 1_000_000n;
  t.nanos = Number(micros % 1_000_000n) * 1000;
  return t;
}


// gRPC served by each framework (Connect and gRPC-Web are connect-node's either way).
describe.each(GRPC_SERVER_KINDS)("DriverAnalytics over real clients (gRPC on %s)", (grpcServer) => {
  let t: TestServer;
  const tripsOfDriver1: FixtureTrip[] = [];

  beforeAll(async () => {
    t = await startTestServer({ grpcServer });
    // Driver 1: 120 trips, 30 of them sharing one completion instant.
    for (let i = 0n; i < 120n; i++) {
      tripsOfDriver1.push({
        driverId: 1n,
        completedAtMicros: i < 30n ? T0 : T0 + i * HOUR + 123n,
        fareMinor: 1000n + i,
        tipMinor: i % 2n === 0n ? 50n : 0n,
        ...(i % 3n === 0n ? {} : { review: { rating: Number((i % 5n) + 1n) } }),
      });
    }
    await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: 1n, currencyCode: "EUR" }, { id: 2n }, { id: 3n }],
      trips: [...tripsOfDriver1, { driverId: 3n, completedAtMicros: T0, fareMinor: 900n }],
    });
  });

  afterAll(async () => {
    await t.close();
  });

  describe("GetStats", () => {
    it("answers the same through grpc-js, gRPC, gRPC-Web and Connect", async () => {
      const request = create(GetStatsRequestSchema, { driverId: 1n });
      const answers = await Promise.all([
        t.grpcJs.call(getStats, request),
        t.grpc.getStats(request),
        t.grpcWeb.getStats(request),
        t.connect.getStats(request),
      ]);
      for (const answer of answers.slice(1)) expect(answer).toEqual(answers[0]);
      const stats = answers[0].stats!;
      const rated = tripsOfDriver1.filter((trip) => trip.review !== undefined);
      const ratingSum = rated.reduce((sum, trip) => sum + trip.review!.rating, 0);
      const fares = tripsOfDriver1.reduce((sum, trip) => sum + trip.fareMinor!, 0n);
      const tips = tripsOfDriver1.reduce((sum, trip) => sum + trip.tipMinor!, 0n);
      expect(stats.totalTrips).toBe(120n);
      expect(stats.totalEarnings).toMatchObject({ currencyCode: "EUR", amountMinor: fares + tips });
      expect(stats.fareEarnings?.amountMinor).toBe(fares);
      expect(stats.tipEarnings?.amountMinor).toBe(tips);
      expect(stats.ratedTrips).toBe(BigInt(rated.length));
      expect(stats.averageRating).toBe(ratingSum / rated.length);
    });

    it("gives a driver without trips zeros and no average; without reviews, no average", async () => {
      const none = await t.connect.getStats({ driverId: 2n });
      expect(none.stats).toMatchObject({ totalTrips: 0n, ratedTrips: 0n, totalEarnings: { amountMinor: 0n } });
      expect(none.stats?.averageRating).toBeUndefined();
      const unrated = await t.grpcJs.call(getStats, create(GetStatsRequestSchema, { driverId: 3n }));
      expect(unrated.stats).toMatchObject({ totalTrips: 1n, totalEarnings: { amountMinor: 900n } });
      expect(unrated.stats?.averageRating).toBeUndefined();
    });

    it("restricts to a window [start, end)", async () => {
      const window = { startTime: ts(T0), endTime: ts(T0 + 50n * HOUR + 123n) };
      const { stats } = await t.connect.getStats({ driverId: 1n, ...window });
      // the 30 trips at T0 plus i = 30..49 (T0 + 50h + 123 is excluded)
      expect(stats?.totalTrips).toBe(50n);
    });
  });

  describe("ListTrips paging", () => {
    async function walk(
      driverId: bigint,
      pageSize: number,
      extra: Partial<MessageInitShape<typeof ListTripsRequestSchema>> = {},
      between?: () => Promise<void>,
    ): Promise<bigint[]> {
      const ids: bigint[] = [];
      let pageToken = "";
      for (let pages = 0; pages < 10_000; pages++) {
        const page: ListTripsResponse = await t.grpcJs.call(
          listTrips,
          create(ListTripsRequestSchema, { driverId, pageSize, pageToken, ...extra }),
        );
        expect(page.trips.length).toBeLessThanOrEqual(pageSize);
        ids.push(...page.trips.map((trip) => trip.tripId));
        if (page.nextPageToken === "") return ids;
        pageToken = page.nextPageToken;
        await between?.();
      }
      throw new Error("paging did not end");
    }

    it("walks every trip exactly once, newest first, for page sizes 1, 7, 50 and 1000", async () => {
      const all = (await t.connect.listTrips({ driverId: 1n, pageSize: 1000 })).trips;
      expect(all).toHaveLength(120);
      const order = all.map((trip) => [trip.completeTime!.seconds * 1_000_000n + BigInt(trip.completeTime!.nanos / 1000), trip.tripId] as const);
      for (let i = 1; i < order.length; i++) {
        const [prevTime, prevId] = order[i - 1]!;
        const [time, id] = order[i]!;
        expect(prevTime > time || (prevTime === time && prevId > id)).toBe(true);
      }
      for (const size of [1, 7, 50, 1000]) {
        const ids = await walk(1n, size);
        expect(ids).toEqual(all.map((trip) => trip.tripId));
      }
    });

    it("returns each trip with its payment and review", async () => {
      const { trips } = await t.connect.listTrips({ driverId: 1n, pageSize: 1 });
      const newest = tripsOfDriver1.at(-1)!;
      expect(trips[0]).toMatchObject({
        driverId: 1n,
        payment: { fare: { currencyCode: "EUR", amountMinor: newest.fareMinor }, tip: { amountMinor: newest.tipMinor } },
        review: { rating: newest.review!.rating },
      });
    });

    it("sees every existing trip exactly once while new trips are inserted", async () => {
      const before = await walk(1n, 1000);
      let n = 0n;
      const seen = await walk(1n, 7, {}, async () => {
        // New trips land before, inside and after the part already walked.
        n++;
        await insertFixtures(t.testDb.connectionString, {
          trips: [
            { driverId: 1n, completedAtMicros: T0 + 500n * HOUR + n },
            { driverId: 1n, completedAtMicros: T0 + 60n * HOUR + n },
            { driverId: 1n, completedAtMicros: T0 },
          ],
        });
      });
      expect(new Set(seen).size).toBe(seen.length);
      for (const id of before) expect(seen).toContain(id);
    });

    it("walks a time window", async () => {
      const window = { startTime: ts(T0 + 40n * HOUR), endTime: ts(T0 + 45n * HOUR) };
      const ids = await walk(1n, 2, window);
      expect(ids).toHaveLength(5);
    });

    it("coerces a page_size above 1000 to 1000 and uses 50 for 0", async () => {
      const defaulted = await t.connect.listTrips({ driverId: 1n });
      expect(defaulted.trips).toHaveLength(50);
      const coerced = await t.connect.listTrips({ driverId: 1n, pageSize: 2_000_000_000 });
      expect(coerced.trips.length).toBeLessThanOrEqual(1000);
      expect(coerced.nextPageToken).toBe("");
    });
  });

  describe("errors", () => {
    it("NOT_FOUND for an unknown driver, on both RPCs and every protocol", async () => {
      expect(await codeOf(t.connect.getStats({ driverId: 999n }))).toBe(Code.NotFound);
      expect(await codeOf(t.grpc.listTrips({ driverId: 999n }))).toBe(Code.NotFound);
      const error = await t.grpcJs.call(getStats, create(GetStatsRequestSchema, { driverId: 999n })).catch((e) => e);
      expect(error.code).toBe(grpc.status.NOT_FOUND);
    });

    it("INVALID_ARGUMENT for bad ids, windows and page sizes", async () => {
      for (const driverId of [0n, -1n, -9_223_372_036_854_775_808n]) {
        expect(await codeOf(t.connect.getStats({ driverId }))).toBe(Code.InvalidArgument);
        expect(await codeOf(t.connect.listTrips({ driverId }))).toBe(Code.InvalidArgument);
      }
      const backwards = { startTime: ts(T0), endTime: ts(T0) };
      expect(await codeOf(t.connect.getStats({ driverId: 1n, ...backwards }))).toBe(Code.InvalidArgument);
      expect(await codeOf(t.connect.listTrips({ driverId: 1n, ...backwards }))).toBe(Code.InvalidArgument);
      const outOfRange = { startTime: { seconds: 999_999_999_999n, nanos: 0 } };
      expect(await codeOf(t.connect.getStats({ driverId: 1n, ...outOfRange }))).toBe(Code.InvalidArgument);
      expect(await codeOf(t.connect.listTrips({ driverId: 1n, pageSize: -1 }))).toBe(Code.InvalidArgument);
    });

    it("INVALID_ARGUMENT for garbled, forged and misapplied page tokens", async () => {
      const { nextPageToken } = await t.connect.listTrips({ driverId: 1n, pageSize: 5 });
      const bytes = Buffer.from(nextPageToken, "base64url");
      const flipped = Buffer.from(bytes);
      flipped[20]! ^= 0x01; // move the cursor without the key
      const bad = [
        "garbage!",
        "AAAA",
        nextPageToken.slice(0, -3),
        flipped.toString("base64url"),
        nextPageToken + "A",
        "💥",
      ];
      for (const pageToken of bad) {
        expect(await codeOf(t.connect.listTrips({ driverId: 1n, pageToken }))).toBe(Code.InvalidArgument);
      }
      // Issued for driver 1: useless for driver 3, or with other filters.
      expect(await codeOf(t.connect.listTrips({ driverId: 3n, pageToken: nextPageToken }))).toBe(Code.InvalidArgument);
      expect(
        await codeOf(t.connect.listTrips({ driverId: 1n, pageToken: nextPageToken, startTime: ts(T0) })),
      ).toBe(Code.InvalidArgument);
      // page_size may change between pages (AIP-158).
      const next = await t.connect.listTrips({ driverId: 1n, pageToken: nextPageToken, pageSize: 2 });
      expect(next.trips).toHaveLength(2);
    });

    it("leaks no SQL, stack or internals in error messages", async () => {
      const error = ConnectError.from(await t.connect.getStats({ driverId: 0n }).catch((e) => e));
      expect(error.rawMessage).toBe("driver_id must be a positive integer");
      expect(error.rawMessage).not.toMatch(/select|postgres|at .*\.js/i);
    });
  });
});

describe("when the database is unreachable", () => {
  it("fails with UNAVAILABLE within a bounded time, never hangs", async () => {
    const deadPort = await findFreePort(); // nothing listens here
    const db = new Database({
      connectionString: `postgresql://postgres:postgres@127.0.0.1:${deadPort}/none`,
      poolSize: 2,
      acquireTimeoutMs: 1_000,
      maxWaiting: 10,
      statementTimeoutMs: 1_000,
    });
    const { listener } = createServer({ db, logger: pino({ level: "silent" }), auth: testVerifier() });
    const { port } = await listener.listen(0, "127.0.0.1");
    const client = createClient(
      DriverAnalytics,
      createConnectTransport({
        baseUrl: `http://127.0.0.1:${port}`,
        httpVersion: "1.1",
        interceptors: [bearer(await serviceToken())],
      }),
    );
    try {
      const started = performance.now();
      const error = ConnectError.from(await client.getStats({ driverId: 1n }).catch((e) => e));
      expect(error.code).toBe(Code.Unavailable);
      expect(error.rawMessage).toBe("database unavailable, retry later");
      expect(error.metadata.get("grpc-retry-pushback-ms")).not.toBeNull();
      expect(performance.now() - started).toBeLessThan(3_000);
    } finally {
      await listener.close(1_000);
      await db.close();
    }
  });
});

describe("strategies", () => {
  it("rollup and naive (the benchmark baseline) give the same answers as live", async () => {
    const live = await startTestServer({ strategy: "live" });
    const others = [
      await startTestServer({ strategy: "rollup", testDb: live.testDb }),
      await startTestServer({ strategy: "naive", testDb: live.testDb }),
    ];
    try {
      const trips: FixtureTrip[] = [];
      for (let i = 0n; i < 75n; i++) {
        trips.push({
          driverId: 1n + (i % 3n),
          status: i % 11n === 0n ? "cancelled" : "completed",
          completedAtMicros: T0 + (i % 10n) * HOUR,
          fareMinor: 700n + i,
          ...(i % 4n === 0n ? {} : { review: { rating: Number((i % 5n) + 1n) } }),
        });
      }
      await insertFixtures(live.testDb.connectionString, { drivers: [{ id: 1n }, { id: 2n }, { id: 3n }, { id: 4n }], trips });
      for (const other of others) {
        for (const driverId of [1n, 2n, 3n, 4n]) {
          for (const window of [{}, { startTime: ts(T0 + 2n * HOUR), endTime: ts(T0 + 7n * HOUR) }]) {
            expect(await other.connect.getStats({ driverId, ...window })).toEqual(
              await live.connect.getStats({ driverId, ...window }),
            );
            let liveToken = "";
            let otherToken = "";
            do {
              const a = await live.connect.listTrips({ driverId, pageSize: 4, pageToken: liveToken, ...window });
              const b = await other.connect.listTrips({ driverId, pageSize: 4, pageToken: otherToken, ...window });
              expect(b.trips).toEqual(a.trips);
              expect(b.nextPageToken === "").toBe(a.nextPageToken === "");
              liveToken = a.nextPageToken;
              otherToken = b.nextPageToken;
            } while (liveToken !== "");
          }
        }
      }
    } finally {
      for (const other of others) await other.close();
      await live.close();
    }
  });
});
