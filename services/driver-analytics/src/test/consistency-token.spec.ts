// The pieces of read-your-writes that need no database: the LSN text form and
// page tokens that carry a walk's consistency floor (version 2) next to the
// version 1 tokens issued before replicas existed.
import { formatLsn, parseLsn } from "@driver-analytics/db";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { filterFingerprint, PageTokenCodec, PageTokenError } from "../handlers/page-token.js";
import { readConsistencyToken } from "../replicas/consistency.js";

describe("consistency tokens", () => {
  it("reads and writes PostgreSQL's LSN text form", () => {
    expect(parseLsn("0/3000148")).toBe(0x3000148n);
    expect(parseLsn("16/B374D848")).toBe((0x16n << 32n) | 0xb374d848n);
    expect(formatLsn(parseLsn("16/b374d848")!)).toBe("16/B374D848");
    for (const bad of ["", "0/", "/1", "0/123456789", "x/1", "0/1/2", "-1/0"]) expect(parseLsn(bad)).toBeUndefined();
  });

  it("refuses a garbled header and ignores an absent one", () => {
    expect(readConsistencyToken(new Headers())).toBeUndefined();
    expect(readConsistencyToken(new Headers({ "x-consistency-token": "1/A" }))).toBe((1n << 32n) | 10n);
    expect(() => readConsistencyToken(new Headers({ "x-consistency-token": "yesterday" }))).toThrow(/not a token/);
  });

  it("page tokens carry the floor, stay signed, and version 1 tokens still decode", () => {
    const codec = new PageTokenCodec(randomBytes(32));
    const cursor = { driverId: 7n, filterHash: filterFingerprint(undefined, undefined), completedAtMicros: 123n, tripId: 9n, position: 50 };
    const v1 = codec.encodePageToken(cursor);
    expect(codec.decodePageToken(v1)).toEqual(cursor);
    const v2 = codec.encodePageToken({ ...cursor, minLsn: 0x1_0000_0042n });
    expect(codec.decodePageToken(v2)).toEqual({ ...cursor, minLsn: 0x1_0000_0042n });
    const bytes = Buffer.from(v2, "base64url");
    const at = bytes.length - 17; // a byte of the LSN
    bytes[at] = bytes[at]! ^ 1;
    expect(() => codec.decodePageToken(bytes.toString("base64url"))).toThrow(PageTokenError);
    // A v1 payload relabelled as v2 (or the reverse) does not verify.
    const relabelled = Buffer.from(v1, "base64url");
    relabelled[0] = 2;
    expect(() => codec.decodePageToken(relabelled.toString("base64url"))).toThrow(PageTokenError);
  });
});
