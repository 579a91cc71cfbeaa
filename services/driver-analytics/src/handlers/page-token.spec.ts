import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { filterFingerprint, PAGE_TOKEN_LENGTH, PageTokenCodec, PageTokenError, type PageCursor } from "./page-token.js";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const codec = new PageTokenCodec(randomBytes(32));
const cursor: PageCursor = {
  driverId: 42n,
  filterHash: filterFingerprint(undefined, 1_750_000_000_000_000n),
  completedAtMicros: 1_749_999_000_000_123n,
  tripId: 9_001n,
  position: 150,
};

function refused(token: string): string {
  try {
    codec.decodePageToken(token);
  } catch (error) {
    expect(error).toBeInstanceOf(PageTokenError);
    return (error as PageTokenError).message;
  }
  throw new Error(`token accepted: ${token}`);
}

describe("page tokens", () => {
  it("round-trip every cursor, across the whole int64 and uint32 ranges", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
        fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
        fc.nat({ max: 2 ** 32 - 1 }),
        (driverId, hash, completedAtMicros, tripId, position) => {
          const c = { driverId, filterHash: Buffer.from(hash), completedAtMicros, tripId, position };
          const token = codec.encodePageToken(c);
          expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
          expect(token).toHaveLength(PAGE_TOKEN_LENGTH);
          expect(codec.decodePageToken(token)).toEqual(c);
        },
      ),
    );
  });

  it("refuses a token whose last character differs only in its unused bits (non-canonical base64url)", () => {
    const token = codec.encodePageToken(cursor);
    // 53 bytes = 424 bits in 71 characters (426 bits): the last character's 2 low bits are unused.
    const last = ALPHABET.indexOf(token.at(-1)!);
    expect(last & 0b11).toBe(0);
    for (const unused of [1, 2, 3]) {
      const twin = token.slice(0, -1) + ALPHABET[last | unused];
      expect(Buffer.from(twin, "base64url").equals(Buffer.from(token, "base64url"))).toBe(true); // same bytes
      expect(refused(twin)).toBe("not canonical base64url");
    }
    expect(codec.decodePageToken(token)).toEqual(cursor);
  });

  it("refuses garbled, truncated, padded, standard-base64 and oversized tokens", () => {
    const token = codec.encodePageToken(cursor);
    expect(refused("")).toBe("wrong length");
    expect(refused(token.slice(0, -1))).toBe("wrong length");
    expect(refused(`${token}A`)).toBe("wrong length");
    expect(refused(`${token}=`)).toBe("wrong length");
    expect(refused("A".repeat(100_000))).toBe("wrong length");
    expect(refused(`${token.slice(0, 10)}+${token.slice(11)}`)).toBe("not base64url");
    expect(refused(`${token.slice(0, 10)}\u0000${token.slice(11)}`)).toBe("not base64url");
    expect(refused(`${token.slice(0, 10)}é${token.slice(11)}`)).toBe("not base64url");
  });

  it("refuses every single-character change (signature), and tokens of another key", () => {
    const token = codec.encodePageToken(cursor);
    fc.assert(
      fc.property(fc.nat({ max: PAGE_TOKEN_LENGTH - 1 }), fc.constantFrom(...ALPHABET), (at, ch) => {
        fc.pre(token[at] !== ch);
        const changed = token.slice(0, at) + ch + token.slice(at + 1);
        expect(() => codec.decodePageToken(changed)).toThrow(PageTokenError);
      }),
    );
    const other = new PageTokenCodec(randomBytes(32));
    expect(() => other.decodePageToken(token)).toThrow("bad signature");
  });

  it("needs a key of 32 bytes or more", () => {
    expect(() => new PageTokenCodec(randomBytes(31))).toThrow(/at least 32 bytes/);
  });

  it("fingerprints filters: the same window, the same hash; any other, another", () => {
    expect(filterFingerprint(1n, 2n).equals(filterFingerprint(1n, 2n))).toBe(true);
    expect(filterFingerprint(1n, 2n).equals(filterFingerprint(1n, 3n))).toBe(false);
    expect(filterFingerprint(undefined, 2n).equals(filterFingerprint(2n, undefined))).toBe(false);
    expect(filterFingerprint(undefined, undefined)).toHaveLength(8);
  });
});
