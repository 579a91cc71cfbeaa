import { randomBytes, createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { createLocalJWKSet, type JSONWebKeySet } from "jose";

/**
 * AuthKeys is how bearer tokens are verified: exactly one of an HS256 shared
 * secret (development, or a trusted mesh), one RS256/ES256 public key (PEM,
 * SPKI), a JWKS file (key rotation: the token's `kid` picks the key), or a
 * JWKS URL (the identity provider's, fetched and refreshed as it rotates keys).
 */
export type AuthKeys =
  | { kind: "hs256"; secret: Uint8Array; /** made up at start by the demo mode */ generated: boolean }
  | { kind: "public-key"; key: KeyObject; algorithm: "RS256" | "ES256" }
  | { kind: "jwks"; jwks: JSONWebKeySet }
  | {
      kind: "remote-jwks";
      url: URL;
      /** Keys are refetched once they are this old (AUTH_JWKS_CACHE_MAX_AGE_SECONDS). */
      cacheMaxAgeMs: number;
      /** An unknown `kid` refetches only this long after the last fetch (AUTH_JWKS_COOLDOWN_SECONDS). */
      cooldownMs: number;
      /** Longest a fetch may take (AUTH_JWKS_TIMEOUT_MS). */
      timeoutMs: number;
    };

/** AuthConfig: keys plus the claims every token must carry. */
export interface AuthConfig {
  keys: AuthKeys;
  /** Required `iss`. */
  issuer: string;
  /** Required in `aud`. */
  audience: string;
  /** Leeway for exp/nbf against clock skew between issuer and us. */
  clockToleranceSeconds: number;
  /** AUTH_MAX_TOKEN_AGE_SECONDS: when set, tokens need `iat` and are refused once older than this. */
  maxTokenAgeSeconds?: number | undefined;
}

/** DEV_ISSUER is the issuer of HS256 tokens unless AUTH_ISSUER says otherwise. */
export const DEV_ISSUER = "driver-analytics-dev";
/** DEFAULT_AUDIENCE: tokens are for this service unless AUTH_AUDIENCE says otherwise. */
export const DEFAULT_AUDIENCE = "driver-analytics";

const MIN_SECRET_BYTES = 32;
const MIN_RSA_BITS = 2048;

/**
 * readAuthConfig validates the AUTH_* variables, appending every problem to
 * `problems`. `demo` (embedded PostgreSQL, no DATABASE_URL) is the only mode
 * that may start without a key: it generates a secret for this process.
 */
export function readAuthConfig(
  read: (name: string) => string | undefined,
  problems: string[],
  demo: boolean,
): AuthConfig {
  const secret = read("AUTH_HS256_SECRET");
  const publicKeyFile = read("AUTH_PUBLIC_KEY_FILE");
  const jwksFile = read("AUTH_JWKS_FILE");
  const jwksUrl = read("AUTH_JWKS_URL");
  const configured = [secret, publicKeyFile, jwksFile, jwksUrl].filter((v) => v !== undefined).length;
  const seconds = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`);
      return fallback;
    }
    return Number(raw);
  };

  let keys: AuthKeys | undefined;
  if (configured > 1) {
    problems.push("AUTH_HS256_SECRET, AUTH_PUBLIC_KEY_FILE, AUTH_JWKS_FILE and AUTH_JWKS_URL: set only one of them");
  } else if (secret !== undefined) {
    if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
      problems.push(`AUTH_HS256_SECRET: expected at least ${MIN_SECRET_BYTES} bytes (e.g. \`openssl rand -base64 32\`)`);
    } else {
      keys = { kind: "hs256", secret: new TextEncoder().encode(secret), generated: false };
    }
  } else if (publicKeyFile !== undefined) {
    keys = readPublicKey(publicKeyFile, problems);
  } else if (jwksFile !== undefined) {
    keys = readJwks(jwksFile, problems);
  } else if (jwksUrl !== undefined) {
    const url = parseJwksUrl(jwksUrl, problems);
    const remote = {
      cacheMaxAgeMs: seconds("AUTH_JWKS_CACHE_MAX_AGE_SECONDS", 600, 1, 86_400) * 1000,
      cooldownMs: seconds("AUTH_JWKS_COOLDOWN_SECONDS", 30, 0, 3_600) * 1000,
      timeoutMs: seconds("AUTH_JWKS_TIMEOUT_MS", 5_000, 100, 60_000),
    };
    if (url !== undefined) keys = { kind: "remote-jwks", url, ...remote };
  } else if (demo) {
    keys = { kind: "hs256", secret: randomBytes(MIN_SECRET_BYTES), generated: true };
  } else {
    problems.push(
      "no token verification key: set AUTH_PUBLIC_KEY_FILE, AUTH_JWKS_FILE or AUTH_JWKS_URL (production) or AUTH_HS256_SECRET " +
        "(development); only the embedded demo mode (no DATABASE_URL) starts without one",
    );
  }

  const issuer = read("AUTH_ISSUER") ?? (keys?.kind === "hs256" ? DEV_ISSUER : undefined);
  if (issuer === undefined && keys !== undefined) {
    problems.push("AUTH_ISSUER: required with AUTH_PUBLIC_KEY_FILE, AUTH_JWKS_FILE or AUTH_JWKS_URL (the `iss` your tokens carry)");
  }
  const audience = read("AUTH_AUDIENCE") ?? DEFAULT_AUDIENCE;
  const toleranceRaw = read("AUTH_CLOCK_TOLERANCE_SECONDS");
  let clockToleranceSeconds = 30;
  if (toleranceRaw !== undefined) {
    if (!/^\d+$/.test(toleranceRaw) || Number(toleranceRaw) > 300) {
      problems.push(`AUTH_CLOCK_TOLERANCE_SECONDS=${JSON.stringify(toleranceRaw)}: expected an integer from 0 to 300`);
    } else {
      clockToleranceSeconds = Number(toleranceRaw);
    }
  }
  const maxTokenAgeSeconds =
    read("AUTH_MAX_TOKEN_AGE_SECONDS") === undefined ? undefined : seconds("AUTH_MAX_TOKEN_AGE_SECONDS", 0, 1, 31_536_000);
  // On any problem the caller throws before using this value.
  return { keys: keys as AuthKeys, issuer: issuer ?? "", audience, clockToleranceSeconds, maxTokenAgeSeconds };
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

// Keys decide who is who: fetch them over TLS, except from this machine (tests, a sidecar).
function parseJwksUrl(raw: string, problems: string[]): URL | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push(`AUTH_JWKS_URL=${JSON.stringify(raw)}: expected an https:// URL`);
    return undefined;
  }
  if (url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.has(url.hostname))) return url;
  problems.push(`AUTH_JWKS_URL=${JSON.stringify(raw)}: expected an https:// URL (http:// only on localhost)`);
  return undefined;
}

function readText(name: string, file: string, problems: string[]): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    problems.push(`${name}=${JSON.stringify(file)}: cannot read the file (${code})`);
    return undefined;
  }
}

function readPublicKey(file: string, problems: string[]): AuthKeys | undefined {
  const name = "AUTH_PUBLIC_KEY_FILE";
  const pem = readText(name, file, problems);
  if (pem === undefined) return undefined;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch {
    problems.push(`${name}=${JSON.stringify(file)}: expected a PEM public key ("-----BEGIN PUBLIC KEY-----", SPKI)`);
    return undefined;
  }
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === "rsa" && (details?.modulusLength ?? 0) >= MIN_RSA_BITS) {
    return { kind: "public-key", key, algorithm: "RS256" };
  }
  if (key.asymmetricKeyType === "ec" && details?.namedCurve === "prime256v1") {
    return { kind: "public-key", key, algorithm: "ES256" };
  }
  problems.push(
    `${name}=${JSON.stringify(file)}: expected an RSA key of at least ${MIN_RSA_BITS} bits (RS256) or an EC P-256 key (ES256)`,
  );
  return undefined;
}

function readJwks(file: string, problems: string[]): AuthKeys | undefined {
  const name = "AUTH_JWKS_FILE";
  const text = readText(name, file, problems);
  if (text === undefined) return undefined;
  try {
    const jwks = JSON.parse(text) as JSONWebKeySet;
    createLocalJWKSet(jwks); // validates the shape
    if (jwks.keys.length === 0) throw new Error("empty");
    if (jwks.keys.some((k) => "d" in k || k.kty === "oct")) {
      problems.push(`${name}=${JSON.stringify(file)}: must hold public keys only (no "d", no "oct" keys)`);
      return undefined;
    }
    return { kind: "jwks", jwks };
  } catch {
    problems.push(`${name}=${JSON.stringify(file)}: expected a JWK Set ({"keys": [...]}) with at least one key`);
    return undefined;
  }
}
