import { create, fromBinary, ScalarType, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { DriverAnalytics, Health, ListTripsResponseSchema, ServerReflection, TripSchema, TripStatus } from "@driver-analytics/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { binaryEncoder, usesNativeEncoder } from "./binary-encoder.js";

// Random init values for any message, following its descriptor: every scalar
// across its whole range (negative and 64-bit integers, non-ASCII and long
// strings, -0 and NaN), optional fields set and unset, nested and repeated
// messages a few levels deep.
function scalarArbitrary(scalar: ScalarType): fc.Arbitrary<unknown> {
  switch (scalar) {
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 53n + 5n }), fc.constant(0n));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 1000n }));
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.oneof(fc.integer(), fc.integer({ min: -2, max: 300 }));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.STRING:
      return fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 40 }), fc.string({ minLength: 200, maxLength: 9000 }));
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 40 });
    case ScalarType.DOUBLE:
      return fc.double();
    case ScalarType.FLOAT:
      return fc.float();
  }
}

function fieldArbitrary(field: DescField, depth: number): fc.Arbitrary<unknown> | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return scalarArbitrary(field.scalar);
    case "enum":
      return fc.oneof(fc.constantFrom(...field.enum.values.map((v) => v.number)), fc.integer({ min: -3, max: 1000 }));
    case "message":
      return depth > 0 ? initArbitrary(field.message, depth - 1) : undefined;
    case "list":
      if (field.listKind === "message") return depth > 0 ? fc.array(initArbitrary(field.message, depth - 1), { maxLength: 3 }) : undefined;
      return fc.array(field.listKind === "enum" ? fc.integer({ min: 0, max: 3 }) : scalarArbitrary(field.scalar), { maxLength: 4 });
    case "map":
      return undefined;
  }
}

function initArbitrary(desc: DescMessage, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of desc.fields) {
    if (field.oneof !== undefined) continue;
    const arbitrary = fieldArbitrary(field, depth);
    if (arbitrary !== undefined) record[field.localName] = arbitrary;
  }
  return fc.record(record, { requiredKeys: [] });
}

function expectSameBytes(desc: DescMessage, init: Record<string, unknown>) {
  const message = create(desc, init as never);
  const expected = Buffer.from(toBinary(desc, message));
  expect(binaryEncoder(desc)(message).equals(expected)).toBe(true);
}

const servedResponses = [DriverAnalytics, Health, ServerReflection].flatMap((service) => service.methods.map((m) => m.output));

describe("binaryEncoder", () => {
  it("writes exactly toBinary's bytes for random messages of every response schema grpc-js serves", () => {
    for (const desc of servedResponses) {
      fc.assert(fc.property(initArbitrary(desc, 3), (init) => expectSameBytes(desc, init)), { numRuns: 150 });
    }
  });

  it("writes every DriverAnalytics response itself; what it does not cover goes to toBinary whole", () => {
    for (const method of DriverAnalytics.methods) expect(usesNativeEncoder(method.output), method.name).toBe(true);
    // ServerReflectionResponse answers through a oneof.
    expect(usesNativeEncoder(ServerReflection.methods[0]!.output)).toBe(false);
  });

  it("grows its buffer past the first 8 KB", () => {
    const trip = create(TripSchema, {
      tripId: 2n ** 62n,
      driverId: 7n,
      status: TripStatus.COMPLETED,
      review: { rating: 5, comment: "très bien ".repeat(300), createTime: { seconds: -62135596800n, nanos: 999_999_999 } },
    });
    expectSameBytes(ListTripsResponseSchema, { trips: Array.from({ length: 40 }, () => trip), nextPageToken: "t" });
  });

  it("keeps unknown fields, after the known ones", () => {
    const known = toBinary(TripSchema, create(TripSchema, { tripId: 1n, distanceMeters: 5n }));
    // Field 99 (varint 300) and field 100 (a length-delimited "hi"): unknown to Trip.
    const withUnknown = Buffer.concat([known, Buffer.from([0x98, 0x06, 0xac, 0x02, 0xa2, 0x06, 0x02, 0x68, 0x69])]);
    const message = fromBinary(TripSchema, withUnknown);
    expect(message.$unknown).toHaveLength(2);
    expect(binaryEncoder(TripSchema)(message).equals(Buffer.from(toBinary(TripSchema, message)))).toBe(true);
  });
});
