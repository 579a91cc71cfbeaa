import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatMicrosIso, parseTimestamptzMicros } from "./time.js";

describe("timestamp micros", () => {
  it("parses PostgreSQL's UTC output to the microsecond", () => {
    expect(parseTimestamptzMicros("2024-05-01 12:34:56.123456+00")).toBe(1714566896123456n);
    expect(parseTimestamptzMicros("2024-05-01 12:34:56+00")).toBe(1714566896000000n);
    expect(parseTimestamptzMicros("1969-12-31 23:59:59.5+00")).toBe(-500000n);
    expect(parseTimestamptzMicros("0050-01-01 00:00:00+00")).toBe(-60589296000000000n);
  });

  it("rejects what it does not understand", () => {
    expect(() => parseTimestamptzMicros("2024-05-01 12:34:56+02")).toThrow();
    expect(() => parseTimestamptzMicros("infinity")).toThrow();
  });

  it("round-trips any instant of years 1..9999 through ISO text", () => {
    const min = -62135596800000000n; // 0001-01-01
    const max = 253402300799999999n; // 9999-12-31T23:59:59.999999
    fc.assert(
      fc.property(fc.bigInt({ min, max }), (micros) => {
        const iso = formatMicrosIso(micros);
        const pgText = `${iso.slice(0, 10)} ${iso.slice(11, -1)}+00`;
        expect(parseTimestamptzMicros(pgText)).toBe(micros);
      }),
    );
  });
});
