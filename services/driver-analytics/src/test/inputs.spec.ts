// Issue 10, section 2: nothing the contract admits may answer INTERNAL. Each
// case below once answered INTERNAL (or was silently accepted); each now gets
// OK or a precise code, writes nothing when refused, and the stored totals
// stay exact.
import { randomUUID } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { getDriverStatsLive } from "@driver-analytics/db";
import { insertFixtures } from "@driver-analytics/db/testing";
import { CreateTripRequestSchema, SeriesGranularity, TripStatus, type CreateTripRequest } from "@driver-analytics/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeOf, startTestServer, type TestServer } from "../testing/harness.js";

const INT64_MAX = 2n ** 63n - 1n;
const MAX_SECONDS = 253_402_300_799n; // 9999-12-31T23:59:59Z
const MIN_SECONDS = -62_135_596_800n; // 0001-01-01T00:00:00Z
const T0 = Date.parse("2025-06-02T08:00:00Z");
const HOUR_MS = 3_600_000;

type TripInit = Omit<MessageInitShape<typeof CreateTripRequestSchema>, "$typeName">;

function tripRequest(overrides: TripInit = {}): CreateTripRequest {
  return create(CreateTripRequestSchema, {
    requestId: randomUUID(),
    driverId: 1n,
    status: TripStatus.COMPLETED,
    startTime: timestampFromMs(T0),
    completeTime: timestampFromMs(T0 + HOUR_MS),
    distanceMeters: 9_000n,
    fare: { currencyCode: "EUR", amountMinor: 2_350n },
    tip: { currencyCode: "EUR", amountMinor: 200n },
    ...overrides,
  });
}

describe("inputs at the edges of the contract", () => {
  let t: TestServer;
  // Plain SQL on the server's own pool, to look behind the API.
  const sql = {
    query: async <Row extends object>(text: string, values: unknown[] = []) => {
      const rows = await t.db.query<Row>(text, values);
      return { rows, rowCount: rows.length };
    },
  };
  let tripId: bigint;

  const tripCount = async () => Number((await sql.query<{ n: bigint }>("SELECT count(*) AS n FROM trips")).rows[0]!.n);

  beforeAll(async () => {
    t = await startTestServer();
    [tripId] = (await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: 1n, currencyCode: "EUR", timeZone: "Pacific/Kiritimati" }, { id: 2n, currencyCode: "USD" }],
      trips: [{ driverId: 1n, completedAtMicros: BigInt(T0) * 1000n }],
    })) as [bigint];
  });
  afterAll(async () => {
    await t.close();
  });

  it("money, distance and duration beyond the business maxima: INVALID_ARGUMENT, nothing written", async () => {
    const before = await tripCount();
    const refused: TripInit[] = [
      { fare: { currencyCode: "EUR", amountMinor: INT64_MAX } },
      { fare: { currencyCode: "EUR", amountMinor: 100_000_001n } },
      { tip: { currencyCode: "EUR", amountMinor: INT64_MAX } },
      // Each within int64, but fare + tip (the response's total) was not.
      { fare: { currencyCode: "EUR", amountMinor: INT64_MAX - 1n }, tip: { currencyCode: "EUR", amountMinor: 2n } },
      { distanceMeters: INT64_MAX },
      { distanceMeters: 2_000_001n },
      { startTime: timestampFromMs(T0 - 24 * HOUR_MS - 1), completeTime: timestampFromMs(T0) },
      { startTime: { seconds: MIN_SECONDS, nanos: 0 }, completeTime: timestampFromMs(T0) },
    ];
    for (const overrides of refused) {
      const code = await codeOf(t.connect.createTrip(tripRequest(overrides)));
      expect(code, JSON.stringify(overrides, (_, v) => (typeof v === "bigint" ? String(v) : v))).toBe(Code.InvalidArgument);
    }
    expect(await tripCount()).toBe(before);

    // Exactly at every maximum: accepted.
    const { trip } = await t.grpc.createTrip(
      tripRequest({
        startTime: timestampFromMs(T0 - 24 * HOUR_MS),
        completeTime: timestampFromMs(T0),
        distanceMeters: 2_000_000n,
        fare: { currencyCode: "EUR", amountMinor: 100_000_000n },
        tip: { currencyCode: "EUR", amountMinor: 100_000_000n },
      }),
    );
    expect(trip?.payment?.total?.amountMinor).toBe(200_000_000n);
  });

  it("a write that would overflow a driver's stored total: OUT_OF_RANGE, nothing written, totals intact", async () => {
    // Another writer (or old data) took a total to the edge of int8.
    await sql.query("UPDATE driver_stats SET fare_minor = $1 WHERE driver_id = 1", [(INT64_MAX - 5n).toString()]);
    const before = await tripCount();
    expect(await codeOf(t.connect.createTrip(tripRequest()))).toBe(Code.OutOfRange);
    expect(await tripCount()).toBe(before);
    const stats = (await sql.query<{ fare_minor: bigint }>("SELECT fare_minor FROM driver_stats WHERE driver_id = 1")).rows[0];
    expect(stats?.fare_minor).toBe(INT64_MAX - 5n);
    // The cap on a driver's trips: 10^7.
    await sql.query("UPDATE driver_stats SET fare_minor = 0, total_trips = 10000000 WHERE driver_id = 1");
    expect(await codeOf(t.grpc.createTrip(tripRequest()))).toBe(Code.OutOfRange);
    expect(await tripCount()).toBe(before);
    await sql.query("SELECT rebuild_driver_rollups(ARRAY[1::int8])");
  });

  it("timestamps at the edges of the protobuf range: OK, never INTERNAL; just outside: INVALID_ARGUMENT", async () => {
    const last = { seconds: MAX_SECONDS, nanos: 999_999_999 };
    const first = { seconds: MIN_SECONDS, nanos: 0 };
    for (const window of [
      { endTime: last },
      { startTime: first },
      { startTime: first, endTime: last },
      { startTime: { seconds: MAX_SECONDS, nanos: 999_999_000 }, endTime: last },
      { startTime: { seconds: MAX_SECONDS, nanos: 999_999_998 } }, // rounds up to the last microsecond
    ]) {
      const { stats } = await t.connect.getStats({ driverId: 1n, ...window });
      expect(stats).toBeDefined();
      const page = await t.grpc.listTrips({ driverId: 1n, ...window });
      expect(page.trips.length).toBeGreaterThanOrEqual(0);
    }
    const all = await t.connect.listTrips({ driverId: 1n, startTime: first, endTime: last });
    expect(all.trips.length).toBe(Number((await t.connect.getStats({ driverId: 1n })).stats!.totalTrips));
    for (const outside of [
      { seconds: MAX_SECONDS + 1n, nanos: 0 },
      { seconds: MIN_SECONDS - 1n, nanos: 999_999_999 },
      { seconds: 0n, nanos: 1_000_000_000 },
      { seconds: 0n, nanos: -1 },
    ]) {
      expect(await codeOf(t.connect.getStats({ driverId: 1n, endTime: outside }))).toBe(Code.InvalidArgument);
      expect(await codeOf(t.connect.createTrip(tripRequest({ startTime: outside })))).toBe(Code.InvalidArgument);
    }
    // A stored instant truncates its nanoseconds to PostgreSQL's microseconds.
    const { trip } = await t.connect.createTrip(
      tripRequest({ startTime: { seconds: BigInt(T0 / 1000), nanos: 123_456_789 } }),
    );
    expect(trip?.startTime).toMatchObject({ seconds: BigInt(T0 / 1000), nanos: 123_456_000 });
  });

  it("series days from 0001-01-01 to 9999-12-31, in a +14:00 time zone", async () => {
    for (const [startDay, endDay, granularity] of [
      ["0001-01-01", "0001-02-01", SeriesGranularity.DAY],
      ["0001-01-01", "0002-01-01", SeriesGranularity.WEEK],
      ["9999-12-01", "9999-12-31", SeriesGranularity.DAY],
      ["9999-01-01", "9999-12-31", SeriesGranularity.WEEK],
    ] as const) {
      const series = await t.connect.getEarningsSeries({ driverId: 1n, startDay, endDay, granularity });
      expect(series.buckets.length).toBeGreaterThan(0);
      expect(series.buckets[0]!.startDay <= startDay).toBe(true);
    }
    expect(await codeOf(t.connect.getEarningsSeries({ driverId: 1n, startDay: "0000-12-31", endDay: "0001-01-02" }))).toBe(
      Code.InvalidArgument,
    );
  });

  it("comments with U+0000, lone surrogates or over 2,000 code points: INVALID_ARGUMENT; every other code point round-trips", async () => {
    for (const comment of ["nul \u0000 inside", "\u0000", "x".repeat(2_001), "🚕".repeat(2_001)]) {
      expect(await codeOf(t.connect.createReview({ tripId, rating: 4, comment }))).toBe(Code.InvalidArgument);
    }
    // A lone surrogate can only come through Connect JSON's escapes.
    const res = await fetch(`${t.baseUrl}/driveranalytics.v1.DriverAnalytics/CreateReview`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${t.token}` },
      body: `{"tripId":"${tripId}","rating":4,"comment":"lone \\ud800 surrogate"}`,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "invalid_argument" });
    expect((await sql.query("SELECT 1 FROM reviews WHERE trip_id = $1", [tripId])).rowCount).toBe(0);

    const everything = `\u0001\u001f\u007f\u0085\u2028\ufeff\ufffe\uffff\u{10ffff}🚕é${"ß".repeat(1_989)}`;
    expect([...everything]).toHaveLength(2_000);
    const { review } = await t.grpcWeb.createReview({ tripId, rating: 4, comment: everything });
    expect(review?.comment).toBe(everything);
    const [listed] = (await t.grpc.listTrips({ driverId: 1n, pageSize: 1000 })).trips.filter((x) => x.tripId === tripId);
    expect(listed?.review?.comment).toBe(everything);
  });

  it("a page token whose last character differs in its unused bits: INVALID_ARGUMENT", async () => {
    const { nextPageToken } = await t.connect.listTrips({ driverId: 1n, pageSize: 1 });
    expect(nextPageToken).not.toBe("");
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const twin = nextPageToken.slice(0, -1) + alphabet[alphabet.indexOf(nextPageToken.at(-1)!) | 1];
    expect(Buffer.from(twin, "base64url").equals(Buffer.from(nextPageToken, "base64url"))).toBe(true);
    expect(await codeOf(t.connect.listTrips({ driverId: 1n, pageSize: 1, pageToken: twin }))).toBe(Code.InvalidArgument);
    expect((await t.connect.listTrips({ driverId: 1n, pageSize: 1, pageToken: nextPageToken })).trips).toHaveLength(1);
  });

  it("the rollups still match the raw rows to the minor unit", async () => {
    for (const driverId of [1n, 2n]) {
      const live = await getDriverStatsLive(t.db, driverId, {});
      const { stats } = await t.connect.getStats({ driverId });
      expect(stats?.totalTrips).toBe(live?.totalTrips);
      expect(stats?.fareEarnings?.amountMinor).toBe(live?.fareMinor);
      expect(stats?.totalDistanceMeters).toBe(live?.distanceMeters);
    }
  });

  // connect-es parses protobuf binary before any interceptor and answered a
  // malformed body with INTERNAL; patches/@connectrpc__connect@2.3.0.patch.
  it("a malformed protobuf body: INVALID_ARGUMENT, not INTERNAL", async () => {
    const badVarint = Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    const res = await fetch(`${t.baseUrl}/driveranalytics.v1.DriverAnalytics/GetStats`, {
      method: "POST",
      headers: { "content-type": "application/proto", authorization: `Bearer ${t.token}` },
      body: badVarint,
    });
    expect(await res.json()).toMatchObject({ code: "invalid_argument" });
  });

  it("bodies over the 64 KiB read limit: RESOURCE_EXHAUSTED, over Connect and gRPC-Web", async () => {
    const big = new Uint8Array(64 * 1024 + 1);
    const connect = await fetch(`${t.baseUrl}/driveranalytics.v1.DriverAnalytics/CreateReview`, {
      method: "POST",
      headers: { "content-type": "application/proto", authorization: `Bearer ${t.token}` },
      body: big,
    });
    expect(await connect.json()).toMatchObject({ code: "resource_exhausted" });
    const frame = new Uint8Array(5 + big.length);
    new DataView(frame.buffer).setUint32(1, big.length);
    const web = await fetch(`${t.baseUrl}/driveranalytics.v1.DriverAnalytics/CreateReview`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", authorization: `Bearer ${t.token}` },
      body: frame,
    });
    const status = web.headers.get("grpc-status") ?? /grpc-status:\s*(\d+)/.exec(Buffer.from(await web.arrayBuffer()).toString("latin1"))?.[1];
    expect(Number(status)).toBe(Code.ResourceExhausted);
  });
});
