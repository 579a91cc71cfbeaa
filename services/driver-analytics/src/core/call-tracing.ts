// The server span of one RPC, for the call pipeline: started from the
// caller's W3C traceparent (whatever framework carried the headers), ended
// with the call's code. Only @opentelemetry/api: with no SDK registered
// (tracing off, the default) the propagator extracts nothing and the span
// is a non-recording no-op. ops/tracing.ts registers the SDK.
import { Code } from "@connectrpc/connect";
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  isSpanContextValid,
  propagation,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
} from "@opentelemetry/api";
import type { MethodRef } from "./call-pipeline.js";

const tracer = trace.getTracer("@driver-analytics/server");

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

export interface CallSpan {
  span: Span;
  /** The caller's context with the server span in it: run the handler in it. */
  context: Context;
}

/**
 * startCallSpan starts the SERVER span of a call, a child of the caller's
 * traceparent if it sent one. protocol: the adapter's name of the wire
 * protocol ("grpc", "grpc-web", "connect"); gRPC and gRPC-Web are
 * rpc.system "grpc", the Connect protocol "connect_rpc".
 */
export function startCallSpan(method: MethodRef, requestHeader: Headers, protocol: string | undefined): CallSpan {
  const parent = propagation.extract(ROOT_CONTEXT, requestHeader, headerGetter);
  const span = tracer.startSpan(method.key, { kind: SpanKind.SERVER }, parent);
  if (span.isRecording()) {
    span.setAttributes({
      "rpc.system": protocol === "connect" ? "connect_rpc" : "grpc",
      "rpc.service": method.service,
      "rpc.method": method.name,
    });
  }
  // Tracing off: a no-op span with no valid context; a context holding it
  // would cost an allocation per call (~1 µs in a profile) and carry nothing.
  const carried = span.isRecording() || isSpanContextValid(span.spanContext());
  return { span, context: carried ? trace.setSpan(parent, span) : parent };
}

/**
 * endCallSpan records the call's code (undefined: OK) and ends the span.
 * Status ERROR only for the codes that mean the server failed (the
 * OpenTelemetry conventions for gRPC servers); a refused or not-found call
 * is the caller's, and stays UNSET with its code recorded.
 */
export function endCallSpan(span: Span, code: Code | undefined, message?: string, error?: unknown): void {
  if (span.isRecording()) {
    // Every protocol's: Connect's codes are gRPC's, by number.
    span.setAttribute("rpc.grpc.status_code", code ?? 0);
    if (code !== undefined && SERVER_ERROR_CODES.has(code)) {
      if (error !== undefined) span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, ...(message === undefined ? {} : { message }) });
    }
  }
  span.end();
}

/** traceLogFields: the trace and span ids for a log line, when the call carries a valid span context. */
export function traceLogFields(span: Span): { traceId: string; spanId: string } | undefined {
  const spanContext = span.spanContext();
  if (!isSpanContextValid(spanContext)) return undefined;
  return { traceId: spanContext.traceId, spanId: spanContext.spanId };
}

const SERVER_ERROR_CODES: ReadonlySet<Code> = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

