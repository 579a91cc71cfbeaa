// AUTH_JWKS_URL: keys fetched from the identity provider with jose's
// createRemoteJWKSet, against a real local node:http server that rotates its
// key mid-test. Cached (one fetch for many tokens), refetched when a token
// names an unknown kid (but not more often than the cooldown), refused as
// UNAVAILABLE (not UNAUTHENTICATED) when the keys cannot be fetched; and
// AUTH_MAX_TOKEN_AGE_SECONDS.
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Database } from "@driver-analytics/db";
import { createTestDatabase, insertFixtures, type TestDatabase } from "@driver-analytics/db/testing";
import { DriverAnalytics } from "@driver-analytics/proto";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../config.js";
import { createServer, type DriverAnalyticsServer } from "../server.js";
import { createTokenVerifier, InvalidTokenError, type TokenVerifier } from "./token-verifier.js";

const ISSUER = "https://id.example.com/";
const PRODUCTION = { DATABASE_URL: "postgres://u:p@db.internal:5432/analytics", AUTH_ISSUER: ISSUER };

interface Signer {
  kid: string;
  alg: "RS256" | "ES256";
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signer(kid: string, alg: "RS256" | "ES256"): Promise<Signer> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

function sign(s: Signer, claims: { sub?: string; iat?: number; ttl?: string } = {}): Promise<string> {
  const jwt = new SignJWT({ scope: "driver-analytics:read" })
    .setProtectedHeader({ alg: s.alg, kid: s.kid })
    .setSubject(claims.sub ?? "service:billing")
    .setIssuer(ISSUER)
    .setAudience("driver-analytics")
    .setExpirationTime(claims.ttl ?? "5m");
  if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
  return jwt.sign(s.privateKey);
}

/** A JWKS endpoint whose keys the test replaces, counting fetches; `fail` makes it answer 503. */
class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  fail = false;
  readonly #server = http.createServer((req, res) => {
    this.fetches++;
    if (this.fail || req.url !== "/.well-known/jwks.json") {
      res.writeHead(this.fail ? 503 : 404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: this.keys }));
  });
  url = "";

  async start(): Promise<void> {
    this.#server.listen(0, "127.0.0.1");
    await once(this.#server, "listening");
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }
  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, "close");
  }
}

function verifierFor(jwks: JwksServer, extra: Record<string, string> = {}): TokenVerifier {
  return createTokenVerifier(loadConfig({ ...PRODUCTION, AUTH_JWKS_URL: jwks.url, ...extra }).auth);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("AUTH_JWKS_URL", () => {
  const jwks = new JwksServer();
  beforeAll(() => jwks.start());
  afterAll(() => jwks.stop());

  it("is configured with cache, cooldown and timeout, and validated", () => {
    const config = loadConfig({ ...PRODUCTION, AUTH_JWKS_URL: "https://id.example.com/.well-known/jwks.json" });
    expect(config.auth.keys).toMatchObject({ kind: "remote-jwks", cacheMaxAgeMs: 600_000, cooldownMs: 30_000, timeoutMs: 5_000 });
    const tuned = loadConfig({
      ...PRODUCTION,
      AUTH_JWKS_URL: jwks.url,
      AUTH_JWKS_CACHE_MAX_AGE_SECONDS: "60",
      AUTH_JWKS_COOLDOWN_SECONDS: "0",
      AUTH_JWKS_TIMEOUT_MS: "250",
      AUTH_MAX_TOKEN_AGE_SECONDS: "3600",
    });
    expect(tuned.auth).toMatchObject({
      keys: { kind: "remote-jwks", cacheMaxAgeMs: 60_000, cooldownMs: 0, timeoutMs: 250 },
      maxTokenAgeSeconds: 3_600,
    });
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ ...PRODUCTION, ...env });
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ AUTH_JWKS_URL: "http://id.example.com/jwks.json" })).toEqual([
      'AUTH_JWKS_URL="http://id.example.com/jwks.json": expected an https:// URL (http:// only on localhost)',
    ]);
    expect(problems({ AUTH_JWKS_URL: "not a url" })[0]).toMatch(/expected an https:\/\/ URL/);
    expect(problems({ AUTH_JWKS_URL: jwks.url, AUTH_JWKS_FILE: "/x" })[0]).toMatch(/set only one of them/);
    expect(problems({ AUTH_JWKS_URL: jwks.url, AUTH_JWKS_COOLDOWN_SECONDS: "-1" })[0]).toMatch(/AUTH_JWKS_COOLDOWN_SECONDS/);
    expect(problems({ AUTH_JWKS_URL: jwks.url, AUTH_MAX_TOKEN_AGE_SECONDS: "0" })[0]).toMatch(/AUTH_MAX_TOKEN_AGE_SECONDS/);
    expect(problems({ AUTH_JWKS_URL: jwks.url, AUTH_ISSUER: "" })).toEqual([
      "AUTH_ISSUER: required with AUTH_PUBLIC_KEY_FILE, AUTH_JWKS_FILE or AUTH_JWKS_URL (the `iss` your tokens carry)",
    ]);
  });

  it("follows a key rotation: cached, refetched on an unknown kid once the cooldown has passed", async () => {
    const old = await signer("2025-01", "RS256");
    const next = await signer("2025-02", "ES256");
    jwks.keys = [old.jwk];
    jwks.fetches = 0;
    const verifier = verifierFor(jwks, { AUTH_JWKS_COOLDOWN_SECONDS: "1" });

    // Many tokens, one fetch: the set is cached.
    for (let i = 0; i < 5; i++) {
      expect((await verifier.verify(await sign(old, { sub: `driver:${i + 1}` }))).driverId).toBe(BigInt(i + 1));
    }
    expect(jwks.fetches).toBe(1);

    // The provider rotates: the new key is published, the old one withdrawn.
    jwks.keys = [next.jwk];
    const rotated = await sign(next, { sub: "driver:7" });
    // Within the cooldown an unknown kid does not refetch: refused, the provider left alone.
    await expect(verifier.verify(rotated)).rejects.toThrow(new InvalidTokenError("token signature is invalid"));
    expect(jwks.fetches).toBe(1);
    // Once it has passed, the unknown kid refetches, and the new key verifies.
    await sleep(1_100);
    expect((await verifier.verify(rotated)).driverId).toBe(7n);
    expect(jwks.fetches).toBe(2);
    // A token of the withdrawn key is refused now (within the cooldown: no new fetch).
    await expect(verifier.verify(await sign(old))).rejects.toThrow("token signature is invalid");
    expect(jwks.fetches).toBe(2);
    // A forged kid cannot make us hammer the provider: at most one fetch per cooldown.
    const forged = await signer("forged", "ES256");
    for (let i = 0; i < 20; i++) await expect(verifier.verify(await sign(forged))).rejects.toThrow(InvalidTokenError);
    expect(jwks.fetches).toBeLessThanOrEqual(3);
  });

  it("answers UNAVAILABLE, not UNAUTHENTICATED, while the keys cannot be fetched", async () => {
    const key = await signer("k1", "ES256");
    jwks.keys = [key.jwk];
    jwks.fail = true;
    const verifier = verifierFor(jwks, { AUTH_JWKS_COOLDOWN_SECONDS: "0" });
    const error = await verifier.verify(await sign(key)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unavailable);
    expect((error as ConnectError).metadata.get("grpc-retry-pushback-ms")).toBe("1000");
    jwks.fail = false;
    expect((await verifier.verify(await sign(key))).subject).toBe("service:billing");
  });

  it("refuses tokens older than AUTH_MAX_TOKEN_AGE_SECONDS, and tokens without iat then", async () => {
    const key = await signer("k2", "RS256");
    jwks.keys = [key.jwk];
    const verifier = verifierFor(jwks, { AUTH_MAX_TOKEN_AGE_SECONDS: "60" });
    const now = Math.floor(Date.now() / 1000);
    expect((await verifier.verify(await sign(key, { iat: now - 10 }))).subject).toBe("service:billing");
    await expect(verifier.verify(await sign(key, { iat: now - 3_600, ttl: "2h" }))).rejects.toThrow("token is too old");
    await expect(verifier.verify(await sign(key))).rejects.toThrow(/claim "iat" is missing/);
  });

  describe("through the server", () => {
    let testDb: TestDatabase;
    let db: Database;
    let server: DriverAnalyticsServer;
    let baseUrl = "";

    beforeAll(async () => {
      testDb = await createTestDatabase();
      await insertFixtures(testDb.connectionString, { drivers: [{ id: 7n }] });
      db = new Database({ connectionString: testDb.connectionString, poolSize: 2, acquireTimeoutMs: 2_000, maxWaiting: 10, statementTimeoutMs: 5_000 });
      server = createServer({
        db,
        logger: pino({ level: "silent" }),
        auth: verifierFor(jwks, { AUTH_JWKS_COOLDOWN_SECONDS: "0" }),
        processMetrics: false,
      });
      baseUrl = `http://127.0.0.1:${(await server.listener.listen(0, "127.0.0.1")).port}`;
    });
    afterAll(async () => {
      await server.close(1_000);
      await db.close();
      await testDb.drop();
    });

    it("verifies a driver's token signed by a key published mid-test", async () => {
      const first = await signer("a", "ES256");
      const second = await signer("b", "RS256");
      jwks.keys = [first.jwk];
      const call = async (token: string) =>
        createClient(DriverAnalytics, createConnectTransport({ baseUrl, httpVersion: "1.1" })).getStats(
          { driverId: 7n },
          { headers: { authorization: `Bearer ${token}` } },
        );
      expect((await call(await sign(first, { sub: "driver:7" }))).stats?.totalTrips).toBe(0n);
      jwks.keys = [first.jwk, second.jwk];
      expect((await call(await sign(second, { sub: "driver:7" }))).stats?.totalTrips).toBe(0n);
      const stranger = await signer("c", "RS256");
      const refused = await call(await sign(stranger, { sub: "driver:7" })).catch((e: unknown) => ConnectError.from(e));
      expect(refused).toBeInstanceOf(ConnectError);
      expect((refused as ConnectError).code).toBe(Code.Unauthenticated);
    });
  });
});
