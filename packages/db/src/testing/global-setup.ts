// vitest globalSetup: one PostgreSQL per test run and a migrated template
// database that every test file clones. Uses TEST_DATABASE_URL (any database
// on the server to test, e.g. the system PostgreSQL 15) when it is set,
// otherwise starts an embedded PostgreSQL in a temporary directory.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startEmbeddedPostgres } from "../embedded.js";
import { migrate } from "../migrate.js";
import { ADMIN_URL_ENV, TEMPLATE_DATABASE, withAdmin } from "./index.js";

export default async function setup(): Promise<() => Promise<void>> {
  let adminUrl = process.env.TEST_DATABASE_URL;
  let teardown = async () => {};
  if (adminUrl === undefined || adminUrl === "") {
    const dir = await mkdtemp(path.join(os.tmpdir(), "driver-analytics-test-"));
    // As root the server runs as user postgres, which must reach the data directory.
    await chmod(dir, 0o755);
    const server = await startEmbeddedPostgres({ dataDir: path.join(dir, "pg"), database: "postgres" });
    adminUrl = server.adminConnectionString;
    teardown = async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  process.env[ADMIN_URL_ENV] = adminUrl;

  await withAdmin(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  });
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE_DATABASE}`;
  await migrate(templateUrl.toString());
  return teardown;
}
