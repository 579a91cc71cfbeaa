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
