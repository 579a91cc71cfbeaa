// The health Watch streams a server holds open are capped (HEALTH_MAX_WATCHERS):
// beyond the cap Watch answers RESOURCE_EXHAUSTED at once; a closed stream
// gives its slot back; Check keeps answering.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { DriverAnalytics, Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@driver-analytics/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { DEFAULT_HEALTH_MAX_WATCHERS, HealthMonitor } from "./health.js";

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("health Watch streams", () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ healthProbe: { intervalMs: 100, timeoutMs: 500 } });
  });
  afterAll(async () => {
    await t.close();
  });

  it("has a default cap", () => {
    expect(new HealthMonitor([]).maxWatchers).toBe(DEFAULT_HEALTH_MAX_WATCHERS);
    expect(new HealthMonitor([], { maxWatchers: 7 }).maxWatchers).toBe(7);
  });

  it("refuses a Watch beyond the cap with RESOURCE_EXHAUSTED, and frees the slot of a closed stream", async () => {
    t.server.health.maxWatchers = 3;
    const grpcHealth = createClient(Health, createGrpcTransport({ baseUrl: t.baseUrl }));
    const webHealth = createClient(Health, createGrpcWebTransport({ baseUrl: t.baseUrl, httpVersion: "1.1" }));
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const streams = controllers.map((c, i) =>
      (i % 2 === 0 ? grpcHealth : webHealth).watch({ service: DriverAnalytics.typeName }, { signal: c.signal })[Symbol.asyncIterator](),
    );
    for (const stream of streams) expect((await stream.next()).value).toBeDefined();
    expect(t.server.health.watchers).toBe(3);

    for (const client of [grpcHealth, webHealth]) {
      const stream = client.watch({ service: "" });
      const refused = await stream[Symbol.asyncIterator]()
        .next()
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(refused?.code).toBe(Code.ResourceExhausted);
      expect(refused?.rawMessage).toMatch(/at most 3/);
    }
    // Check and List are not Watch: they still answer.
    expect((await grpcHealth.check({ service: "" })).status).toBeDefined();
    expect(t.server.health.watchers).toBe(3);

    // A client that goes away gives its slot back.
    controllers[0]!.abort();
    await waitFor(() => t.server.health.watchers === 2);
    const again = new AbortController();
    const stream = grpcHealth.watch({ service: "" }, { signal: again.signal })[Symbol.asyncIterator]();
    expect(Object.values(ServingStatus)).toContain((await stream.next()).value?.status);
    expect(t.server.health.watchers).toBe(3);
    again.abort();
    for (const c of controllers) c.abort();
    await waitFor(() => t.server.health.watchers === 0);
  });
});
