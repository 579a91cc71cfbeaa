// Test-only slowness without production surface: another transaction holds
// ACCESS EXCLUSIVE locks on every table, so any query of the server waits in
// PostgreSQL (state active, wait_event_type Lock) until the lock is released
// or the query is cancelled.
import { withAdmin } from "@driver-analytics/db/testing";

/** SqlClient is the pg client withAdmin hands out (pg is the db package's dependency, not ours). */
export type SqlClient = Parameters<Parameters<typeof withAdmin>[1]>[0];

export interface SqlSession {
  client: SqlClient;
  close(): Promise<void>;
}

/** openSession keeps one connection open until close(). */
export async function openSession(connectionString: string): Promise<SqlSession> {
  let close!: () => void;
  const closed = new Promise<void>((resolve) => (close = resolve));
  let opened!: (client: SqlClient) => void;
  let failed!: (error: unknown) => void;
  const ready = new Promise<SqlClient>((resolve, reject) => {
    opened = resolve;
    failed = reject;
  });
  const session = withAdmin(connectionString, async (client) => {
    opened(client);
    await closed;
  }).catch((error: unknown) => failed(error));
  const client = await ready;
  return {
    client,
    async close() {
      close();
      await session;
    },
  };
}

export interface TableLock {
  release(): Promise<void>;
}

/** lockAllTables locks every table of the public schema until release(). */
export async function lockAllTables(connectionString: string): Promise<TableLock> {
  const session = await openSession(connectionString);
  const { rows } = await session.client.query<{ name: string }>(
    "SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname = 'public'",
  );
  await session.client.query("BEGIN");
  await session.client.query(`LOCK TABLE ${rows.map((r) => r.name).join(", ")} IN ACCESS EXCLUSIVE MODE`);
  return {
    async release() {
      await session.client.query("ROLLBACK");
      await session.close();
    },
  };
}

/** serverQueries lists the statements the server (application_name driver-analytics) is running now, health probes aside. */
export async function serverQueries(client: SqlClient, database: string): Promise<{ pid: number; waiting: boolean }[]> {
  const { rows } = await client.query<{ pid: number; waiting: boolean }>(
    `SELECT pid, wait_event_type IS NOT DISTINCT FROM 'Lock' AS waiting
       FROM pg_stat_activity
      WHERE datname = $1 AND application_name = 'driver-analytics' AND state = 'active' AND query <> 'SELECT 1'`,
    [database],
  );
  return rows;
}
