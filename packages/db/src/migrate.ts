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
 */
export async function migrate(connectionString: string, dir: URL = MIGRATIONS_DIR): Promise<MigrateResult> {
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
      await applyMigration(client, migration);
      result.applied.push(migration.version);
    }
    return result;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}

async function applyMigration(client: pg.Client, migration: Migration): Promise<void> {
  const record = () =>
    client.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
      migration.version,
      migration.name,
      migration.checksum,
    ]);
  if (migration.sql.startsWith(NO_TRANSACTION_MARKER)) {
    await client.query(migration.sql);
    await record();
    return;
  }
  await client.query("BEGIN");
  try {
    await client.query(migration.sql);
    await record();
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw new Error(`migration ${migration.version}_${migration.name} failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
