import { readFileSync } from "node:fs";
import os from "node:os";
import { defaultAdmissionOptions, type AdmissionOptions } from "./ops/admission/admission-controller.js";
import { DEFAULT_CONNECTION_LIMITS, DEFAULT_MAX_CONCURRENT_STREAMS, type ConnectionLimits } from "./http/listener.js";
import { STRATEGIES, type Strategy } from "./handlers/analytics-queries.js";
import { readAuthConfig, type AuthConfig } from "./auth/auth-config.js";
import { DEFAULT_HEALTH_MAX_WATCHERS } from "./ops/health.js";

/** GrpcServerKind: the framework that serves gRPC (Connect and gRPC-Web are always connect-node's). */
export type GrpcServerKind = "grpc-js" | "connect";
export const GRPC_SERVER_KINDS: readonly GrpcServerKind[] = ["grpc-js", "connect"];

/** Config is everything the server reads from its environment, validated. */
export interface Config {
  host: string;
  port: number;
  /** Absent: start an embedded PostgreSQL in dataDir. */
  databaseUrl: string | undefined;
  /** Embedded PostgreSQL's directory; absent: <repository>/.data/postgres. */
  dataDir: string | undefined;
  strategy: Strategy;
  /** WORKERS: server processes on the port (node:cluster); 1 runs no cluster. */
  workers: number;
  /** Pool connections of this process to each database server: DB_POOL_SIZE divided among the workers. */
  poolSize: number;
  /** DB_POOL_SIZE as given (or its default): the whole process group's connections to each database server. */
  poolSizeTotal: number;
  /** DATABASE_REPLICA_URLS: streaming replicas that serve the reads. */
  replicaUrls: string[];
  /** REPLICA_WAIT_MS: longest a read with a consistency token waits for a replica, then it reads the primary. */
  replicaWaitMs: number;
  /** REPLICA_MAX_LAG_MS: a replica further behind the primary is skipped until it catches up. */
  replicaMaxLagMs: number;
  acquireTimeoutMs: number;
  maxWaiting: number;
  statementTimeoutMs: number;
  /** Secret for signing page tokens; absent: a random one per process. */
  pageTokenSecret: string | undefined;
  logLevel: string;
  shutdownGraceMs: number;
  /** SHUTDOWN_DRAIN_DELAY_MS: how long health is NOT_SERVING before the port stops accepting. */
  shutdownDrainDelayMs: number;
  /** MAX_CONNECTIONS and the connection time limits of the RPC port. */
  connectionLimits: ConnectionLimits;
  /** ADMIN_PORT: serve /metrics and /healthz there (and not on the RPC port); absent: no admin port. */
  adminPort: number | undefined;
  /** ADMIN_HOST: the admin port's address; default HOST. */
  adminHost: string;
  maxConcurrentStreams: number;
  sessionMemoryMb: number;
  /** Seed a small demo dataset into an empty embedded database. */
  demoSeed: boolean;
  /** ADMISSION_*: calls running at once, calls queued, longest queue wait; defaults from DB_POOL_SIZE. */
  admission: AdmissionOptions;
  /** Which framework serves gRPC: grpc-js (default) or connect-node. */
  grpcServer: GrpcServerKind;
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
  // DB_POOL_SIZE is the whole process group's: WORKERS processes share it, so
  // more workers never open more connections (at least one each).
  const poolSizeTotal = int("DB_POOL_SIZE", Math.max(2, 2 * os.availableParallelism()), 1, 1000);
  const workersRaw = read("WORKERS");
  let workers = 1;
  if (workersRaw === "auto") workers = os.availableParallelism();
  else if (workersRaw !== undefined) {
    workers = Number(workersRaw);
    if (!/^\d+$/.test(workersRaw) || workers < 1 || workers > 256) {
      problems.push(`WORKERS=${JSON.stringify(workersRaw)}: expected an integer from 1 to 256, or auto (one per core)`);
      workers = 1;
    }
  }
  const poolSize = Math.max(1, Math.floor(poolSizeTotal / workers));
  const replicaUrls = (read("DATABASE_REPLICA_URLS") ?? "")
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url !== "");
  for (const url of replicaUrls) {
    if (!/^postgres(ql)?:\/\//.test(url)) problems.push("DATABASE_REPLICA_URLS: expected comma-separated postgres:// or postgresql:// URLs");
  }
  if (replicaUrls.length > 0 && databaseUrl === undefined) {
    problems.push("DATABASE_REPLICA_URLS needs DATABASE_URL (the primary)");
  }
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
  const host = read("HOST") ?? "127.0.0.1";
  const adminPort = read("ADMIN_PORT") === undefined ? undefined : int("ADMIN_PORT", 0, 0, 65535);
  const config: Config = {
    host,
    port: int("PORT", 8080, 0, 65535),
    databaseUrl,
    dataDir: read("DATA_DIR"),
    strategy: oneOf("STRATEGY", STRATEGIES, "rollup"),
    workers,
    poolSize,
    poolSizeTotal,
    replicaUrls,
    replicaWaitMs: int("REPLICA_WAIT_MS", 200, 0, 60_000),
    replicaMaxLagMs: int("REPLICA_MAX_LAG_MS", 2_000, 1, 3_600_000),
    // Admission control bounds who waits for a connection (2 calls per
    // connection); this only catches a database that stopped answering.
    acquireTimeoutMs: int("DB_ACQUIRE_TIMEOUT_MS", 10_000, 1, 600_000),
    maxWaiting: int("DB_MAX_WAITING", poolSize * 128, 0, 1_000_000),
    statementTimeoutMs: int("DB_STATEMENT_TIMEOUT_MS", 5_000, 1, 3_600_000),
    pageTokenSecret,
    logLevel: oneOf("LOG_LEVEL", LOG_LEVELS, "info"),
    shutdownGraceMs: int("SHUTDOWN_GRACE_MS", 10_000, 0, 600_000),
    // Long enough for a balancer's health checks (or Kubernetes' endpoint
    // removal) to take the instance out before it stops accepting; a demo
    // stops at once.
    shutdownDrainDelayMs: int("SHUTDOWN_DRAIN_DELAY_MS", demo ? 0 : 5_000, 0, 600_000),
    connectionLimits: {
      maxConnections: int("MAX_CONNECTIONS", defaultMaxConnections(), 1, 1_000_000),
      firstBytesTimeoutMs: int("CONNECTION_FIRST_BYTES_TIMEOUT_MS", DEFAULT_CONNECTION_LIMITS.firstBytesTimeoutMs, 1, 600_000),
      http1HeadersTimeoutMs: int("HTTP1_HEADERS_TIMEOUT_MS", DEFAULT_CONNECTION_LIMITS.http1HeadersTimeoutMs, 1, 600_000),
      http1KeepAliveTimeoutMs: int("HTTP1_KEEPALIVE_TIMEOUT_MS", DEFAULT_CONNECTION_LIMITS.http1KeepAliveTimeoutMs, 1, 600_000),
      http2IdleTimeoutMs: int("HTTP2_IDLE_TIMEOUT_MS", DEFAULT_CONNECTION_LIMITS.http2IdleTimeoutMs, 1, 86_400_000),
    },
    adminPort,
    adminHost: read("ADMIN_HOST") ?? host,
    maxConcurrentStreams: int("HTTP2_MAX_CONCURRENT_STREAMS", DEFAULT_MAX_CONCURRENT_STREAMS, 1, 1_000_000),
    sessionMemoryMb: int("HTTP2_SESSION_MEMORY_MB", 64, 1, 4_096),
    demoSeed: bool("DEMO_SEED", databaseUrl === undefined),
    admission: admissionOptions(int, defaultAdmission),
    grpcServer: oneOf("GRPC_SERVER", GRPC_SERVER_KINDS, "grpc-js"),
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

// File descriptors kept for everything but client connections: the pool,
// PostgreSQL's own when embedded, the admin port, files, DNS.
const RESERVED_FDS = 256;

/**
 * defaultMaxConnections is DEFAULT_CONNECTION_LIMITS.maxConnections, or less
 * when the process may not open that many files (Node raises the soft limit
 * to the hard one at start; Linux reports it in /proc/self/limits), so a
 * flood is refused by the cap rather than by EMFILE on accept.
 */
function defaultMaxConnections(): number {
  const fallback = DEFAULT_CONNECTION_LIMITS.maxConnections;
  let limits: string;
  try {
    limits = readFileSync("/proc/self/limits", "latin1");
  } catch {
    return fallback;
  }
  const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
  if (soft === undefined) return fallback;
  return Math.max(1, Math.min(fallback, Number(soft) - RESERVED_FDS));
}

function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === text;
  } catch {
    return false;
  }
}

/**
 * admissionOptions: the adaptive limit's start, floor and ceiling, the
 * queue's cap and longest wait, and the event-loop delay past which new
 * calls are refused.
 */
function admissionOptions(
  int: (name: string, fallback: number, min: number, max: number) => number,
  defaults: AdmissionOptions,
): AdmissionOptions {
  const options: AdmissionOptions = {
    maxConcurrency: int("ADMISSION_MAX_CONCURRENCY", defaults.maxConcurrency, 1, 1_000_000),
    minConcurrency: int("ADMISSION_MIN_CONCURRENCY", defaults.minConcurrency, 1, 1_000_000),
    initialConcurrency: int("ADMISSION_INITIAL_CONCURRENCY", defaults.initialConcurrency, 1, 1_000_000),
    maxQueue: int("ADMISSION_MAX_QUEUE", defaults.maxQueue, 0, 10_000_000),
    maxQueueWaitMs: int("ADMISSION_MAX_QUEUE_WAIT_MS", defaults.maxQueueWaitMs, 1, 600_000),
    maxEventLoopDelayMs: int("ADMISSION_MAX_EVENT_LOOP_DELAY_MS", defaults.maxEventLoopDelayMs, 1, 600_000),
  };
  // Explicit settings win over derived ones: a lone ADMISSION_MAX_CONCURRENCY
  // below the defaults' floor pulls the floor and the start down with it.
  options.minConcurrency = Math.min(options.minConcurrency, options.maxConcurrency);
  options.initialConcurrency = Math.min(Math.max(options.initialConcurrency, options.minConcurrency), options.maxConcurrency);
  return options;
}
