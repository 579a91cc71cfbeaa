// A throwaway PostgreSQL primary and streaming replica from the system's
// PostgreSQL binaries (Debian's postgresql-15: /usr/lib/postgresql/15/bin),
// for tests and benchmarks of replica reads: initdb in a temporary directory,
// wal_level=replica, pg_basebackup -R -X stream, both on loopback ports.
// As root, every PostgreSQL binary runs as the postgres user.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, chmod, chown, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { findFreePort } from "../embedded.js";
import { migrate } from "../migrate.js";
import { withConnection } from "../connection.js";

const run = promisify(execFile);

export const SYSTEM_PG_BIN_CANDIDATES = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"];

/** systemPostgresBin: the directory with initdb, pg_ctl and pg_basebackup, or why there is none. */
export function systemPostgresBin(): { bin: string } | { missing: string } {
  const override = process.env.PG_BIN_DIR;
  const candidates = override !== undefined && override !== "" ? [override] : SYSTEM_PG_BIN_CANDIDATES;
  for (const dir of candidates) {
    if (["initdb", "pg_ctl", "pg_basebackup"].every((b) => existsSync(path.join(dir, b)))) return { bin: dir };
  }
  return { missing: `no PostgreSQL server binaries in ${candidates.join(", ")} (apt-get install postgresql-15)` };
}

export interface ReplicaPair {
  /** postgresql:// URL of the migrated database on the primary. */
  primaryUrl: string;
  /** The same database on the replica. */
  replicaUrl: string;
  primaryPort: number;
  replicaPort: number;
  /** Data directories, for finding the servers' processes (postmaster.pid). */
  primaryDir: string;
  replicaDir: string;
  stopReplica(mode?: "fast" | "immediate"): Promise<void>;
  startReplica(): Promise<void>;
  /** Sets recovery_min_apply_delay on the replica (0 to clear) and reloads it. */
  setApplyDelay(ms: number): Promise<void>;
  /** Waits until the replica has replayed everything the primary has written so far. */
  waitForReplay(timeoutMs?: number): Promise<void>;
  /** Stops both servers and removes their directories. */
  destroy(): Promise<void>;
}

const DATABASE = "driver_analytics";

/** startReplicaPair creates, starts and migrates a primary and its streaming replica. */
export async function startReplicaPair(options: { settings?: Record<string, string> } = {}): Promise<ReplicaPair> {
  const found = systemPostgresBin();
  if ("missing" in found) throw new Error(found.missing);
  const bin = found.bin;
  const isRoot = process.getuid?.() === 0;
  const root = await mkdtemp(path.join(os.tmpdir(), "da-replica-pair-"));
  await chmod(root, 0o755);
  if (isRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    await chown(root, Number(stdout.trim()), Number(gid.trim()));
  }
  const pg = (tool: string, args: string[]) =>
    isRoot
      ? run("runuser", ["-u", "postgres", "--", path.join(bin, tool), ...args], { cwd: root })
      : run(path.join(bin, tool), args, { cwd: root });

  const primaryDir = path.join(root, "primary");
  const replicaDir = path.join(root, "replica");
  const [primaryPort, replicaPort] = [await findFreePort(), await findFreePort()];
  await pg("initdb", ["-D", primaryDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"]);
  const common = {
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${root}'`,
    wal_level: "replica",
    max_wal_senders: "5",
    hot_standby: "on",
    // Fewer replay conflicts for reads on the replica.
    hot_standby_feedback: "on",
    // Throwaway data: durability costs only time here.
    fsync: "off",
    full_page_writes: "off",
    ...options.settings,
  };
  await appendConf(primaryDir, { ...common, port: String(primaryPort) });
  const start = (dir: string) => pg("pg_ctl", ["-D", dir, "-l", path.join(dir, "server.log"), "-w", "-t", "60", "start"]);
  const stop = (dir: string, mode: string) => pg("pg_ctl", ["-D", dir, "-m", mode, "-w", "-t", "60", "stop"]);
  try {
    await start(primaryDir);
    const admin = `postgresql://postgres@127.0.0.1:${primaryPort}/postgres`;
    await withConnection(admin, (client) => client.query(`CREATE DATABASE ${DATABASE}`));
    const primaryUrl = `postgresql://postgres@127.0.0.1:${primaryPort}/${DATABASE}`;
    await migrate(primaryUrl);
    await pg("pg_basebackup", ["-h", "127.0.0.1", "-p", String(primaryPort), "-U", "postgres", "-D", replicaDir, "-R", "-X", "stream", "-c", "fast"]);
    await appendConf(replicaDir, { port: String(replicaPort) });
    await start(replicaDir);
    const replicaUrl = `postgresql://postgres@127.0.0.1:${replicaPort}/${DATABASE}`;
    let replicaRunning = true;
    const pair: ReplicaPair = {
      primaryUrl,
      replicaUrl,
      primaryPort,
      replicaPort,
      primaryDir,
      replicaDir,
      async stopReplica(mode = "fast") {
        await stop(replicaDir, mode);
        replicaRunning = false;
      },
      async startReplica() {
        await start(replicaDir);
        replicaRunning = true;
      },
      async setApplyDelay(ms) {
        await withConnection(replicaUrl, async (client) => {
          await client.query(`ALTER SYSTEM SET recovery_min_apply_delay = '${Math.max(0, Math.floor(ms))}ms'`);
          await client.query("SELECT pg_reload_conf()");
        });
      },
      async waitForReplay(timeoutMs = 30_000) {
        const target = await withConnection(primaryUrl, async (c) => (await c.query("SELECT pg_current_wal_lsn()::text AS l")).rows[0].l as string);
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const done = await withConnection(replicaUrl, async (c) =>
            (await c.query("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok", [target])).rows[0].ok as boolean,
          );
          if (done) return;
          if (Date.now() > deadline) throw new Error(`replica did not replay ${target} within ${timeoutMs} ms`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      },
      async destroy() {
        if (replicaRunning) await stop(replicaDir, "immediate").catch(() => undefined);
        await stop(primaryDir, "immediate").catch(() => undefined);
        await rm(root, { recursive: true, force: true });
      },
    };
    await pair.waitForReplay();
    return pair;
  } catch (error) {
    await stop(replicaDir, "immediate").catch(() => undefined);
    await stop(primaryDir, "immediate").catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

async function appendConf(dir: string, settings: Record<string, string>): Promise<void> {
  const lines = Object.entries(settings).map(([key, value]) => `${key} = ${value}`);
  await appendFile(path.join(dir, "postgresql.conf"), `\n# driver-analytics replica pair\n${lines.join("\n")}\n`);
}
