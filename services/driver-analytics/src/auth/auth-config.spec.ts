import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../config.js";
import { InvalidTokenError, createTokenVerifier } from "./token-verifier.js";

const dir = mkdtempSync(path.join(tmpdir(), "auth-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PRODUCTION = { DATABASE_URL: "postgres://u:p@db.internal:5432/analytics" };
const ISSUER = "https://id.example.com/";

function file(name: string, contents: string): string {
  const at = path.join(dir, name);
  writeFileSync(at, contents);
  return at;
}

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

function sign(key: CryptoKey | Uint8Array, alg: string, claims: { iss?: string; aud?: string; kid?: string } = {}) {
  return new SignJWT({ scope: "driver-analytics:read" })
    .setProtectedHeader({ alg, ...(claims.kid === undefined ? {} : { kid: claims.kid }) })
    .setSubject("service:billing")
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? "driver-analytics")
    .setExpirationTime("5m")
    .sign(key);
}

describe("auth configuration", () => {
  it("refuses a production start without a key, naming the variables", () => {
    const problems = problemsOf(PRODUCTION);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/no token verification key: set AUTH_PUBLIC_KEY_FILE, AUTH_JWKS_FILE or AUTH_JWKS_URL .* AUTH_HS256_SECRET/);
  });

  it("generates a secret in demo mode (no DATABASE_URL), a new one per start", () => {
    const a = loadConfig({});
    const b = loadConfig({});
    expect(a.auth.keys).toMatchObject({ kind: "hs256", generated: true });
    expect(a.auth).toMatchObject({ issuer: "driver-analytics-dev", audience: "driver-analytics" });
    expect(a.auth.keys.kind === "hs256" && b.auth.keys.kind === "hs256" && Buffer.from(a.auth.keys.secret).equals(b.auth.keys.secret)).toBe(false);
  });

  it("explains every bad AUTH_* value", () => {
    expect(problemsOf({ ...PRODUCTION, AUTH_HS256_SECRET: "short" })).toEqual([
      "AUTH_HS256_SECRET: expected at least 32 bytes (e.g. `openssl rand -base64 32`)",
    ]);
    expect(problemsOf({ ...PRODUCTION, AUTH_HS256_SECRET: "s".repeat(32), AUTH_JWKS_FILE: "/x" })[0]).toMatch(/set only one of them/);
    expect(problemsOf({ ...PRODUCTION, AUTH_PUBLIC_KEY_FILE: path.join(dir, "missing.pem"), AUTH_ISSUER: ISSUER })).toEqual([
      `AUTH_PUBLIC_KEY_FILE=${JSON.stringify(path.join(dir, "missing.pem"))}: cannot read the file (ENOENT)`,
    ]);
    expect(problemsOf({ ...PRODUCTION, AUTH_PUBLIC_KEY_FILE: file("junk.pem", "hello"), AUTH_ISSUER: ISSUER })[0]).toMatch(
      /expected a PEM public key/,
    );
    const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" });
    expect(problemsOf({ ...PRODUCTION, AUTH_PUBLIC_KEY_FILE: file("rsa1024.pem", String(rsa1024)), AUTH_ISSUER: ISSUER })[0]).toMatch(
      /expected an RSA key of at least 2048 bits \(RS256\) or an EC P-256 key \(ES256\)/,
    );
    const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey.export({ type: "spki", format: "pem" });
    expect(problemsOf({ ...PRODUCTION, AUTH_PUBLIC_KEY_FILE: file("p384.pem", String(p384)), AUTH_ISSUER: ISSUER })).toHaveLength(1);
    const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" });
    expect(problemsOf({ ...PRODUCTION, AUTH_PUBLIC_KEY_FILE: file("p256.pem", String(p256)) })).toEqual([
      "AUTH_ISSUER: required with AUTH_PUBLIC_KEY_FILE, AUTH_JWKS_FILE or AUTH_JWKS_URL (the `iss` your tokens carry)",
    ]);
    expect(problemsOf({ ...PRODUCTION, AUTH_JWKS_FILE: file("bad.json", "{}"), AUTH_ISSUER: ISSUER })[0]).toMatch(/expected a JWK Set/);
    expect(problemsOf({ ...PRODUCTION, AUTH_JWKS_FILE: file("oct.json", '{"keys":[{"kty":"oct","k":"AAAA"}]}'), AUTH_ISSUER: ISSUER })[0]).toMatch(
      /must hold public keys only/,
    );
    expect(problemsOf({ AUTH_CLOCK_TOLERANCE_SECONDS: "9999" })[0]).toMatch(/AUTH_CLOCK_TOLERANCE_SECONDS/);
    expect(problemsOf({ CORS_ALLOWED_ORIGINS: "https://ok.example, https://bad.example/path" })).toEqual([
      'CORS_ALLOWED_ORIGINS: "https://bad.example/path" is not an origin (scheme://host[:port], no path) or *',
    ]);
  });

  it("verifies RS256 and ES256 with a PEM public key, refusing the other algorithm and HS256 keyed with the PEM", async () => {
    for (const alg of ["RS256", "ES256"] as const) {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const pem = await exportSPKI(publicKey);
      const config = loadConfig({ ...PRODUCTION, AUTH_PUBLIC_KEY_FILE: file(`${alg}.pem`, pem), AUTH_ISSUER: ISSUER });
      expect(config.auth.keys).toMatchObject({ kind: "public-key", algorithm: alg });
      const verifier = createTokenVerifier(config.auth);
      const principal = await verifier.verify(await sign(privateKey, alg));
      expect(principal).toMatchObject({ subject: "service:billing", driverId: undefined });
      expect([...principal.scopes]).toEqual(["driver-analytics:read"]);
      await expect(verifier.verify(await sign(privateKey, alg, { iss: "https://evil.example/" }))).rejects.toThrow(InvalidTokenError);
      const other = await generateKeyPair(alg === "RS256" ? "ES256" : "RS256");
      await expect(verifier.verify(await sign(other.privateKey, alg === "RS256" ? "ES256" : "RS256"))).rejects.toThrow(
        "token signing algorithm is not accepted",
      );
      // The classic confusion attack: HMAC keyed with the public key's text.
      await expect(verifier.verify(await sign(new TextEncoder().encode(pem), "HS256"))).rejects.toThrow(
        "token signing algorithm is not accepted",
      );
    }
  });

  it("verifies with a JWKS file, choosing the key by kid", async () => {
    const a = await generateKeyPair("RS256", { extractable: true });
    const b = await generateKeyPair("ES256", { extractable: true });
    const jwks = { keys: [{ ...(await exportJWK(a.publicKey)), kid: "a", alg: "RS256" }, { ...(await exportJWK(b.publicKey)), kid: "b", alg: "ES256" }] };
    const config = loadConfig({ ...PRODUCTION, AUTH_JWKS_FILE: file("jwks.json", JSON.stringify(jwks)), AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: "analytics-api" });
    const verifier = createTokenVerifier(config.auth);
    expect((await verifier.verify(await sign(a.privateKey, "RS256", { kid: "a", aud: "analytics-api" }))).subject).toBe("service:billing");
    expect((await verifier.verify(await sign(b.privateKey, "ES256", { kid: "b", aud: "analytics-api" }))).subject).toBe("service:billing");
    await expect(verifier.verify(await sign(a.privateKey, "RS256", { kid: "b", aud: "analytics-api" }))).rejects.toThrow(InvalidTokenError);
    await expect(verifier.verify(await sign(a.privateKey, "RS256", { kid: "a" }))).rejects.toThrow("token audience is not accepted");
    const stranger = await generateKeyPair("RS256");
    await expect(verifier.verify(await sign(stranger.privateKey, "RS256", { kid: "a", aud: "analytics-api" }))).rejects.toThrow(
      "token signature is invalid",
    );
  });
});

describe("verified tokens", () => {
  it("are remembered only until they expire", async () => {
    const secret = new TextEncoder().encode("s".repeat(40));
    const verifier = createTokenVerifier({
      keys: { kind: "hs256", secret, generated: false },
      issuer: ISSUER,
      audience: "driver-analytics",
      clockToleranceSeconds: 0,
    });
    const expiresAt = Math.floor(Date.now() / 1000) + 1;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("driver:5")
      .setIssuer(ISSUER)
      .setAudience("driver-analytics")
      .setExpirationTime(expiresAt)
      .sign(secret);
    expect((await verifier.verify(token)).driverId).toBe(5n);
    expect((await verifier.verify(token)).driverId).toBe(5n);
    await new Promise((resolve) => setTimeout(resolve, expiresAt * 1000 - Date.now() + 50));
    await expect(verifier.verify(token)).rejects.toThrow("token has expired");
  });
});
