// Spans for the database work of a call: the wait for a pool connection and
// each SQL statement. Only @opentelemetry/api: with no SDK registered (the
// default) nothing is recorded. Spans are made only inside a traced call (a
// span is active: the RPC's server span, as the handler runs in its
// context), as children of it; work outside any call (the health probe's
// SELECT 1 every second, migrations, seeding) makes no root spans of its own.
import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from "@opentelemetry/api";

const tracer = trace.getTracer("@driver-analytics/db");

/** POOL_WAIT_SPAN: the span covering the wait for a free pool connection. */
export const POOL_WAIT_SPAN = "pg.pool.wait";
const DB_SYSTEM = "postgresql";

/** tracePoolWait runs acquire inside a "pg.pool.wait" span. */
export async function tracePoolWait<T>(acquire: () => Promise<T>, waiting: () => number): Promise<T> {
  if (trace.getActiveSpan() === undefined) return acquire();
  const span = tracer.startSpan(POOL_WAIT_SPAN, { kind: SpanKind.INTERNAL });
  // Queries already waiting when this one joined the queue.
  if (span.isRecording()) span.setAttributes({ "db.system": DB_SYSTEM, "db.client.connections.waiting": waiting() });
  try {
    return await acquire();
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * traceStatement runs one statement inside a span named by its first SQL
 * keyword (SELECT, INSERT, WITH, BEGIN, ...). db.statement is the
 * parameterized text: the parameter values are never recorded.
 */
export async function traceStatement<T extends { rowCount: number | null }>(
  text: string,
  run: () => Promise<T>,
): Promise<T> {
  if (trace.getActiveSpan() === undefined) return run();
  const operation = operationOf(text);
  const span = tracer.startSpan(operation, { kind: SpanKind.CLIENT });
  if (span.isRecording()) {
    const attributes: Attributes = { "db.system": DB_SYSTEM, "db.operation": operation, "db.statement": text };
    span.setAttributes(attributes);
  }
  try {
    const result = await run();
    if (result.rowCount !== null) span.setAttribute("db.response.returned_rows", result.rowCount);
    return result;
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** operationOf: the first SQL keyword of a statement, upper case ("SQL" if there is none). */
export function operationOf(text: string): string {
  const match = /^\s*([A-Za-z]+)/.exec(text);
  return match === null ? "SQL" : match[1]!.toUpperCase();
}

function failed(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") span.setAttribute("db.response.status_code", code);
  span.recordException(error instanceof Error ? error : message);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
