// The connection, shutdown and admin-port variables: defaults per mode, and
// bad values refused with the variable's name.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.js";
import { DEFAULT_CONNECTION_LIMITS } from "./http/listener.js";

const PRODUCTION = { DATABASE_URL: "postgres://u:p@db.internal:5432/analytics", AUTH_HS256_SECRET: "s".repeat(40) };

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("connection and shutdown configuration", () => {
  it("defaults: a drain delay in production, none in demo mode; no admin port", () => {
    const production = loadConfig(PRODUCTION);
    expect(production.shutdownDrainDelayMs).toBe(5_000);
    expect(production.adminPort).toBeUndefined();
    expect(production.connectionLimits).toMatchObject({
      firstBytesTimeoutMs: DEFAULT_CONNECTION_LIMITS.firstBytesTimeoutMs,
      http1HeadersTimeoutMs: DEFAULT_CONNECTION_LIMITS.http1HeadersTimeoutMs,
      http1KeepAliveTimeoutMs: DEFAULT_CONNECTION_LIMITS.http1KeepAliveTimeoutMs,
      http2IdleTimeoutMs: DEFAULT_CONNECTION_LIMITS.http2IdleTimeoutMs,
    });
    // At most the default, and below this process's open-file limit.
    expect(production.connectionLimits.maxConnections).toBeGreaterThan(0);
    expect(production.connectionLimits.maxConnections).toBeLessThanOrEqual(DEFAULT_CONNECTION_LIMITS.maxConnections);
    expect(loadConfig({}).shutdownDrainDelayMs).toBe(0);
  });

  it("reads every variable", () => {
    const config = loadConfig({
      ...PRODUCTION,
      HOST: "0.0.0.0",
      MAX_CONNECTIONS: "500",
      CONNECTION_FIRST_BYTES_TIMEOUT_MS: "1000",
      HTTP1_HEADERS_TIMEOUT_MS: "2000",
      HTTP1_KEEPALIVE_TIMEOUT_MS: "65000",
      HTTP2_IDLE_TIMEOUT_MS: "60000",
      SHUTDOWN_DRAIN_DELAY_MS: "250",
      ADMIN_PORT: "9090",
    });
    expect(config.connectionLimits).toEqual({
      maxConnections: 500,
      firstBytesTimeoutMs: 1_000,
      http1HeadersTimeoutMs: 2_000,
      http1KeepAliveTimeoutMs: 65_000,
      http2IdleTimeoutMs: 60_000,
    });
    expect(config.shutdownDrainDelayMs).toBe(250);
    expect(config).toMatchObject({ adminPort: 9090, adminHost: "0.0.0.0" });
    expect(loadConfig({ ...PRODUCTION, ADMIN_PORT: "0", ADMIN_HOST: "127.0.0.2" })).toMatchObject({
      adminPort: 0,
      adminHost: "127.0.0.2",
    });
  });

  it("refuses bad values, naming each", () => {
    const problems = problemsOf({
      ...PRODUCTION,
      MAX_CONNECTIONS: "0",
      CONNECTION_FIRST_BYTES_TIMEOUT_MS: "soon",
      HTTP2_IDLE_TIMEOUT_MS: "-1",
      SHUTDOWN_DRAIN_DELAY_MS: "1.5",
      ADMIN_PORT: "70000",
    });
    expect(problems.map((p) => p.split("=", 1)[0])).toEqual(
      expect.arrayContaining([
        "MAX_CONNECTIONS",
        "CONNECTION_FIRST_BYTES_TIMEOUT_MS",
        "HTTP2_IDLE_TIMEOUT_MS",
        "SHUTDOWN_DRAIN_DELAY_MS",
        "ADMIN_PORT",
      ]),
    );
  });
});
