// Typed failures of the database layer. Callers map these to protocol errors;
// the messages never carry SQL, hosts or credentials.

/** DatabaseUnavailableError: the database cannot be reached or is shutting down; retryable. */
export class DatabaseUnavailableError extends Error {
  override readonly name = "DatabaseUnavailableError";
  constructor(options?: { cause?: unknown }) {
    super("database unavailable", options);
  }
}

/** PoolExhaustedError: every connection is busy and the wait queue is full or timed out. */
export class PoolExhaustedError extends Error {
  override readonly name = "PoolExhaustedError";
  constructor(reason: "queue-full" | "wait-timeout", options?: { cause?: unknown }) {
    super(`database pool exhausted (${reason})`, options);
  }
}

/** QueryAbortedError: the caller's signal aborted the query, which was cancelled in PostgreSQL. */
export class QueryAbortedError extends Error {
  override readonly name = "QueryAbortedError";
  constructor(options?: { cause?: unknown }) {
    super("query aborted by caller", options);
  }
}

/** QueryTimeoutError: PostgreSQL's statement_timeout stopped the query. */
export class QueryTimeoutError extends Error {
  override readonly name = "QueryTimeoutError";
  constructor(options?: { cause?: unknown }) {
    super("query exceeded the statement timeout", options);
  }
}

// SQLSTATEs that mean "this server cannot serve you right now".
const UNAVAILABLE_SQLSTATES = new Set([
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "53000", // insufficient_resources
]);

const UNAVAILABLE_NODE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** isUnavailable tells whether a raw pg / socket error means the database is out of reach. */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code.startsWith("08") || UNAVAILABLE_SQLSTATES.has(code)) return true;
    if (UNAVAILABLE_NODE_CODES.has(code)) return true;
  }
  // pg reports dropped sockets with plain Errors.
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(
    error.message,
  );
}

/** Why a write was refused; nothing was written. */
export type WriteRejection =
  | "unknown-driver"
  | "currency-mismatch"
  | "request-id-reused"
  | "unknown-trip"
  | "trip-not-completed"
  | "review-exists";

/** WriteRejectedError: the write contradicts what the database holds; nothing was written. */
export class WriteRejectedError extends Error {
  override readonly name = "WriteRejectedError";
  constructor(readonly reason: WriteRejection) {
    super(`write rejected: ${reason}`);
  }
}

/**
 * OutOfRangeError: PostgreSQL refused a value or a total beyond the bounds it
 * enforces (migration 0004_bounds: one trip's amounts, distance and duration;
 * a driver's trip count), or an int8 sum would have overflowed. The statement
 * failed as a whole: nothing was written.
 */
export class OutOfRangeError extends Error {
  override readonly name = "OutOfRangeError";
  constructor(
    /** "bound": a CHECK of 0004_bounds; "overflow": int8 arithmetic (SQLSTATE 22003). */
    readonly kind: "bound" | "overflow",
    /** The constraint that refused it, for "bound". */
    readonly constraint?: string,
    options?: { cause?: unknown },
  ) {
    super(kind === "bound" ? `value out of range (${constraint ?? "bound"})` : "value out of range (overflow)", options);
  }
}

/**
 * InvalidTextError: PostgreSQL refused a string (U+0000, or bytes that are
 * not valid in the database encoding; SQLSTATE 22021 / 22P05). Nothing was written.
 */
export class InvalidTextError extends Error {
  override readonly name = "InvalidTextError";
  constructor(options?: { cause?: unknown }) {
    super("text refused by the database", options);
  }
}

// The CHECK constraints of 0004_bounds: each names what it bounds.
const BOUND_CONSTRAINT = /_bound$/;

/**
 * classifyValueError turns the SQLSTATEs of refused values into typed errors
 * (OutOfRangeError, InvalidTextError); anything else is returned as is.
 */
export function classifyValueError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  if (code === "22003") return new OutOfRangeError("overflow", undefined, { cause: error });
  if (code === "23514" && typeof constraint === "string" && BOUND_CONSTRAINT.test(constraint)) {
    return new OutOfRangeError("bound", constraint, { cause: error });
  }
  if (code === "22021" || code === "22P05") return new InvalidTextError({ cause: error });
  return error;
}
