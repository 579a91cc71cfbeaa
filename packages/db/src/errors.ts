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
