import { Code, ConnectError } from "@connectrpc/connect";
import {
  DatabaseUnavailableError,
  InvalidTextError,
  OutOfRangeError,
  PoolExhaustedError,
  QueryAbortedError,
  QueryTimeoutError,
  WriteRejectedError,
  type WriteRejection,
} from "@driver-analytics/db";
import { MAX_TRIPS_PER_DRIVER } from "../handlers/request-validation.js";

/** How long a refused caller should wait before retrying, in milliseconds. */
export const RETRY_PUSHBACK_MS = 200;

// gRPC's retry design (A6) lets servers tell clients when to retry through
// this trailer; Connect clients see it as response metadata.
function retryable(message: string, code: Code): ConnectError {
  return new ConnectError(message, code, { "grpc-retry-pushback-ms": String(RETRY_PUSHBACK_MS) });
}

// What a refused write tells its caller. Nothing was written in any case.
const WRITE_REJECTIONS: Record<WriteRejection, [string, Code]> = {
  "unknown-driver": ["driver_id names no driver", Code.InvalidArgument],
  "currency-mismatch": ["fare is not in the driver's currency", Code.InvalidArgument],
  "request-id-reused": ["request_id was already used for a different trip", Code.AlreadyExists],
  "unknown-trip": ["trip_id names no trip", Code.InvalidArgument],
  "trip-not-completed": ["only completed trips can be reviewed", Code.FailedPrecondition],
  "review-exists": ["the trip already has a different review", Code.AlreadyExists],
};

/**
 * toConnectError maps a failure to the status a caller should see. Messages
 * are ours, never the underlying error's: no SQL, stack or connection string
 * leaves the process.
 */
export function toConnectError(error: unknown, signal: AbortSignal): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof QueryAbortedError) {
    // The call's own deadline or cancellation stopped it: report why.
    const reason = signal.reason;
    return reason instanceof ConnectError ? reason : new ConnectError("call cancelled", Code.Canceled);
  }
  if (error instanceof PoolExhaustedError) {
    return retryable("server is at capacity, retry later", Code.Unavailable);
  }
  if (error instanceof DatabaseUnavailableError) {
    return retryable("database unavailable, retry later", Code.Unavailable);
  }
  if (error instanceof WriteRejectedError) {
    const [message, code] = WRITE_REJECTIONS[error.reason];
    return new ConnectError(message, code);
  }
  // The database refused a value (a bound, an int8 overflow, text it cannot
  // store): the statement failed whole, so nothing was written.
  if (error instanceof OutOfRangeError) {
    const message =
      error.constraint === "driver_stats_trips_bound"
        ? `the driver already has the most trips one driver may have (${MAX_TRIPS_PER_DRIVER})`
        : "the write would take a stored value or total beyond its bounds";
    return new ConnectError(message, Code.OutOfRange);
  }
  if (error instanceof InvalidTextError) {
    return new ConnectError("a string holds characters that cannot be stored", Code.InvalidArgument);
  }
  if (error instanceof QueryTimeoutError) {
    return new ConnectError("query took too long", Code.DeadlineExceeded);
  }
  return new ConnectError("internal error", Code.Internal);
}
