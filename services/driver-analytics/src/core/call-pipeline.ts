import { Code, ConnectError } from "@connectrpc/connect";
import { context as otelContext, type Context, type Span } from "@opentelemetry/api";
import type { Logger } from "pino";
import { ACCESS_POLICY, checkAccess, type AccessRule } from "../auth/access-policy.js";
import type { Principal } from "../auth/principal.js";
import { InvalidTokenError, type TokenVerifier } from "../auth/token-verifier.js";
import { endCallSpan, startCallSpan, traceLogFields } from "./call-tracing.js";
import { toConnectError } from "./error-mapping.js";
import { requestIdOf } from "./request-id.js";

/** MethodRef names one RPC, once, for every call of it (labels, policy, logs). */
export interface MethodRef {
  /** "<service type name>/<method name>", the key of the access policy. */
  readonly key: string;
  readonly service: string;
  readonly name: string;
  readonly kind: "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";
}

/**
 * CallContext is what the rules need to know about a call, whichever
 * framework carries it: the method, the request headers, the caller's
 * deadline and cancellation (signal), and what the rules established.
 */
export interface CallContext {
  readonly method: MethodRef;
  readonly requestHeader: Headers;
  readonly signal: AbortSignal;
  /** The caller's id if sane, else a fresh UUID; echoed back and logged. */
  readonly requestId: string;
  /** performance.now() when the call reached the pipeline. */
  readonly startedAt: number;
  principal: Principal | undefined;
  /** The call's SERVER span (a no-op one when tracing is off) and the context that holds it. */
  readonly span: Span;
  readonly traceContext: Context;
}

/** CallMetrics counts and times calls; ops/metrics.ts implements it over prom-client. */
export interface CallMetrics {
  started(method: MethodRef): void;
  /** code undefined: OK. */
  finished(method: MethodRef, code: Code | undefined, seconds: number): void;
  databaseError(error: unknown): void;
}

export interface CallPipelineDeps {
  verifier: TokenVerifier;
  logger: Logger;
  metrics: CallMetrics;
  policy?: ReadonlyMap<string, AccessRule>;
}

/**
 * CallPipeline is every rule a call passes, written once for every framework
 * that serves the RPCs (connect-node for Connect and gRPC-Web, grpc-js for
 * gRPC): request id, metrics, authentication, the access policy, error
 * mapping and the failure log line. Admission comes before it, at the
 * stream's arrival (http/admission-gate.ts), so a refused call costs none
 * of this. An adapter calls begin, then authenticate (from headers, before
 * the body if it can), authorize (with the decoded message), the handler,
 * and finally succeed or fail.
 */
export interface CallPipeline {
  /** protocol: "grpc", "grpc-web" or "connect", for the call's span. */
  begin(method: MethodRef, requestHeader: Headers, signal: AbortSignal, protocol?: string): CallContext;
  /** run calls fn in the call's trace context, so the spans fn starts (the database's) are the call span's children. */
  run<T>(call: CallContext, fn: () => T): T;
  /** authenticate verifies the bearer token unless the method is public; throws UNAUTHENTICATED. */
  authenticate(call: CallContext): Promise<void>;
  /** authorize applies the access policy to the caller and the request message; throws PERMISSION_DENIED. */
  authorize(call: CallContext, message: unknown): void;
  succeed(call: CallContext): void;
  /** fail maps any error to what the caller may see (no SQL, stack or host), logs and counts it. */
  fail(call: CallContext, error: unknown): ConnectError;
}

export function createCallPipeline(deps: CallPipelineDeps): CallPipeline {
  const { verifier, logger, metrics } = deps;
  const policy = deps.policy ?? ACCESS_POLICY;
  const unauthenticated = (message: string) => new ConnectError(message, Code.Unauthenticated);
  return {
    begin(method, requestHeader, signal, protocol) {
      metrics.started(method);
      const { span, context: traceContext } = startCallSpan(method, requestHeader, protocol);
      return {
        span,
        traceContext,
        method,
        requestHeader,
        signal,
        requestId: requestIdOf(requestHeader),
        startedAt: performance.now(),
        principal: undefined,
      };
    },

    run(call, fn) {
      return otelContext.with(call.traceContext, fn);
    },

    async authenticate(call) {
      // Methods missing from the policy need a token too (authorize then
      // refuses them), so probing unknown methods teaches nothing.
      if (policy.get(call.method.key)?.kind === "public") return;
      const token = bearerToken(call.requestHeader.get("authorization"));
      if (token === undefined) throw unauthenticated("missing bearer token (Authorization: Bearer <jwt>)");
      try {
        call.principal = await verifier.verify(token);
      } catch (error) {
        if (error instanceof InvalidTokenError) throw unauthenticated(error.message);
        throw unauthenticated("bearer token could not be verified");
      }
    },

    authorize(call, message) {
      const rule = policy.get(call.method.key);
      if (rule === undefined) throw new ConnectError("method is not available", Code.PermissionDenied);
      if (rule.kind === "public") return;
      // Only reachable if an adapter skipped authenticate: fail closed.
      if (call.principal === undefined) throw unauthenticated("missing bearer token (Authorization: Bearer <jwt>)");
      checkAccess(rule, call.principal, message);
    },

    succeed(call) {
      metrics.finished(call.method, undefined, (performance.now() - call.startedAt) / 1000);
      endCallSpan(call.span, undefined);
    },

    fail(call, error) {
      metrics.databaseError(error);
      const connectError = toConnectError(error, call.signal);
      connectError.metadata.set("x-request-id", call.requestId);
      const durationMs = performance.now() - call.startedAt;
      metrics.finished(call.method, connectError.code, durationMs / 1000);
      endCallSpan(call.span, connectError.code, connectError.rawMessage, error);
      const fields = {
        requestId: call.requestId,
        method: call.method.key,
        code: Code[connectError.code],
        durationMs: Math.round(durationMs * 10) / 10,
        ...traceLogFields(call.span),
      };
      if (connectError.code === Code.Internal) logger.error({ ...fields, err: error }, "call failed");
      else logger.warn({ ...fields, reason: connectError.rawMessage }, "call failed");
      return connectError;
    },
  };
}

/** bearerToken extracts the token of an `Authorization: Bearer <token>` header (RFC 6750). */
export function bearerToken(header: string | null): string | undefined {
  const match = header === null ? null : /^Bearer +([^\s]+) *$/i.exec(header);
  return match?.[1];
}
