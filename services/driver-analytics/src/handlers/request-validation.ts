import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { TimeWindow } from "@driver-analytics/db";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

// google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z.
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** parseDriverId accepts positive ids only; 0 is proto3's "unset". */
export function parseDriverId(driverId: bigint): bigint {
  if (driverId <= 0n) throw invalid("driver_id must be a positive integer");
  return driverId;
}

/** parsePageSize applies AIP-158: 0 means the default, above the maximum is coerced. */
export function parsePageSize(pageSize: number): number {
  if (pageSize < 0) throw invalid("page_size must not be negative");
  if (pageSize === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(pageSize, MAX_PAGE_SIZE);
}

/** parseWindow validates the optional [start_time, end_time) bounds. */
export function parseWindow(start: Timestamp | undefined, end: Timestamp | undefined): TimeWindow {
  const startMicros = start === undefined ? undefined : timestampMicros(start, "start_time");
  const endMicros = end === undefined ? undefined : timestampMicros(end, "end_time");
  if (startMicros !== undefined && endMicros !== undefined && endMicros <= startMicros) {
    throw invalid("end_time must be after start_time");
  }
  return { startMicros, endMicros };
}

// Rounds sub-microsecond instants up: a trip at micro t (PostgreSQL's
// precision) satisfies t >= s and t < e exactly when it satisfies them
// against ceil(s) and ceil(e).
function timestampMicros(ts: Timestamp, field: string): bigint {
  if (ts.seconds < MIN_SECONDS || ts.seconds > MAX_SECONDS || ts.nanos < 0 || ts.nanos > 999_999_999) {
    throw invalid(`${field} is not a valid timestamp`);
  }
  return ts.seconds * 1_000_000n + BigInt(Math.ceil(ts.nanos / 1000));
}

/** requireTimestamp validates a required timestamp field. */
export function parseRequiredTimestamp(ts: Timestamp | undefined, field: string): bigint {
  if (ts === undefined) throw invalid(`${field} is required`);
  return timestampMicros(ts, field);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** parseRequestId accepts a UUID, the idempotency key of a write. */
export function parseRequestId(requestId: string): string {
  if (!UUID.test(requestId)) throw invalid("request_id must be a UUID");
  return requestId.toLowerCase();
}

const CURRENCIES = new Set(Intl.supportedValuesOf("currency"));

/** parseMoney checks an amount: a known ISO 4217 code and a non-negative integer of minor units. */
export function parseMoney(
  money: { currencyCode: string; amountMinor: bigint } | undefined,
  field: string,
): { currencyCode: string; amountMinor: bigint } | undefined {
  if (money === undefined) return undefined;
  if (!CURRENCIES.has(money.currencyCode)) throw invalid(`${field}.currency_code is not an ISO 4217 currency`);
  if (money.amountMinor < 0n) throw invalid(`${field}.amount_minor must not be negative`);
  return money;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** parseDay accepts a real calendar day "YYYY-MM-DD" and returns it with its day number. */
export function parseDay(day: string, field: string): { day: string; epochDay: number } {
  const m = DAY.exec(day);
  const ms = m === null ? NaN : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (m === null || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== day) {
    throw invalid(`${field} must be a day "YYYY-MM-DD"`);
  }
  return { day, epochDay: ms / 86_400_000 };
}
