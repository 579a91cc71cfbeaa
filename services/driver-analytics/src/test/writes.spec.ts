import { randomUUID } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { insertFixtures } from "@driver-analytics/db/testing";
import {
  CreateTripRequestSchema,
  DriverAnalytics,
  SeriesGranularity,
  TripStatus,
  type CreateTripRequest,
} from "@driver-analytics/proto";

type TripOverrides = Omit<MessageInitShape<typeof CreateTripRequestSchema>, "$typeName">;
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeOf, startTestServer, type TestServer } from "../testing/harness.js";

const MINUTE = 60_000;
// 2025-06-02 (a Monday) 08:00 UTC
const T0 = Date.parse("2025-06-02T08:00:00Z");


function tripRequest(overrides: TripOverrides = {}): CreateTripRequest {
  return create(CreateTripRequestSchema, {
    requestId: randomUUID(),
    driverId: 1n,
    status: TripStatus.COMPLETED,
    startTime: timestampFromMs(T0),
    completeTime: timestampFromMs(T0 + 25 * MINUTE),
    distanceMeters: 9_000n,
    fare: { currencyCode: "EUR", amountMinor: 2_350n },
    tip: { currencyCode: "EUR", amountMinor: 200n },
    ...overrides,
  });
}

describe("writes and series through real clients", () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer(); // the default strategy: stats from rollups
    await insertFixtures(t.testDb.connectionString, {
      drivers: [
        { id: 1n, currencyCode: "EUR", timeZone: "Europe/Paris" },
        { id: 2n, currencyCode: "USD" },
      ],
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it("records a trip and its review; stats and series see them at once", async () => {
    const { trip } = await t.grpcJs.call(DriverAnalytics.method.createTrip, tripRequest());
    expect(trip).toMatchObject({
      driverId: 1n,
      status: TripStatus.COMPLETED,
      distanceMeters: 9_000n,
      payment: { total: { currencyCode: "EUR", amountMinor: 2_550n } },
    });
    const reviewed = await t.connect.createReview({ tripId: trip!.tripId, rating: 5, comment: "great ride ✨" });
    expect(reviewed.review).toMatchObject({ rating: 5, comment: "great ride ✨" });

    const { stats } = await t.connect.getStats({ driverId: 1n });
    expect(stats).toMatchObject({ totalTrips: 1n, ratedTrips: 1n, averageRating: 5, totalDurationSeconds: 1500n });
    expect(stats?.totalEarnings).toMatchObject({ currencyCode: "EUR", amountMinor: 2_550n });

    const series = await t.connect.getEarningsSeries({
      driverId: 1n,
      startDay: "2025-06-01",
      endDay: "2025-06-04",
      granularity: SeriesGranularity.DAY,
    });
    expect(series.timeZone).toBe("Europe/Paris");
    expect(series.buckets.map((b) => [b.startDay, b.totalTrips, b.totalEarnings?.amountMinor])).toEqual([
      ["2025-06-01", 0n, 0n],
      ["2025-06-02", 1n, 2_550n],
      ["2025-06-03", 0n, 0n],
    ]);
  });

  it("is idempotent on request_id and refuses a conflicting reuse", async () => {
    const request = tripRequest();
    const first = await t.connect.createTrip(request);
    const retry = await t.grpc.createTrip(request);
    expect(retry.trip?.tripId).toBe(first.trip?.tripId);
    expect(await codeOf(t.connect.createTrip({ ...request, distanceMeters: 1n }))).toBe(Code.AlreadyExists);

    const review = { tripId: first.trip!.tripId, rating: 3, comment: "" };
    const r1 = await t.connect.createReview(review);
    expect(await t.connect.createReview(review)).toEqual(r1);
    expect(await codeOf(t.connect.createReview({ ...review, rating: 4 }))).toBe(Code.AlreadyExists);
  });

  it("refuses bad input with the right code and writes nothing", async () => {
    const before = await t.connect.getStats({ driverId: 1n });
    const invalid: TripOverrides[] = [
      { requestId: "not-a-uuid" },
      { requestId: "" },
      { driverId: 0n },
      { driverId: 999n }, // no such driver
      { status: TripStatus.UNSPECIFIED },
      { startTime: undefined },
      { completeTime: timestampFromMs(T0 - MINUTE) }, // ends before it starts
      { completeTime: timestampFromMs(Date.now() + 3_600_000) }, // in the future
      { distanceMeters: -1n },
      { fare: undefined },
      { fare: { currencyCode: "EUR", amountMinor: -5n } },
      { fare: { currencyCode: "XYZ", amountMinor: 5n } }, // not ISO 4217
      { fare: { currencyCode: "USD", amountMinor: 5n }, tip: undefined }, // not the driver's currency
      { tip: { currencyCode: "USD", amountMinor: 5n } },
      { tip: { currencyCode: "EUR", amountMinor: -1n } },
    ];
    for (const overrides of invalid) {
      const code = await codeOf(t.connect.createTrip(tripRequest(overrides)));
      expect(code, JSON.stringify(overrides, (_, v) => (typeof v === "bigint" ? String(v) : v))).toBe(Code.InvalidArgument);
    }
    const { trip: cancelled } = await t.connect.createTrip(tripRequest({ status: TripStatus.CANCELLED }));
    const after = await t.connect.getStats({ driverId: 1n });
    expect(after.stats?.totalTrips).toBe(before.stats!.totalTrips + 1n);

    expect(await codeOf(t.connect.createReview({ tripId: 0n, rating: 3 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(t.connect.createReview({ tripId: 987_654n, rating: 3 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(t.connect.createReview({ tripId: cancelled!.tripId, rating: 0 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(t.connect.createReview({ tripId: cancelled!.tripId, rating: 6 }))).toBe(Code.InvalidArgument);
    expect(await codeOf(t.connect.createReview({ tripId: cancelled!.tripId, rating: 4, comment: "x".repeat(2_001) }))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(t.connect.createReview({ tripId: cancelled!.tripId, rating: 4 }))).toBe(Code.FailedPrecondition);
    expect((await t.connect.getStats({ driverId: 1n })).stats?.ratedTrips).toBe(after.stats?.ratedTrips);
  });

  it("validates series requests", async () => {
    const ok = { driverId: 1n, startDay: "2025-06-01", endDay: "2025-06-08" };
    const weeks = await t.connect.getEarningsSeries({ ...ok, granularity: SeriesGranularity.WEEK });
    expect(weeks.buckets.map((b) => b.startDay)).toEqual(["2025-05-26", "2025-06-02"]);
    for (const bad of [
      { startDay: "2025-6-1" },
      { startDay: "2025-02-30" },
      { endDay: "2025-06-01" },
      { endDay: "2026-07-01" }, // over a year of days
      { startDay: "" },
    ]) {
      expect(await codeOf(t.connect.getEarningsSeries({ ...ok, ...bad }))).toBe(Code.InvalidArgument);
    }
    expect(await codeOf(t.connect.getEarningsSeries({ ...ok, granularity: 9 as SeriesGranularity }))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(t.connect.getEarningsSeries({ ...ok, driverId: 404n }))).toBe(Code.NotFound);
  });
});
