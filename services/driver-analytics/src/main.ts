#!/usr/bin/env node
// The DriverAnalytics server process: configuration from the environment,
// PostgreSQL from DATABASE_URL (or an embedded one with demo data), one port
// for gRPC, gRPC-Web and Connect, and a graceful stop on SIGTERM/SIGINT.
import cluster from "node:cluster";
import { createHash, randomBytes } from "node:crypto";
import {
  DEFAULT_EMBEDDED_DATA_DIR,
  Database,
  ReadRouter,
  replicaName,
  migrate,
  seedDataset,
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from "@driver-analytics/db";
import { pino } from "pino";
import { ConfigError, loadConfig } from "./config.js";
import { bundledDashboardDir, mintDemoTokens, type DemoTokens } from "./auth/demo-access.js";
import { AdminServer } from "./http/ops-endpoints.js";
import { createServer } from "./server.js";
import { createTokenVerifier } from "./auth/token-verifier.js";
import { runClusterPrimary } from "./cluster/primary.js";
import { exposeClusterMetrics } from "./cluster/worker.js";
import { registerReplicaMetrics } from "./replicas/metrics.js";
import { startTracingFromEnv, tracingWarnings } from "./ops/tracing.js";

// A demo small enough to seed in about a second, large enough to page through.
// Demo data ends now (when it is seeded) and spans the last 4 months: every
// period the dashboard offers has trips, about 5 a day per driver.
const DEMO_DATASET = { drivers: 20, tripsPerDriver: 600, historyDays: 120, reviewRatio: 0.8, cancelledRatio: 0.04, seed: 1 };

async function main(): Promise<void> {
  let config = loadConfig();
  // WORKERS=N: this process supervises N workers that serve the port; each
  // worker runs the rest of main as a single server would.
  const clusterPrimary = config.workers > 1 && cluster.isPrimary;
  const logger = pino({
    level: config.logLevel,
    base: { service: "driver-analytics", ...(cluster.isWorker ? { worker: cluster.worker?.id } : {}) },
  });
  if (clusterPrimary) {
    // Every worker must verify the same tokens and sign the same page tokens.
    if (config.auth.keys.kind === "hs256" && config.auth.keys.generated) {
      process.env.AUTH_HS256_SECRET = randomBytes(32).toString("hex");
      logger.warn("no AUTH_* key configured: demo mode verifies tokens with a random secret that dies with this process group");
    }
    if (config.pageTokenSecret === undefined) process.env.PAGE_TOKEN_SECRET = randomBytes(32).toString("hex");
    config = loadConfig();
  }
  // Tracing (OpenTelemetry): only when OTEL_EXPORTER_OTLP_ENDPOINT & co. ask for it, in every
  // process that serves (each worker; not the primary), before its server exists.
  const tracing = clusterPrimary ? undefined : await startTracingFromEnv(logger);
  if (tracing !== undefined) logger.info("tracing on: exporting spans with OTLP (OTEL_* variables)");
  for (const warning of tracing === undefined ? [] : tracingWarnings()) logger.warn(warning);

  let embedded: EmbeddedPostgresHandle | undefined;
  let databaseUrl = config.databaseUrl;
  if (databaseUrl === undefined) {
    const dataDir = config.dataDir ?? DEFAULT_EMBEDDED_DATA_DIR;
    logger.info({ dataDir }, "no DATABASE_URL: starting embedded PostgreSQL");
    embedded = await startEmbeddedPostgres({ dataDir });
    databaseUrl = embedded.connectionString;
  }

  const { applied } = await migrate(databaseUrl);
  if (applied.length > 0) logger.info({ applied }, "migrations applied");

  if (clusterPrimary) {
    const primaryDashboardDir = config.dashboardDir ?? (embedded !== undefined ? bundledDashboardDir() : undefined);
    if (config.demoSeed) {
      const seedDb = new Database({ connectionString: databaseUrl, poolSize: 1, acquireTimeoutMs: 10_000, maxWaiting: 10, statementTimeoutMs: 60_000 });
      await seedDemoData(seedDb, databaseUrl, logger).finally(() => seedDb.close());
    }
    logger.info(
      { workers: config.workers, poolSizeTotal: config.poolSizeTotal, poolSizePerWorker: config.poolSize },
      "starting workers",
    );
    runClusterPrimary({
      workers: config.workers,
      logger,
      graceMs: config.shutdownGraceMs,
      // Workers serve the database this process resolved (embedded or not) as
      // a plain DATABASE_URL server with this process's demo settings.
      workerEnv: {
        DATABASE_URL: databaseUrl,
        DEMO_SEED: "false",
        ...(primaryDashboardDir === undefined ? {} : { DASHBOARD_DIR: primaryDashboardDir }),
        ...(config.corsAllowedOrigins.length === 0 ? {} : { CORS_ALLOWED_ORIGINS: config.corsAllowedOrigins.join(",") }),
      },
      onListening: (address) => {
        if (embedded === undefined) return;
        void mintDemoTokens(config.auth, 1n).then((tokens) =>
          printDemoBanner(`${address.address}:${address.port}`, tokens, primaryDashboardDir !== undefined),
        );
      },
      onStopped: async () => {
        await embedded?.stop();
      },
    });
    return;
  }

  const db = new Database({
    connectionString: databaseUrl,
    poolSize: config.poolSize,
    acquireTimeoutMs: config.acquireTimeoutMs,
    maxWaiting: config.maxWaiting,
    statementTimeoutMs: config.statementTimeoutMs,
  });
  // DATABASE_REPLICA_URLS: reads on streaming replicas, each with a pool of the same size.
  const replicas =
    config.replicaUrls.length === 0
      ? undefined
      : new ReadRouter({
          primary: db,
          replicas: config.replicaUrls.map((url) => ({
            name: replicaName(url),
            db: new Database({
              connectionString: url,
              poolSize: config.poolSize,
              // A replica that does not answer is skipped, not waited for.
              acquireTimeoutMs: Math.min(config.acquireTimeoutMs, 2_000),
              maxWaiting: config.maxWaiting,
              statementTimeoutMs: config.statementTimeoutMs,
            }),
          })),
          maxLagMs: config.replicaMaxLagMs,
          waitMs: config.replicaWaitMs,
          onReplicaStateChange: (replica, healthy, reason) =>
            healthy
              ? logger.info({ replica, reason }, "replica serves reads")
              : logger.warn({ replica, reason }, "replica skipped: reads go to the primary"),
        });
  await replicas?.firstProbe;
  if (config.demoSeed) await seedDemoData(db, databaseUrl, logger);

  if (config.pageTokenSecret === undefined) {
    logger.warn("PAGE_TOKEN_SECRET is not set: page tokens are signed with a random key and die with this process");
  }
  if (config.auth.keys.kind === "hs256" && config.auth.keys.generated) {
    logger.warn("no AUTH_* key configured: demo mode verifies tokens with a random secret that dies with this process");
  }
  // Demo mode serves the bundled dashboard; otherwise only DASHBOARD_DIR's.
  const dashboardDir = config.dashboardDir ?? (embedded !== undefined ? bundledDashboardDir() : undefined);
  const demo = embedded !== undefined;
  const {
    listener,
    health,
    metrics,
    close: drainServer,
  } = createServer({
    db,
    logger,
    auth: createTokenVerifier(config.auth),
    corsAllowedOrigins: config.corsAllowedOrigins,
    ...(dashboardDir === undefined ? {} : { dashboardDir }),
    strategy: config.strategy,
    ...(replicas === undefined ? {} : { replicas }),
    ...(config.pageTokenSecret === undefined
      ? {}
      : { pageTokenKey: createHash("sha256").update(config.pageTokenSecret).digest() }),
    maxConcurrentStreams: config.maxConcurrentStreams,
    sessionMemoryMb: config.sessionMemoryMb,
    admission: config.admission,
    grpcServer: config.grpcServer,
    healthProbe: config.healthProbe,
    connectionLimits: config.connectionLimits,
    // /metrics: on the admin port when there is one, else on
    // the RPC port in demo mode only (in production it faces the callers).
    metricsOnRpcPort: demo && config.adminPort === undefined,
  });
  health.maxWatchers = config.healthMaxWatchers;
  if (replicas !== undefined) registerReplicaMetrics(metrics, replicas);
  exposeClusterMetrics(metrics);
  let admin: AdminServer | undefined;
  if (config.adminPort !== undefined) {
    admin = new AdminServer({ metrics, health });
    const adminAddress = await admin.listen(config.adminPort, config.adminHost);
    logger.info({ address: `${adminAddress.address}:${adminAddress.port}` }, "admin listening");
  } else if (!demo) {
    logger.warn("ADMIN_PORT is not set: /metrics is not served (health is, on the RPC port: gRPC and /healthz)");
  }
  const address = await listener.listen(config.port, config.host);
  const target = `${address.address}:${address.port}`;
  logger.info(
    {
      address: target,
      strategy: config.strategy,
      poolSize: config.poolSize,
      replicas: config.replicaUrls.map(replicaName),
      admission: config.admission,
      connections: config.connectionLimits,
    },
    "listening",
  );
  if (demo) {
    printDemoBanner(target, await mintDemoTokens(config.auth, 1n), dashboardDir !== undefined);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const { shutdownDrainDelayMs: drainDelayMs, shutdownGraceMs: graceMs } = config;
    // Should closing the pool or PostgreSQL hang, exit anyway, and say so.
    setTimeout(() => {
      logger.error("shutdown did not finish in time: exiting");
      process.exit(1);
    }, drainDelayMs + graceMs + 10_000).unref();
    // NOT_SERVING first, while the port still serves: balancers that check
    // health take the instance out before it stops accepting.
    health.shutdown();
    if (drainDelayMs > 0) {
      logger.info({ signal, drainDelayMs }, "shutting down: NOT_SERVING, still accepting for the drain delay");
      await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
    }
    logger.info({ signal, graceMs }, "shutting down: draining in-flight calls");
    await drainServer(graceMs);
    await tracing?.shutdown(); // flushes the last calls' spans
    await admin?.close();
    replicas?.stop();
    await Promise.all(replicas?.replicaDatabases().map((replica) => replica.close()) ?? []);
    await db.close();
    await embedded?.stop();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

async function seedDemoData(db: Database, databaseUrl: string, logger: pino.Logger): Promise<void> {
  const [row] = await db.query<{ empty: boolean }>("SELECT NOT EXISTS (SELECT 1 FROM drivers) AS empty", []);
  if (!row?.empty) return;
  const started = performance.now();
  await seedDataset(databaseUrl, DEMO_DATASET);
  logger.info(
    { ...DEMO_DATASET, ms: Math.round(performance.now() - started) },
    "seeded demo dataset into the empty database",
  );
}

function printDemoBanner(target: string, tokens: DemoTokens | undefined, dashboard: boolean): void {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), target.slice(target.lastIndexOf(":") + 1)];
  const base = `http://${host}:${port}`;
  if (tokens === undefined) {
    process.stdout.write(`\nDriverAnalytics is serving gRPC, gRPC-Web and Connect on ${base} (tokens from your AUTH_* keys)\n\n`);
    return;
  }
  const dashboardLine = dashboard
    ? `Driver ${tokens.driverId}'s dashboard:\n  ${base}/#token=${tokens.driver}\n\n`
    : "(the dashboard is not built: npx -y pnpm@10.34.8 --filter @driver-analytics/dashboard build)\n\n";
  process.stdout.write(`
DriverAnalytics is serving gRPC, gRPC-Web and Connect on ${base}
  demo data: drivers 1..${DEMO_DATASET.drivers}, ${DEMO_DATASET.tripsPerDriver} trips each

Tokens, valid 12 hours and only for this process (paste these two lines into your shell):
export DRIVER_TOKEN=${tokens.driver}
export SERVICE_TOKEN=${tokens.service}
  DRIVER_TOKEN reads driver ${tokens.driverId}'s data only; SERVICE_TOKEN (scope driver-analytics:read) reads any driver's.

${dashboardLine}Try it:
  curl -s -H "Authorization: Bearer $DRIVER_TOKEN" -H 'Content-Type: application/json' \\
    -d '{"driverId":"${tokens.driverId}"}' ${base}/driveranalytics.v1.DriverAnalytics/GetStats
  npx buf curl --protocol grpc --http2-prior-knowledge --schema proto -H "Authorization: Bearer $SERVICE_TOKEN" \\
    -d '{"driver_id":2,"page_size":3}' ${base}/driveranalytics.v1.DriverAnalytics/ListTrips

`);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`driver-analytics: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`driver-analytics: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
