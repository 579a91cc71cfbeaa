import pg from "pg";

/**
 * withConnection runs fn on one new connection and always closes it: for
 * administration (create a database, migrate, seed), never for serving calls,
 * which go through Database's pool.
 */
export async function withConnection<T>(connectionString: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
