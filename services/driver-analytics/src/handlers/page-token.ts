import { createHmac, timingSafeEqual } from "node:crypto";

// A page token is opaque to callers (AIP-158) and tamper-proof: a signed binary
// cursor bound to the driver and the filters of the request that produced it.
//
//   version u8 | driverId i64 | filterHash 8 bytes | completedAtMicros i64 |
//   tripId i64 | position u32 | HMAC-SHA256(key, all of the above)[0..16]
//
// position (trips already returned) serves the OFFSET-based naive strategy;
// the keyset strategies use (completedAtMicros, tripId).
//
// Version 2 (issued when the server reads from replicas) appends minLsn u64:
// the WAL position the walk has already seen, so later pages are read from a
// replica at least that fresh (or the primary) and a walk never goes back in
// time. Version 1 tokens are still accepted.

const VERSION = 1;
const VERSION_WITH_LSN = 2;
const PAYLOAD_BYTES = 1 + 8 + 8 + 8 + 8 + 4;
const LSN_BYTES = 8;
const MAC_BYTES = 16;
/** A token is exactly this many base64url characters (no padding). */
export const PAGE_TOKEN_LENGTH = Math.ceil(((PAYLOAD_BYTES + MAC_BYTES) * 8) / 6);
/** The length of a version-2 token, which also carries the walk's replica floor (an LSN). */
export const PAGE_TOKEN_WITH_LSN_LENGTH = Math.ceil(((PAYLOAD_BYTES + LSN_BYTES + MAC_BYTES) * 8) / 6);

export interface PageCursor {
  driverId: bigint;
  /** Hash of the request's filters; see filterFingerprint. */
  filterHash: Buffer;
  completedAtMicros: bigint;
  tripId: bigint;
  position: number;
  /** Version 2: the walk's consistency floor (a WAL position). */
  minLsn?: bigint | undefined;
}

/** PageTokenError: the token is not one we issued, or was changed. */
export class PageTokenError extends Error {
  override readonly name = "PageTokenError";
}

/** PageTokenCodec signs and verifies page tokens with one secret key. */
export class PageTokenCodec {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length < 32) throw new Error("page token key must be at least 32 bytes");
    this.#key = key;
  }

  encodePageToken(cursor: PageCursor): string {
    const withLsn = cursor.minLsn !== undefined;
    const payload = Buffer.alloc(PAYLOAD_BYTES + (withLsn ? LSN_BYTES : 0));
    let at = payload.writeUInt8(withLsn ? VERSION_WITH_LSN : VERSION, 0);
    at = payload.writeBigInt64BE(cursor.driverId, at);
    at += cursor.filterHash.copy(payload, at, 0, 8);
    at = payload.writeBigInt64BE(cursor.completedAtMicros, at);
    at = payload.writeBigInt64BE(cursor.tripId, at);
    at = payload.writeUInt32BE(cursor.position, at);
    if (withLsn) payload.writeBigUInt64BE(cursor.minLsn!, at);
    return Buffer.concat([payload, this.#mac(payload)]).toString("base64url");
  }

  /** decodePageToken returns the cursor, or throws PageTokenError for anything we did not sign. */
  decodePageToken(token: string): PageCursor {
    if (token.length !== PAGE_TOKEN_LENGTH && token.length !== PAGE_TOKEN_WITH_LSN_LENGTH) {
      throw new PageTokenError("wrong length");
    }
    if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new PageTokenError("not base64url");
    const bytes = Buffer.from(token, "base64url");
    const payloadBytes = bytes.length - MAC_BYTES;
    if (payloadBytes !== PAYLOAD_BYTES && payloadBytes !== PAYLOAD_BYTES + LSN_BYTES) throw new PageTokenError("wrong length");
    // Base64url is canonical only when the unused low bits of the last
    // character are zero; otherwise several strings decode to the same bytes.
    // Accept exactly the string we issued.
    if (bytes.toString("base64url") !== token) throw new PageTokenError("not canonical base64url");
    const payload = bytes.subarray(0, payloadBytes);
    if (!timingSafeEqual(bytes.subarray(payloadBytes), this.#mac(payload))) {
      throw new PageTokenError("bad signature");
    }
    const version = payload.readUInt8(0);
    if (version !== (payloadBytes === PAYLOAD_BYTES ? VERSION : VERSION_WITH_LSN)) throw new PageTokenError("unknown version");
    return {
      ...(version === VERSION_WITH_LSN ? { minLsn: payload.readBigUInt64BE(PAYLOAD_BYTES) } : {}),
      driverId: payload.readBigInt64BE(1),
      filterHash: Buffer.from(payload.subarray(9, 17)),
      completedAtMicros: payload.readBigInt64BE(17),
      tripId: payload.readBigInt64BE(25),
      position: payload.readUInt32BE(33),
    };
  }

  #mac(payload: Buffer): Buffer {
    return createHmac("sha256", this.#key).update(payload).digest().subarray(0, MAC_BYTES);
  }
}

/**
 * filterFingerprint hashes the filters a token is valid for (not page_size,
 * which AIP-158 lets callers change between pages).
 */
export function filterFingerprint(startMicros: bigint | undefined, endMicros: bigint | undefined): Buffer {
  const text = `${startMicros ?? "-"}:${endMicros ?? "-"}`;
  return createHmac("sha256", "driver-analytics-filters").update(text).digest().subarray(0, 8);
}
