import { create } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type Client,
  type Transport,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Database, findFreePort } from "@driver-analytics/db";
import { insertFixtures } from "@driver-analytics/db/testing";
import {
  DriverAnalytics,
  GetStatsRequestSchema,
  Health,
  HealthCheckResponse_ServingStatus,
  ListTripsRequestSchema,
} from "@driver-analytics/proto";
import * as grpc from "@grpc/grpc-js";
import { SignJWT, base64url, generateKeyPair } from "jose";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRPC_SERVER_KINDS } from "../config.js";
import { ACCESS_POLICY, type AccessRule } from "../auth/access-policy.js";
import { connectRules } from "../connect/connect-rules.js";
import { bearerToken, createCallPipeline, type CallMetrics } from "../core/call-pipeline.js";
import { createServer } from "../server.js";
import { codeOf, createGrpcJsClient, startTestServer, type GrpcJsClient, type TestServer } from "../testing/harness.js";
import {
  bearer,
  driverToken,
  serviceToken,
  TEST_AUDIENCE,
  TEST_AUTH_SECRET,
  TEST_ISSUER,
  testVerifier,
} from "../testing/test-auth.js";

const { getStats, listTrips } = DriverAnalytics.method;
const T0 = 1_750_000_000_000_000n;


/** grpcJsCode: the status of a failed grpc-js call, as a Connect code (the numbers are gRPC's). */
async function grpcJsCode(promise: Promise<unknown>): Promise<Code> {
  try {
    await promise;
  } catch (error) {
    return (error as grpc.ServiceError).code as number as Code;
  }
  throw new Error("call succeeded");
}

interface TokenSpec {
  sub?: string;
  scope?: unknown;
  iss?: string;
  aud?: string;
  /** seconds from now; null: no exp */
  exp?: number | null;
  nbf?: number;
  secret?: Uint8Array;
}

async function craft(spec: TokenSpec = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {};
  if (spec.scope !== undefined) claims.scope = spec.scope;
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer(spec.iss ?? TEST_ISSUER)
    .setAudience(spec.aud ?? TEST_AUDIENCE)
    .setIssuedAt(now);
  if (spec.sub !== "") jwt.setSubject(spec.sub ?? "driver:1");
  if (spec.exp !== null) jwt.setExpirationTime(now + (spec.exp ?? 600));
  if (spec.nbf !== undefined) jwt.setNotBefore(now + spec.nbf);
  return jwt.sign(spec.secret ?? TEST_AUTH_SECRET);
}

function unsignedToken(payload: object): string {
  const part = (value: object) => base64url.encode(JSON.stringify(value));
  return `${part({ alg: "none", typ: "JWT" })}.${part(payload)}.`;
}

// gRPC served by each framework (Connect and gRPC-Web are connect-node's either way).
describe.each(GRPC_SERVER_KINDS)("authentication and authorization over real clients (gRPC on %s)", (grpcServer) => {
  let t: TestServer;
  let driver1: string;
  let driver2: string;
  let readService: string;
  let anonymousGrpcJs: GrpcJsClient;

  const connectWith = (token: string | undefined): Client<typeof DriverAnalytics> =>
    createClient(
      DriverAnalytics,
      createConnectTransport({
        baseUrl: t.baseUrl,
        httpVersion: "1.1",
        interceptors: token === undefined ? [] : [bearer(token)],
      }),
    );
  const grpcJsWith = (token: string) => ({ metadata: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    t = await startTestServer({ grpcServer });
    anonymousGrpcJs = createGrpcJsClient(`127.0.0.1:${t.port}`);
    await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: 1n }, { id: 2n }],
      trips: Array.from({ length: 12 }, (_, i) => ({
        driverId: i < 9 ? 1n : 2n,
        completedAtMicros: T0 + BigInt(i) * 1_000_000n,
      })),
    });
    [driver1, driver2, readService] = await Promise.all([driverToken(1n), driverToken(2n), serviceToken(["driver-analytics:read"])]);
  });

  afterAll(async () => {
    anonymousGrpcJs.close();
    await t.close();
  });

  it("refuses a call without a token with UNAUTHENTICATED on every protocol", async () => {
    const request = create(GetStatsRequestSchema, { driverId: 1n });
    expect(await grpcJsCode(anonymousGrpcJs.call(getStats, request))).toBe(Code.Unauthenticated);
    expect(await codeOf(connectWith(undefined).getStats(request))).toBe(Code.Unauthenticated);
    const grpcWeb = createClient(DriverAnalytics, createGrpcWebTransport({ baseUrl: t.baseUrl, httpVersion: "1.1" }));
    expect(await codeOf(grpcWeb.listTrips({ driverId: 1n }))).toBe(Code.Unauthenticated);
    const error = ConnectError.from(await connectWith(undefined).getStats(request).catch((e) => e));
    expect(error.rawMessage).toBe("missing bearer token (Authorization: Bearer <jwt>)");
  });

  it("refuses expired, not-yet-valid, wrong-issuer, wrong-audience, forged, alg=none and malformed tokens", async () => {
    const now = Math.floor(Date.now() / 1000);
    const valid = await craft();
    const [header, payload, signature] = valid.split(".") as [string, string, string];
    const otherPayload = base64url.encode(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(base64url.decode(payload))), sub: "driver:2" }));
    const { privateKey } = await generateKeyPair("RS256");
    const rs256 = await new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setSubject("driver:1")
      .setIssuer(TEST_ISSUER).setAudience(TEST_AUDIENCE).setExpirationTime(now + 600).sign(privateKey);
    const refused: Record<string, string> = {
      expired: await craft({ exp: -120 }),
      "not yet valid": await craft({ nbf: 120 }),
      "wrong issuer": await craft({ iss: "someone-else" }),
      "wrong audience": await craft({ aud: "another-service" }),
      "signed with another secret": await craft({ secret: new TextEncoder().encode("x".repeat(40)) }),
      "payload swapped under the old signature": `${header}.${otherPayload}.${signature}`,
      "signature stripped": `${header}.${payload}.`,
      "alg none": unsignedToken({ sub: "driver:1", iss: TEST_ISSUER, aud: TEST_AUDIENCE, exp: now + 600 }),
      "RS256 where HS256 is configured": rs256,
      "no exp": await craft({ exp: null }),
      "no sub": await craft({ sub: "" }),
      "driver subject not a driver id": await craft({ sub: "driver:abc" }),
      "driver subject not canonical": await craft({ sub: "driver:01" }),
      "driver subject zero": await craft({ sub: "driver:0" }),
      "scope not a string": await craft({ sub: "service:x", scope: ["driver-analytics:read"] }),
      "not a JWT": "hello",
      "two parts": `${header}.${payload}`,
      "not JSON inside": `${base64url.encode("{{")}.${payload}.${signature}`,
      "huge": "a".repeat(10_000) + ".b.c",
    };
    for (const [why, token] of Object.entries(refused)) {
      const request = create(GetStatsRequestSchema, { driverId: 1n });
      expect([why, await grpcJsCode(t.grpcJs.call(getStats, request, grpcJsWith(token)))]).toEqual([why, Code.Unauthenticated]);
      expect([why, await codeOf(connectWith(token).getStats(request))]).toEqual([why, Code.Unauthenticated]);
    }
    const expired = ConnectError.from(await connectWith(refused.expired!).getStats({ driverId: 1n }).catch((e) => e));
    expect(expired.rawMessage).toBe("token has expired");
    const wrongAudience = ConnectError.from(await connectWith(refused["wrong audience"]!).getStats({ driverId: 1n }).catch((e) => e));
    expect(wrongAudience.rawMessage).toBe("token audience is not accepted");
  });

  it("refuses other schemes and empty bearer headers", async () => {
    const request = create(GetStatsRequestSchema, { driverId: 1n });
    for (const authorization of [`Basic ${driver1}`, "Bearer", "Bearer ", `${driver1}`, `Bearer ${driver1} extra`]) {
      const code = await grpcJsCode(t.grpcJs.call(getStats, request, { metadata: { authorization } }));
      expect([authorization.slice(0, 12), code]).toEqual([authorization.slice(0, 12), Code.Unauthenticated]);
    }
    expect(bearerToken(`bearer ${driver1}`)).toBe(driver1); // the scheme is case-insensitive (RFC 7235)
  });

  it("authenticates from headers before reading the body", async () => {
    // A body that would fail to parse (INVALID_ARGUMENT) or exceed readMaxBytes
    // (RESOURCE_EXHAUSTED) if it were read: the answer is UNAUTHENTICATED.
    for (const body of ["{not json", "x".repeat(200_000)]) {
      const response = await fetch(`${t.baseUrl}/driveranalytics.v1.DriverAnalytics/GetStats`, {
        method: "POST",
        headers: { "content-type": "application/json", "connect-protocol-version": "1" },
        body,
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ code: "unauthenticated" });
    }
  });

  it("lets a driver read their own stats and trips, on grpc-js and Connect", async () => {
    const stats = await t.grpcJs.call(getStats, create(GetStatsRequestSchema, { driverId: 1n }), grpcJsWith(driver1));
    expect(stats.stats?.totalTrips).toBe(9n);
    const trips = await connectWith(driver1).listTrips({ driverId: 1n, pageSize: 100 });
    expect(trips.trips).toHaveLength(9);
    expect(trips.trips.every((trip) => trip.driverId === 1n)).toBe(true);
    expect((await connectWith(driver2).getStats({ driverId: 2n })).stats?.totalTrips).toBe(3n);
  });

  it("refuses a driver another driver's data with PERMISSION_DENIED, saying nothing of whether it exists", async () => {
    const messages = new Set<string>();
    for (const driverId of [2n, 999n, 0n, -1n]) {
      for (const call of [
        connectWith(driver1).getStats({ driverId }),
        connectWith(driver1).listTrips({ driverId }),
      ]) {
        const error = ConnectError.from(await call.catch((e) => e));
        expect(error.code).toBe(Code.PermissionDenied);
        messages.add(error.rawMessage);
      }
      const code = await grpcJsCode(t.grpcJs.call(listTrips, create(ListTripsRequestSchema, { driverId }), grpcJsWith(driver1)));
      expect(code).toBe(Code.PermissionDenied);
    }
    expect([...messages]).toEqual(["the caller may not access this driver's data"]);
  });

  it("lets a service with scope driver-analytics:read read any driver; other scopes are not enough", async () => {
    for (const driverId of [1n, 2n]) {
      const stats = await t.grpcJs.call(getStats, create(GetStatsRequestSchema, { driverId }), grpcJsWith(readService));
      expect(stats.stats?.totalTrips).toBe(driverId === 1n ? 9n : 3n);
    }
    // With the read scope the handler runs: an unknown driver is NOT_FOUND.
    expect(await codeOf(connectWith(readService).getStats({ driverId: 999n }))).toBe(Code.NotFound);
    for (const scope of [undefined, "driver-analytics:write", "driver-analytics:reader openid", "DRIVER-ANALYTICS:READ"]) {
      const token = await craft({ sub: "service:other", ...(scope === undefined ? {} : { scope }) });
      expect(await codeOf(connectWith(token).getStats({ driverId: 1n }))).toBe(Code.PermissionDenied);
    }
    const several = await craft({ sub: "service:other", scope: "openid  driver-analytics:read profile" });
    expect((await connectWith(several).getStats({ driverId: 2n })).stats?.totalTrips).toBe(3n);
  });

  it("makes one driver's page token useless to another", async () => {
    const first = await connectWith(driver1).listTrips({ driverId: 1n, pageSize: 2 });
    expect(first.nextPageToken).not.toBe("");
    // Driver 2 replaying it for driver 1's trips: refused before the token is looked at.
    const asDriver1 = connectWith(driver2).listTrips({ driverId: 1n, pageSize: 2, pageToken: first.nextPageToken });
    expect(await codeOf(asDriver1)).toBe(Code.PermissionDenied);
    // For their own trips: the token is bound to driver 1.
    const asDriver2 = connectWith(driver2).listTrips({ driverId: 2n, pageSize: 2, pageToken: first.nextPageToken });
    expect(await codeOf(asDriver2)).toBe(Code.InvalidArgument);
    // It still works for its owner.
    const second = await connectWith(driver1).listTrips({ driverId: 1n, pageSize: 2, pageToken: first.nextPageToken });
    expect(second.trips).toHaveLength(2);
  });
});

describe("authorization before the database", () => {
  it("answers PERMISSION_DENIED at once even when the database is unreachable", async () => {
    const deadPort = await findFreePort();
    const db = new Database({
      connectionString: `postgresql://postgres:postgres@127.0.0.1:${deadPort}/none`,
      poolSize: 1,
      acquireTimeoutMs: 5_000,
      maxWaiting: 10,
      statementTimeoutMs: 5_000,
    });
    const { listener } = createServer({ db, logger: pino({ level: "silent" }), auth: testVerifier() });
    const { port } = await listener.listen(0, "127.0.0.1");
    try {
      const client = createClient(
        DriverAnalytics,
        createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1", interceptors: [bearer(await driverToken(1n))] }),
      );
      const started = performance.now();
      expect(await codeOf(client.getStats({ driverId: 2n }))).toBe(Code.PermissionDenied);
      expect(await codeOf(client.listTrips({ driverId: 2n }))).toBe(Code.PermissionDenied);
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      await listener.close(1_000);
      await db.close();
    }
  });
});

describe("access policy", () => {
  it("declares a rule for every DriverAnalytics method (a new RPC must add its line)", () => {
    for (const method of DriverAnalytics.methods) {
      expect(ACCESS_POLICY.has(`${DriverAnalytics.typeName}/${method.name}`), method.name).toBe(true);
    }
    expect(ACCESS_POLICY.get("driveranalytics.v1.DriverAnalytics/CreateTrip")).toEqual({ kind: "scope", scope: "driver-analytics:write" });
    expect(ACCESS_POLICY.get("driveranalytics.v1.DriverAnalytics/CreateReview")).toEqual({ kind: "scope", scope: "driver-analytics:write" });
  });

  // In memory: the gate and interceptor over stub implementations, with policies the real one cannot express.
  const uncounted: CallMetrics = { started: () => undefined, finished: () => undefined, databaseError: () => undefined };
  function routerWith(policy: ReadonlyMap<string, AccessRule>): Transport {
    const pipeline = createCallPipeline({ verifier: testVerifier(), logger: pino({ level: "silent" }), metrics: uncounted, policy });
    const rules = connectRules(pipeline, [DriverAnalytics, Health]);
    return createRouterTransport(
      (router) => {
        router.service(DriverAnalytics, {
          getStats: () => ({ stats: { totalTrips: 1n } }),
          listTrips: () => ({}),
        });
        router.service(Health, {
          check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }),
        });
      },
      {
        router: {
          requestGate: rules.requestGate,
          interceptors: [rules.interceptor],
        },
      },
    );
  }

  it("refuses a method missing from the policy to everyone: UNAUTHENTICATED without a token, PERMISSION_DENIED with one", async () => {
    const policy = new Map(ACCESS_POLICY);
    policy.delete("driveranalytics.v1.DriverAnalytics/ListTrips");
    const transport = routerWith(policy);
    const anonymous = createClient(DriverAnalytics, transport);
    const all = await serviceToken();
    expect(await codeOf(anonymous.listTrips({ driverId: 1n }))).toBe(Code.Unauthenticated);
    expect(await codeOf(anonymous.listTrips({ driverId: 1n }, { headers: { authorization: `Bearer ${all}` } }))).toBe(
      Code.PermissionDenied,
    );
    // GetStats, still declared, works.
    const stats = await anonymous.getStats({ driverId: 1n }, { headers: { authorization: `Bearer ${all}` } });
    expect(stats.stats?.totalTrips).toBe(1n);
  });

  it("asks a write scope of a scope rule, and nothing of public methods (health)", async () => {
    const policy = new Map(ACCESS_POLICY);
    policy.set("driveranalytics.v1.DriverAnalytics/GetStats", { kind: "scope", scope: "driver-analytics:write" });
    const transport = routerWith(policy);
    const client = createClient(DriverAnalytics, transport);
    const readOnly = { headers: { authorization: `Bearer ${await serviceToken(["driver-analytics:read"])}` } };
    const writer = { headers: { authorization: `Bearer ${await serviceToken(["driver-analytics:write"])}` } };
    const driver = { headers: { authorization: `Bearer ${await driverToken(1n)}` } };
    expect(await codeOf(client.getStats({ driverId: 1n }, readOnly))).toBe(Code.PermissionDenied);
    expect(await codeOf(client.getStats({ driverId: 1n }, driver))).toBe(Code.PermissionDenied);
    expect((await client.getStats({ driverId: 1n }, writer)).stats?.totalTrips).toBe(1n);
    const health = createClient(Health, transport);
    expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await health.check({}, { headers: { authorization: "Bearer garbage" } })).status).toBe(
      HealthCheckResponse_ServingStatus.SERVING,
    );
  });
});
