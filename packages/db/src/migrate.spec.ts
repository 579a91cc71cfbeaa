import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations, migrate } from "./migrate.js";
import { testAdminUrl, withAdmin } from "./testing/index.js";

// These tests need an unmigrated database, not the template clone.
describe("migrate", () => {
  let url: string;
  const name = `migrate_${process.pid}_${Date.now()}`;

  beforeAll(async () => {
    await withAdmin(testAdminUrl(), (c) => c.query(`CREATE DATABASE ${name}`));
    const u = new URL(testAdminUrl());
    u.pathname = `/${name}`;
    url = u.toString();
  });
  afterAll(async () => {
    await withAdmin(testAdminUrl(), (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  });

  it("applies every migration once, even from concurrent processes, and records it", async () => {
    const all = (await loadMigrations()).map((m) => m.version);
    const results = await Promise.all([migrate(url), migrate(url), migrate(url)]);
    const appliedCounts = results.map((r) => r.applied.length).sort();
    expect(appliedCounts).toEqual([0, 0, all.length]);

    const again = await migrate(url);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toEqual(all);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query("SELECT version FROM schema_migrations ORDER BY version");
    await client.end();
    expect(rows.map((r) => r.version)).toEqual(all);
  });

  it("refuses to continue when an applied migration was edited", async () => {
    await migrate(url);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("UPDATE schema_migrations SET checksum = 'edited' WHERE version = '0001'");
    await client.end();
    await expect(migrate(url)).rejects.toThrow(/was edited after it was applied/);
  });
});
