import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import type { Logger } from "pino";
import { ACCESS_POLICY, checkAccess, type AccessRule } from "../auth/access-policy.js";
import type { Principal } from "../auth/principal.js";
import { InvalidTokenError, type TokenVerifier } from "../auth/token-verifier.js";

/** principalKey carries the authenticated caller from the request gate to interceptors and handlers. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "authenticated caller" });

function unauthenticated(message: string): ConnectError {
  return new ConnectError(message, Code.Unauthenticated);
}

/** bearerToken extracts the token of an `Authorization: Bearer <token>` header (RFC 6750). */
export function bearerToken(header: string | null): string | undefined {
  const match = header === null ? null : /^Bearer +([^\s]+) *$/i.exec(header);
  return match?.[1];
}

/**
 * authRequestGate authenticates every call to a non-public method from its
 * headers alone, before the request body is read: no token or a bad one ends
 * the call with UNAUTHENTICATED. The caller becomes principalKey's value.
 * Methods missing from the access policy also need a token (then the
 * interceptor refuses them), so probing unknown methods teaches nothing.
 */
export function authRequestGate(
  verifier: TokenVerifier,
  logger: Logger,
  policy: ReadonlyMap<string, AccessRule> = ACCESS_POLICY,
): (context: HandlerContext) => Promise<void> {
  return async (context) => {
    const rule = policy.get(`${context.service.typeName}/${context.method.name}`);
    if (rule?.kind === "public") return;
    const token = bearerToken(context.requestHeader.get("authorization"));
    try {
      if (token === undefined) throw unauthenticated("missing bearer token (Authorization: Bearer <jwt>)");
      try {
        context.values.set(principalKey, await verifier.verify(token));
      } catch (error) {
        if (error instanceof InvalidTokenError) throw unauthenticated(error.message);
        throw error;
      }
    } catch (error) {
      // The gate runs before the interceptors, so the error-mapping
      // interceptor never sees these refusals: log them here.
      logger.warn(
        {
          requestId: context.requestHeader.get("x-request-id") ?? undefined,
          method: `${context.service.typeName}/${context.method.name}`,
          code: error instanceof ConnectError ? Code[error.code] : undefined,
          reason: error instanceof ConnectError ? error.rawMessage : "verification failed",
        },
        "call refused",
      );
      throw error instanceof ConnectError ? error : unauthenticated("bearer token could not be verified");
    }
  };
}

/**
 * authorizationInterceptor applies the access policy to the authenticated
 * caller and the request message, before the handler runs (so before any
 * database access): a method without a rule is PERMISSION_DENIED for all.
 */
export function authorizationInterceptor(policy: ReadonlyMap<string, AccessRule> = ACCESS_POLICY): Interceptor {
  return (next) => async (request) => {
    const rule = policy.get(`${request.service.typeName}/${request.method.name}`);
    if (rule === undefined) throw new ConnectError("method is not available", Code.PermissionDenied);
    if (rule.kind === "public") return next(request);
    const principal = request.contextValues.get(principalKey);
    // Only reachable if the gate was not installed: fail closed.
    if (principal === undefined) throw unauthenticated("missing bearer token (Authorization: Bearer <jwt>)");
    checkAccess(rule, principal, request.stream ? undefined : request.message);
    return next(request);
  };
}
