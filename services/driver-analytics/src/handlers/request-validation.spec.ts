import { create } from "@bufbuild/protobuf";
import { TimestampSchema, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_PAGE_SIZE,
  MAX_AMOUNT_MINOR,
  MAX_COMMENT_LENGTH,
  MAX_DISTANCE_METERS,
  MAX_MICROS,
  MAX_PAGE_SIZE,
  MAX_TRIP_DURATION_MICROS,
  MAX_TRIPS_PER_DRIVER,
  parseComment,
  parseDay,
  parseDistance,
  parseDriverId,
  parseMoney,
  parsePageSize,
  parseRequestId,
  parseRequiredTimestamp,
  parseWindow,
} from "./request-validation.js";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MIN_SECONDS = -62_135_596_800n; // 0001-01-01T00:00:00Z
const MAX_SECONDS = 253_402_300_799n; // 9999-12-31T23:59:59Z

const ts = (seconds: bigint, nanos = 0): Timestamp => create(TimestampSchema, { seconds, nanos });

/** invalid runs fn and returns the INVALID_ARGUMENT message it must throw. */
function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    return (error as ConnectError).rawMessage;
  }
  throw new Error("accepted");
}

describe("request validation", () => {
  it("driver ids: positive int64 only", () => {
    expect(parseDriverId(1n)).toBe(1n);
    expect(parseDriverId(INT64_MAX)).toBe(INT64_MAX);
    for (const id of [0n, -1n, INT64_MIN]) expect(invalid(() => parseDriverId(id))).toMatch(/positive/);
  });

  it("page sizes across int32: 0 is the default, above the maximum is coerced, negative refused", () => {
    expect(parsePageSize(0)).toBe(DEFAULT_PAGE_SIZE);
    expect(parsePageSize(1)).toBe(1);
    expect(parsePageSize(2 ** 31 - 1)).toBe(MAX_PAGE_SIZE);
    expect(invalid(() => parsePageSize(-(2 ** 31)))).toMatch(/negative/);
  });

  describe("timestamps", () => {
    it("stored instants truncate nanos: the last nanosecond of 9999 is 9999-12-31T23:59:59.999999Z, never year 10000", () => {
      expect(parseRequiredTimestamp(ts(MAX_SECONDS, 999_999_999), "t")).toBe(MAX_MICROS);
      expect(parseRequiredTimestamp(ts(MIN_SECONDS, 0), "t")).toBe(MIN_SECONDS * 1_000_000n);
      expect(parseRequiredTimestamp(ts(0n, 1_999), "t")).toBe(1n);
      expect(parseRequiredTimestamp(ts(-1n, 999_999_999), "t")).toBe(-1n);
    });

    it("window bounds round up to the microsecond; an end past the last microsecond of 9999 bounds nothing", () => {
      expect(parseWindow(ts(0n, 1), ts(0n, 1_001))).toEqual({ startMicros: 1n, endMicros: 2n });
      expect(parseWindow(undefined, ts(MAX_SECONDS, 999_999_999))).toEqual({ startMicros: undefined, endMicros: undefined });
      expect(parseWindow(undefined, ts(MAX_SECONDS, 999_999_000))).toEqual({ startMicros: undefined, endMicros: MAX_MICROS });
      expect(parseWindow(ts(MIN_SECONDS), undefined)).toEqual({ startMicros: MIN_SECONDS * 1_000_000n, endMicros: undefined });
      // end after start by a nanosecond is a window, even if both round to one microsecond.
      expect(parseWindow(ts(0n, 1), ts(0n, 2))).toEqual({ startMicros: 1n, endMicros: 1n });
      expect(parseWindow(ts(MAX_SECONDS, 999_999_001), ts(MAX_SECONDS, 999_999_999))).toEqual({
        startMicros: MAX_MICROS,
        endMicros: undefined,
      });
      for (const [start, end] of [
        [ts(5n, 7), ts(5n, 7)],
        [ts(5n, 8), ts(5n, 7)],
        [ts(MAX_SECONDS, 999_999_999), ts(MIN_SECONDS)],
      ] as const) {
        expect(invalid(() => parseWindow(start, end))).toBe("end_time must be after start_time");
      }
    });

    it("refuse everything just outside the protobuf range, with the range in the message", () => {
      const outside = [
        ts(MAX_SECONDS + 1n),
        ts(MIN_SECONDS - 1n, 999_999_999),
        ts(0n, -1),
        ts(0n, 1_000_000_000),
        ts(INT64_MAX, 2 ** 31 - 1),
        ts(INT64_MIN, -(2 ** 31)),
      ];
      for (const t of outside) {
        expect(invalid(() => parseRequiredTimestamp(t, "start_time"))).toBe(
          "start_time must be a valid timestamp, from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z",
        );
        expect(invalid(() => parseWindow(t, undefined))).toMatch(/^start_time must be a valid timestamp/);
      }
      expect(invalid(() => parseRequiredTimestamp(undefined, "complete_time"))).toBe("complete_time is required");
    });

    it("every valid timestamp maps into 0001-01-01 .. 9999-12-31T23:59:59.999999 microseconds", () => {
      fc.assert(
        fc.property(fc.bigInt({ min: MIN_SECONDS, max: MAX_SECONDS }), fc.integer({ min: 0, max: 999_999_999 }), (s, n) => {
          for (const micros of [parseRequiredTimestamp(ts(s, n), "t"), parseWindow(ts(s, n), undefined).startMicros!]) {
            expect(micros >= MIN_SECONDS * 1_000_000n && micros <= MAX_MICROS).toBe(true);
          }
        }),
      );
    });
  });

  it("money: a known ISO 4217 code and 0 to 10^8 minor units", () => {
    expect(parseMoney({ currencyCode: "EUR", amountMinor: 0n }, "fare")).toEqual({ currencyCode: "EUR", amountMinor: 0n });
    expect(parseMoney({ currencyCode: "JPY", amountMinor: MAX_AMOUNT_MINOR }, "fare")?.amountMinor).toBe(100_000_000n);
    expect(parseMoney(undefined, "tip")).toBeUndefined();
    expect(invalid(() => parseMoney({ currencyCode: "EUR", amountMinor: MAX_AMOUNT_MINOR + 1n }, "fare"))).toBe(
      "fare.amount_minor must be at most 100000000 (1,000,000.00 in minor units)",
    );
    expect(invalid(() => parseMoney({ currencyCode: "EUR", amountMinor: INT64_MAX }, "tip"))).toMatch(/^tip.amount_minor must be at most/);
    expect(invalid(() => parseMoney({ currencyCode: "EUR", amountMinor: INT64_MIN }, "tip"))).toBe(
      "tip.amount_minor must not be negative",
    );
    for (const code of ["", "eur", "XYZ", "EUR\u0000", "€"]) {
      expect(invalid(() => parseMoney({ currencyCode: code, amountMinor: 1n }, "fare"))).toMatch(/ISO 4217/);
    }
  });

  it("distance: 0 to 2,000 km", () => {
    expect(parseDistance(0n)).toBe(0n);
    expect(parseDistance(MAX_DISTANCE_METERS)).toBe(2_000_000n);
    expect(invalid(() => parseDistance(MAX_DISTANCE_METERS + 1n))).toMatch(/at most 2000000/);
    expect(invalid(() => parseDistance(INT64_MAX))).toMatch(/at most/);
    expect(invalid(() => parseDistance(-1n))).toMatch(/negative/);
  });

  it("the maxima keep a driver's lifetime totals within int64", () => {
    const limit = INT64_MAX;
    expect(MAX_TRIPS_PER_DRIVER * 2n * MAX_AMOUNT_MINOR).toBeLessThan(limit); // fare + tip
    expect(MAX_TRIPS_PER_DRIVER * MAX_DISTANCE_METERS).toBeLessThan(limit);
    expect(MAX_TRIPS_PER_DRIVER * MAX_TRIP_DURATION_MICROS * 10n).toBeLessThan(limit); // a 10x margin
  });

  describe("comments", () => {
    it("accept any Unicode scalar value but U+0000, up to 2,000 code points", () => {
      const everything = ["\u0001", "\u001f", "\u007f", "\u0085", "\u2028", "\ufeff", "\ufffe", "\uffff", "\u{10ffff}", "🚕", "é"];
      for (const c of everything) expect(parseComment(c)).toBe(c);
      expect(parseComment("🚕".repeat(MAX_COMMENT_LENGTH))).toHaveLength(2 * MAX_COMMENT_LENGTH);
      expect(parseComment("")).toBe("");
      fc.assert(
        fc.property(fc.string({ unit: "grapheme", maxLength: 50 }), (text) => {
          fc.pre(!text.includes("\u0000"));
          expect(parseComment(text)).toBe(text);
        }),
      );
    });

    it("refuse U+0000, lone surrogates and more than 2,000 code points", () => {
      expect(invalid(() => parseComment("a\u0000b"))).toBe("comment must not contain U+0000 (NUL)");
      expect(invalid(() => parseComment("\ud800"))).toMatch(/lone surrogate/);
      expect(invalid(() => parseComment("x\udfff"))).toMatch(/lone surrogate/);
      expect(invalid(() => parseComment("x".repeat(MAX_COMMENT_LENGTH + 1)))).toBe("comment must be at most 2000 characters");
      expect(invalid(() => parseComment("🚕".repeat(MAX_COMMENT_LENGTH + 1)))).toMatch(/at most 2000/);
      expect(invalid(() => parseComment("x".repeat(1_000_000)))).toMatch(/at most 2000/);
    });
  });

  it("request ids are UUIDs, stored lower-case", () => {
    expect(parseRequestId("9F1C8A4E-3B2D-4C5E-8F6A-1B2C3D4E5F60")).toBe("9f1c8a4e-3b2d-4c5e-8f6a-1b2c3d4e5f60");
    for (const bad of ["", "not-a-uuid", "9f1c8a4e-3b2d-4c5e-8f6a-1b2c3d4e5f60\u0000", "9f1c8a4e3b2d4c5e8f6a1b2c3d4e5f60"]) {
      expect(invalid(() => parseRequestId(bad))).toBe("request_id must be a UUID");
    }
  });

  it("days: real calendar days from 0001-01-01 to 9999-12-31", () => {
    expect(parseDay("2025-06-02", "start_day")).toEqual({ day: "2025-06-02", epochDay: 20_241 });
    expect(parseDay("0001-01-01", "start_day").epochDay).toBe(-719_162);
    expect(parseDay("0099-03-01", "start_day").day).toBe("0099-03-01");
    expect(parseDay("9999-12-31", "end_day").epochDay).toBe(2_932_896);
    expect(parseDay("2024-02-29", "d").day).toBe("2024-02-29");
    for (const bad of ["0000-01-01", "2025-02-29", "2025-13-01", "2025-6-1", "", "+10000-01-01", "2025-06-02\u0000"]) {
      expect(invalid(() => parseDay(bad, "start_day"))).toBe('start_day must be a day "YYYY-MM-DD" from 0001-01-01 to 9999-12-31');
    }
  });
});
