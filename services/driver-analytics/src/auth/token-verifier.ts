import { Code, ConnectError } from "@connectrpc/connect";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWTVerifyGetKey,
} from "jose";
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

/** How long a caller refused for unreachable keys should wait, in milliseconds. */
const KEYS_UNAVAILABLE_PUSHBACK_MS = 1_000;

// The identity provider's key set could not be fetched (down, slow, not a
// JWKS): the token may be fine, so the caller hears UNAVAILABLE, not UNAUTHENTICATED.
class KeysUnavailableError extends Error {
  override readonly name = "KeysUnavailableError";
}

// Compact JWS: three base64url parts. Checked first so garbage never reaches jose.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 8 * 1024;
// Callers reuse a token for many calls (a dashboard, a service, a benchmark):
// remember verified ones until they expire instead of checking the signature
// on every call. Bounded; the oldest entry goes first.
const CACHE_MAX_ENTRIES = 10_000;

interface Verified {
  principal: Principal;
  expiresAtMs: number;
}

/**
 * createTokenVerifier verifies JWS-signed JWTs against the configured keys:
 * the algorithm list is fixed by the key kind (never taken from the token, so
 * "none" and HS256-with-a-public-key confusion are refused), and exp, iss,
 * aud and sub are required, nbf honored.
 */
export function createTokenVerifier(config: AuthConfig): TokenVerifier {
  // Keys are imported into WebCrypto once (jose would import raw bytes on
  // every call, doubling the cost of a verification).
  let key: Promise<CryptoKey> | JWTVerifyGetKey;
  let algorithms: string[];
  switch (config.keys.kind) {
    case "hs256":
      key = crypto.subtle.importKey("raw", config.keys.secret, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
      algorithms = ["HS256"];
      break;
    case "public-key":
      key = importSPKI(config.keys.key.export({ type: "spki", format: "pem" }).toString(), config.keys.algorithm);
      algorithms = [config.keys.algorithm];
      break;
    case "jwks":
      key = createLocalJWKSet(config.keys.jwks);
      algorithms = ["RS256", "ES256"];
      break;
    case "remote-jwks": {
      // jose caches the set for cacheMaxAge; a token whose kid is not in it
      // refetches at once unless the last fetch is younger than the cooldown
      // (so forged kids cannot make us hammer the provider); a fetch takes at
      // most timeoutDuration. Concurrent verifications share one fetch.
      const remote = createRemoteJWKSet(config.keys.url, {
        cacheMaxAge: config.keys.cacheMaxAgeMs,
        cooldownDuration: config.keys.cooldownMs,
        timeoutDuration: config.keys.timeoutMs,
        headers: { "user-agent": "driver-analytics" },
      });
      key = async (header, token) => {
        try {
          return await remote(header, token);
        } catch (error) {
          // Key selection failures are the token's; anything else is the fetch's.
          if (
            error instanceof errors.JWKSNoMatchingKey ||
            error instanceof errors.JWKSMultipleMatchingKeys ||
            error instanceof errors.JOSENotSupported ||
            error instanceof errors.JOSEAlgNotAllowed
          ) {
            throw error;
          }
          throw new KeysUnavailableError("token keys could not be fetched", { cause: error });
        }
      };
      algorithms = ["RS256", "ES256"];
      break;
    }
  }
  const cache = new Map<string, Verified>();
  const options = {
    algorithms,
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: config.clockToleranceSeconds,
    requiredClaims: config.maxTokenAgeSeconds === undefined ? ["exp", "sub"] : ["exp", "sub", "iat"],
    ...(config.maxTokenAgeSeconds === undefined ? {} : { maxTokenAge: config.maxTokenAgeSeconds }),
  };
  return {
    async verify(token) {
      // Only verified tokens are cached: a hit has passed every check below.
      const cached = cache.get(token);
      if (cached !== undefined) {
        if (Date.now() < cached.expiresAtMs) return cached.principal;
        cache.delete(token);
      }
      if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
        throw new InvalidTokenError("bearer token is not a JWT");
      }
      let verified: Verified;
      try {
        const { payload } =
          typeof key === "function" ? await jwtVerify(token, key, options) : await jwtVerify(token, await key, options);
        // exp is required, so present; without tolerance, so a cached token never outlives a fresh check.
        // With a maximum age, neither may it outlive iat + age.
        let expiresAtMs = (payload.exp ?? 0) * 1000;
        if (config.maxTokenAgeSeconds !== undefined && payload.iat !== undefined) {
          expiresAtMs = Math.min(expiresAtMs, (payload.iat + config.maxTokenAgeSeconds) * 1000);
        }
        verified = { principal: principalFromClaims(payload), expiresAtMs };
      } catch (error) {
        if (error instanceof KeysUnavailableError) {
          throw new ConnectError("token keys are unavailable, retry later", Code.Unavailable, {
            "grpc-retry-pushback-ms": String(KEYS_UNAVAILABLE_PUSHBACK_MS),
          });
        }
        throw new InvalidTokenError(describe(error));
      }
      if (cache.size >= CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value!);
      cache.set(token, verified);
      return verified.principal;
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof ClaimsError) return error.message;
  if (error instanceof errors.JWTExpired) return error.claim === "iat" ? "token is too old" : "token has expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === "missing") return `token claim "${error.claim}" is missing or invalid`;
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
