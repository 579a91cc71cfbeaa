import { createLocalJWKSet, errors, jwtVerify, type JWTVerifyGetKey, type KeyObject } from "jose";
import type { AuthConfig } from "./auth-config.js";
import { ClaimsError, principalFromClaims, type Principal } from "./principal.js";

/** TokenVerifier turns a bearer token into the caller it names, or refuses it. */
export interface TokenVerifier {
  /** verify resolves the principal, or rejects with InvalidTokenError. */
  verify(token: string): Promise<Principal>;
}

/** InvalidTokenError says why a token was refused, in words safe to show the caller. */
export class InvalidTokenError extends Error {
  override readonly name = "InvalidTokenError";
}

// Compact JWS: three base64url parts. Checked first so garbage never reaches jose.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 8 * 1024;

/**
 * createTokenVerifier verifies JWS-signed JWTs against the configured keys:
 * the algorithm list is fixed by the key kind (never taken from the token, so
 * "none" and HS256-with-a-public-key confusion are refused), and exp, iss,
 * aud and sub are required, nbf honored.
 */
export function createTokenVerifier(config: AuthConfig): TokenVerifier {
  let key: Uint8Array | KeyObject | JWTVerifyGetKey;
  let algorithms: string[];
  switch (config.keys.kind) {
    case "hs256":
      key = config.keys.secret;
      algorithms = ["HS256"];
      break;
    case "public-key":
      key = config.keys.key;
      algorithms = [config.keys.algorithm];
      break;
    case "jwks":
      key = createLocalJWKSet(config.keys.jwks);
      algorithms = ["RS256", "ES256"];
      break;
  }
  const options = {
    algorithms,
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: config.clockToleranceSeconds,
    requiredClaims: ["exp", "sub"],
  };
  return {
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
        throw new InvalidTokenError("bearer token is not a JWT");
      }
      try {
        const { payload } = await jwtVerify(token, key as Uint8Array, options);
        return principalFromClaims(payload);
      } catch (error) {
        throw new InvalidTokenError(describe(error));
      }
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof ClaimsError) return error.message;
  if (error instanceof errors.JWTExpired) return "token has expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "nbf":
      case "iat":
        return "token is not valid yet";
      case "iss":
        return "token issuer is not accepted";
      case "aud":
        return "token audience is not accepted";
      default:
        return `token claim "${error.claim}" is missing or invalid`;
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return "token signing algorithm is not accepted";
  }
  if (
    error instanceof errors.JWSSignatureVerificationFailed ||
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return "token signature is invalid";
  }
  return "token is malformed";
}
