// The hand-built trip messages are what create() would have built: same
// fields, same defaults, same bytes.
import { create, equals, toBinary } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { MoneySchema, PaymentSchema, ReviewSchema, TripSchema, TripStatus } from "@driver-analytics/proto";
import { describe, expect, it } from "vitest";
import { toTimestamp, toTrip } from "./messages.js";

describe("toTrip", () => {
  const base = {
    id: 42n,
    driverId: 7n,
    status: "completed" as const,
    startedAtMicros: 1_750_000_000_123_456n,
    completedAtMicros: 1_750_000_600_000_001n,
    distanceMeters: 5_000n,
    currencyCode: "EUR",
  };

  it("equals create()'s message, with payment and review, and without", () => {
    const full = toTrip({ ...base, payment: { fareMinor: 1_500n, tipMinor: 0n }, review: { rating: 5, comment: "", createdAtMicros: -1n } });
    const expected = create(TripSchema, {
      tripId: 42n,
      driverId: 7n,
      status: TripStatus.COMPLETED,
      startTime: create(TimestampSchema, { seconds: 1_750_000_000n, nanos: 123_456_000 }),
      completeTime: create(TimestampSchema, { seconds: 1_750_000_600n, nanos: 1_000 }),
      distanceMeters: 5_000n,
      payment: create(PaymentSchema, {
        fare: create(MoneySchema, { currencyCode: "EUR", amountMinor: 1_500n }),
        tip: create(MoneySchema, { currencyCode: "EUR", amountMinor: 0n }),
        total: create(MoneySchema, { currencyCode: "EUR", amountMinor: 1_500n }),
      }),
      review: create(ReviewSchema, { rating: 5, comment: "", createTime: create(TimestampSchema, { seconds: -1n, nanos: 999_999_000 }) }),
    });
    expect(equals(TripSchema, full, expected)).toBe(true);
    expect(toBinary(TripSchema, full)).toEqual(toBinary(TripSchema, expected));

    const bare = toTrip({ ...base, status: "cancelled", payment: undefined, review: undefined });
    const expectedBare = create(TripSchema, { ...expected, status: TripStatus.CANCELLED, payment: undefined, review: undefined });
    expect(equals(TripSchema, bare, expectedBare)).toBe(true);
    expect(toBinary(TripSchema, bare)).toEqual(toBinary(TripSchema, expectedBare));
  });

  it("splits negative microseconds into seconds and non-negative nanos", () => {
    expect(toTimestamp(-1n)).toMatchObject({ seconds: -1n, nanos: 999_999_000 });
    expect(toTimestamp(0n)).toMatchObject({ seconds: 0n, nanos: 0 });
  });
});
