import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { TimeWindow } from "@driver-analytics/db";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

// Business maxima of one trip (README, "Bounds"). Migration 0004_bounds
// enforces the same numbers in PostgreSQL, plus at most MAX_TRIPS_PER_DRIVER
// trips per driver, so that no total can overflow int64 anywhere:
//   fare + tip   <= 10^7 trips x 2 x 10^8 = 2 x 10^15 minor units
//   distance     <= 10^7 x 2 x 10^6 m     = 2 x 10^13 m
//   duration     <= 10^7 x 8.64 x 10^10 us = 8.64 x 10^17 us
// all below 2^63 - 1 ~ 9.22 x 10^18 (the tightest, duration, by a factor of 10).
/** Most a fare, or a tip, may be: 1,000,000.00 in the currency's minor units (10^8). */
export const MAX_AMOUNT_MINOR = 100_000_000n;
/** Longest trip: 2,000 km. */
export const MAX_DISTANCE_METERS = 2_000_000n;
/** Longest trip: 24 hours, in microseconds (PostgreSQL's precision). */
export const MAX_TRIP_DURATION_MICROS = 24n * 3_600n * 1_000_000n;
/** Most trips one driver may have; enforced by the database on the driver's totals. */
export const MAX_TRIPS_PER_DRIVER = 10_000_000n;
/** Longest review comment, in Unicode code points. */
export const MAX_COMMENT_LENGTH = 2_000;

// google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z.
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;
/** The last microsecond of 9999-12-31: the latest instant PostgreSQL is given. */
export const MAX_MICROS = MAX_SECONDS * 1_000_000n + 999_999n;

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

/**
 * parseWindow validates the optional [start_time, end_time) bounds; end_time
 * must be after start_time, to the nanosecond.
 */
export function parseWindow(start: Timestamp | undefined, end: Timestamp | undefined): TimeWindow {
  if (start !== undefined) checkTimestamp(start, "start_time");
  if (end !== undefined) checkTimestamp(end, "end_time");
  if (start !== undefined && end !== undefined && nanosOf(end) <= nanosOf(start)) {
    throw invalid("end_time must be after start_time");
  }
  const startMicros = start === undefined ? undefined : ceilMicros(start);
  const endMicros = end === undefined ? undefined : ceilMicros(end);
  return {
    // Past the last microsecond of 9999 no trip can be (none completes in the
    // future): a start there stays at it, an end there is no bound at all.
    startMicros: startMicros === undefined || startMicros <= MAX_MICROS ? startMicros : MAX_MICROS,
    endMicros: endMicros === undefined || endMicros <= MAX_MICROS ? endMicros : undefined,
  };
}

function checkTimestamp(ts: Timestamp, field: string): void {
  if (ts.seconds < MIN_SECONDS || ts.seconds > MAX_SECONDS || ts.nanos < 0 || ts.nanos > 999_999_999) {
    throw invalid(`${field} must be a valid timestamp, from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z`);
  }
}

function nanosOf(ts: Timestamp): bigint {
  return ts.seconds * 1_000_000_000n + BigInt(ts.nanos);
}

// A window bound rounds sub-microsecond instants up: a trip at micro t
// (PostgreSQL's precision) satisfies t >= s and t < e exactly when it
// satisfies them against ceil(s) and ceil(e).
function ceilMicros(ts: Timestamp): bigint {
  return ts.seconds * 1_000_000n + BigInt(Math.ceil(ts.nanos / 1000));
}

/**
 * parseRequiredTimestamp validates a required instant that is stored (a
 * trip's start or completion): nanoseconds are truncated to microseconds,
 * PostgreSQL's precision, so it never rounds past 9999-12-31T23:59:59.999999Z.
 */
export function parseRequiredTimestamp(ts: Timestamp | undefined, field: string): bigint {
  if (ts === undefined) throw invalid(`${field} is required`);
  checkTimestamp(ts, field);
  return ts.seconds * 1_000_000n + BigInt(Math.floor(ts.nanos / 1000));
}

/** parseDistance accepts 0 to MAX_DISTANCE_METERS. */
export function parseDistance(meters: bigint): bigint {
  if (meters < 0n) throw invalid("distance_meters must not be negative");
  if (meters > MAX_DISTANCE_METERS) throw invalid(`distance_meters must be at most ${MAX_DISTANCE_METERS} (2,000 km)`);
  return meters;
}

/**
 * parseComment accepts up to MAX_COMMENT_LENGTH code points of any Unicode
 * scalar value but U+0000, which PostgreSQL's text cannot hold. A lone
 * surrogate (possible only through Connect JSON's "\uD800" escapes) is not
 * Unicode text and would be stored as U+FFFD: refused too.
 */
export function parseComment(comment: string): string {
  if (comment.length > MAX_COMMENT_LENGTH * 2 || [...comment].length > MAX_COMMENT_LENGTH) {
    throw invalid(`comment must be at most ${MAX_COMMENT_LENGTH} characters`);
  }
  if (comment.includes("\u0000")) throw invalid("comment must not contain U+0000 (NUL)");
  if (!isWellFormed(comment)) throw invalid("comment must be valid Unicode (it holds a lone surrogate)");
  return comment;
}

// String.prototype.isWellFormed is Node 20+; typed here for older lib settings.
function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
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
  if (money.amountMinor > MAX_AMOUNT_MINOR) {
    throw invalid(`${field}.amount_minor must be at most ${MAX_AMOUNT_MINOR} (1,000,000.00 in minor units)`);
  }
  return { currencyCode: money.currencyCode, amountMinor: money.amountMinor };
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * parseDay accepts a real calendar day "YYYY-MM-DD" from 0001-01-01 to
 * 9999-12-31 (Timestamp's range; PostgreSQL has no year 0) and returns it
 * with its day number.
 */
export function parseDay(day: string, field: string): { day: string; epochDay: number } {
  const m = DAY.exec(day);
  let ms = NaN;
  if (m !== null && Number(m[1]) >= 1) {
    const date = new Date(0);
    // setUTCFullYear, unlike Date.UTC, does not map years 0-99 onto 1900-1999.
    date.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    ms = date.getTime();
  }
  if (m === null || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== day) {
    throw invalid(`${field} must be a day "YYYY-MM-DD" from 0001-01-01 to 9999-12-31`);
  }
  return { day, epochDay: ms / 86_400_000 };
}
