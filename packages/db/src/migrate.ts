import { createHash } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import pg from "pg";

/** Where the numbered .sql migrations live (packages/db/migrations). */
export const MIGRATIONS_DIR = new URL("../migrations/", import.meta.url);

// Any two processes migrating one database serialize on this session lock.
const MIGRATION_LOCK_KEY = 4_242_001;

// A migration whose first line is this marker runs outside a transaction
// (CREATE INDEX CONCURRENTLY cannot run inside one).
const NO_TRANSACTION_MARKER = "-- migrate:no-transaction";

// Every migration runs with this lock_timeout unless told otherwise. A DDL
// statement queued behind a long transaction's lock would otherwise block
// every query of the service on that table, queued behind it in turn, for as
// long as that transaction lasts; failing after a few seconds and retrying
// the deployment costs nothing.
export const DEFAULT_MIGRATION_LOCK_TIMEOUT_MS = 5_000;

export interface MigrateOptions {
  /** lock_timeout of each migration's statements (not of the wait for the migration advisory lock). */
  lockTimeoutMs?: number;
}

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
}

/** loadMigrations reads NNNN_name.sql files in version order. */
export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const sql = await readFile(new URL(file, dir), "utf8");
      return {
        version: file.slice(0, 4),
        name: file.slice(5, -4),
        sql,
        checksum: createHash("sha256").update(sql).digest("hex"),
      };
    }),
  );
}

/**
 * migrate applies the migrations not yet recorded in schema_migrations, each in
 * its own transaction. Safe to run twice and from several processes at once:
 * an advisory lock serializes them, and the second finds nothing to do. An
 * applied migration whose file changed is an error, never silently re-run.
 * Each migration runs with lock_timeout (options.lockTimeoutMs): one that
 * cannot get its locks in time fails, recording nothing, and may be retried.
 */
export async function migrate(
  connectionString: string,
  dir: URL = MIGRATIONS_DIR,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_MIGRATION_LOCK_TIMEOUT_MS;
  if (!Number.isInteger(lockTimeoutMs) || lockTimeoutMs <= 0) {
    throw new Error(`lockTimeoutMs must be a positive integer, not ${lockTimeoutMs}`);
  }
  const migrations = await loadMigrations(dir);
  const client = new pg.Client({ connectionString, application_name: "driver-analytics-migrate" });
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        version    text PRIMARY KEY,
        name       text NOT NULL,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ version: string; checksum: string }>(
      "SELECT version, checksum FROM schema_migrations",
    );
    const recorded = new Map(rows.map((r) => [r.version, r.checksum]));
    const result: MigrateResult = { applied: [], alreadyApplied: [] };
    for (const migration of migrations) {
      const checksum = recorded.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new Error(
            `migration ${migration.version}_${migration.name} was edited after it was applied; add a new migration instead`,
          );
        }
        result.alreadyApplied.push(migration.version);
        continue;
      }
      await applyMigration(client, migration, lockTimeoutMs);
      result.applied.push(migration.version);
    }
    return result;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

async function applyMigration(client: pg.Client, migration: Migration, lockTimeoutMs: number): Promise<void> {
  const record = () =>
    client.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
      migration.version,
      migration.name,
      migration.checksum,
    ]);
  const failed = (error: unknown) =>
    new Error(`migration ${migration.version}_${migration.name} failed: ${(error as Error).message}`, { cause: error });
  const timeout = `${lockTimeoutMs}ms`;
  if (migration.sql.startsWith(NO_TRANSACTION_MARKER)) {
    // For the session, and back to the default afterwards: the wait for the
    // advisory lock of the next migrate() must not time out.
    await client.query("SELECT set_config('lock_timeout', $1, false)", [timeout]);
    try {
      await client.query(migration.sql);
      await record();
    } catch (error) {
      throw failed(error);
    } finally {
      await client.query("RESET lock_timeout").catch(() => undefined);
    }
    return;
  }
  await client.query("BEGIN");
  try {
    // SET LOCAL: ends with the transaction.
    await client.query("SELECT set_config('lock_timeout', $1, true)", [timeout]);
    await client.query(migration.sql);
    await record();
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw failed(error);
  }
}
