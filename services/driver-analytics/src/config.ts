import os from "node:os";
import { defaultAdmissionOptions, type AdmissionOptions } from "./ops/admission-control.js";
import { DEFAULT_MAX_CONCURRENT_STREAMS } from "./http/listener.js";
import { STRATEGIES, type Strategy } from "./handlers/analytics-queries.js";
import { readAuthConfig, type AuthConfig } from "./auth/auth-config.js";
import { DEFAULT_HEALTH_MAX_WATCHERS } from "./ops/health.js";

/** Config is everything the server reads from its environment, validated. */
export interface Config {
  host: string;
  port: number;
  /** Absent: start an embedded PostgreSQL in dataDir. */
  databaseUrl: string | undefined;
  /** Embedded PostgreSQL's directory; absent: <repository>/.data/postgres. */
  dataDir: string | undefined;
  strategy: Strategy;
  poolSize: number;
  acquireTimeoutMs: number;
  maxWaiting: number;
  statementTimeoutMs: number;
  /** Secret for signing page tokens; absent: a random one per process. */
  pageTokenSecret: string | undefined;
  logLevel: string;
  shutdownGraceMs: number;
  maxConcurrentStreams: number;
  sessionMemoryMb: number;
  /** Seed a small demo dataset into an empty embedded database. */
  demoSeed: boolean;
  /** ADMISSION_*: calls running at once, calls queued, longest queue wait; defaults from DB_POOL_SIZE. */
  admission: AdmissionOptions;
  /** HEALTH_PROBE_*: how often the health probe runs SELECT 1, and how long it may take. */
  healthProbe: { intervalMs: number; timeoutMs: number };
  /** HEALTH_MAX_WATCHERS: most health Watch streams open at once; beyond it RESOURCE_EXHAUSTED. */
  healthMaxWatchers: number;
  /** Bearer token verification (AUTH_*). */
  auth: AuthConfig;
  /** CORS_ALLOWED_ORIGINS: browser origins that may call cross-origin; "*" for any. */
  corsAllowedOrigins: string[];
  /** DASHBOARD_DIR: the built dashboard to serve; demo mode serves the bundled one when unset. */
  dashboardDir: string | undefined;
}

/** ConfigError lists every invalid variable at once, each with what was expected. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** loadConfig reads and validates the environment. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const read = (name: string) => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected one of ${allowed.join(", ")}`);
      return fallback;
    }
    return raw as T;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (["1", "true", "yes"].includes(raw)) return true;
    if (["0", "false", "no"].includes(raw)) return false;
    problems.push(`${name}=${JSON.stringify(raw)}: expected true or false`);
    return fallback;
  };

  const databaseUrl = read("DATABASE_URL");
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push("DATABASE_URL: expected a postgres:// or postgresql:// URL");
  }
  const pageTokenSecret = read("PAGE_TOKEN_SECRET");
  if (pageTokenSecret !== undefined && Buffer.byteLength(pageTokenSecret) < 32) {
    problems.push("PAGE_TOKEN_SECRET: expected at least 32 bytes");
  }
  // PostgreSQL finishes work fastest a few statements at a time: about two per
  // core (measured: 4 served more than 8 on 2 cores).
  const poolSize = int("DB_POOL_SIZE", Math.max(2, 2 * os.availableParallelism()), 1, 1000);
  const defaultAdmission = defaultAdmissionOptions(poolSize);
  const demo = databaseUrl === undefined;
  const auth = readAuthConfig(read, problems, demo);
  // Demo mode lets the dashboard's Vite dev server (npm run dev) call in.
  const corsAllowedOrigins = (read("CORS_ALLOWED_ORIGINS") ?? (demo ? "http://localhost:5173,http://127.0.0.1:5173" : ""))
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
  for (const origin of corsAllowedOrigins) {
    if (origin !== "*" && !isOrigin(origin)) {
      problems.push(`CORS_ALLOWED_ORIGINS: ${JSON.stringify(origin)} is not an origin (scheme://host[:port], no path) or *`);
    }
  }
  const config: Config = {
    host: read("HOST") ?? "127.0.0.1",
    port: int("PORT", 8080, 0, 65535),
    databaseUrl,
    dataDir: read("DATA_DIR"),
    strategy: oneOf("STRATEGY", STRATEGIES, "rollup"),
    poolSize,
    // Admission control bounds who waits for a connection (2 calls per
    // connection); this only catches a database that stopped answering.
    acquireTimeoutMs: int("DB_ACQUIRE_TIMEOUT_MS", 10_000, 1, 600_000),
    maxWaiting: int("DB_MAX_WAITING", poolSize * 128, 0, 1_000_000),
    statementTimeoutMs: int("DB_STATEMENT_TIMEOUT_MS", 5_000, 1, 3_600_000),
    pageTokenSecret,
    logLevel: oneOf("LOG_LEVEL", LOG_LEVELS, "info"),
    shutdownGraceMs: int("SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    maxConcurrentStreams: int("HTTP2_MAX_CONCURRENT_STREAMS", DEFAULT_MAX_CONCURRENT_STREAMS, 1, 1_000_000),
    sessionMemoryMb: int("HTTP2_SESSION_MEMORY_MB", 64, 1, 4_096),
    demoSeed: bool("DEMO_SEED", databaseUrl === undefined),
    admission: {
      maxConcurrency: int("ADMISSION_MAX_CONCURRENCY", defaultAdmission.maxConcurrency, 1, 1_000_000),
      maxQueue: int("ADMISSION_MAX_QUEUE", defaultAdmission.maxQueue, 0, 10_000_000),
      maxQueueWaitMs: int("ADMISSION_MAX_QUEUE_WAIT_MS", defaultAdmission.maxQueueWaitMs, 1, 600_000),
    },
    healthProbe: {
      intervalMs: int("HEALTH_PROBE_INTERVAL_MS", 1_000, 50, 600_000),
      timeoutMs: int("HEALTH_PROBE_TIMEOUT_MS", 1_000, 10, 600_000),
    },
    healthMaxWatchers: int("HEALTH_MAX_WATCHERS", DEFAULT_HEALTH_MAX_WATCHERS, 1, 1_000_000),
    auth,
    corsAllowedOrigins,
    dashboardDir: read("DASHBOARD_DIR"),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === text;
  } catch {
    return false;
  }
}
