// Authentication for tests: one HS256 secret, its verifier, and tokens.
import type { Interceptor } from "@connectrpc/connect";
import type { AuthConfig } from "../auth/auth-config.js";
import { mintDevToken } from "../auth/dev-tokens.js";
import { SCOPE_READ, SCOPE_WRITE } from "../auth/principal.js";
import { createTokenVerifier, type TokenVerifier } from "../auth/token-verifier.js";

export const TEST_AUTH_SECRET = new TextEncoder().encode("test-secret-test-secret-test-secret-0123");
export const TEST_ISSUER = "driver-analytics-test";
export const TEST_AUDIENCE = "driver-analytics";

export const TEST_AUTH_CONFIG: AuthConfig = {
  keys: { kind: "hs256", secret: TEST_AUTH_SECRET, generated: false },
  issuer: TEST_ISSUER,
  audience: TEST_AUDIENCE,
  clockToleranceSeconds: 0,
};

/** testVerifier verifies tokens minted by the functions below. */
export function testVerifier(): TokenVerifier {
  return createTokenVerifier(TEST_AUTH_CONFIG);
}

const TTL_SECONDS = 3600;

/** serviceToken is a service's token with the read and write scopes, unless told otherwise. */
export function serviceToken(scopes: readonly string[] = [SCOPE_READ, SCOPE_WRITE]): Promise<string> {
  return mintDevToken({
    secret: TEST_AUTH_SECRET,
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    service: "test",
    scopes,
    ttlSeconds: TTL_SECONDS,
  });
}

/** driverToken is driver `driverId`'s token (no scopes). */
export function driverToken(driverId: bigint): Promise<string> {
  return mintDevToken({
    secret: TEST_AUTH_SECRET,
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    driverId,
    ttlSeconds: TTL_SECONDS,
  });
}

/** bearer is a client interceptor sending `Authorization: Bearer <token>` on every call. */
export function bearer(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}
