import { copyFile, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations, migrate, MIGRATIONS_DIR } from "./migrate.js";
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

  // A migration queued behind a long transaction's lock must give up after
  // lock_timeout instead of blocking every query on the table behind it.
  it.each([
    ["in a transaction", ""],
    ["outside a transaction", "-- migrate:no-transaction\n"],
  ])("runs every migration with a lock_timeout (%s), failing cleanly and recording nothing", async (_, marker) => {
    // A database of its own: the other tests here edit the recorded history.
    const own = `${name}_lock_${marker === "" ? "tx" : "notx"}`;
    await withAdmin(testAdminUrl(), (c) => c.query(`CREATE DATABASE ${own}`));
    const ownUrl = new URL(testAdminUrl());
    ownUrl.pathname = `/${own}`;
    const url = ownUrl.toString();
    await migrate(url);
    const dir = await mkdtemp(path.join(os.tmpdir(), "migrations-"));
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      for (const file of await readdir(MIGRATIONS_DIR)) {
        if (file.endsWith(".sql")) await copyFile(new URL(file, MIGRATIONS_DIR), path.join(dir, file));
      }
      const column = `probe_${marker === "" ? "tx" : "notx"}`;
      await writeFile(path.join(dir, "9999_lock_probe.sql"), `${marker}ALTER TABLE drivers ADD COLUMN ${column} text;\n`);
      const probeDir = pathToFileURL(`${dir}/`);

      // A reader in a long transaction: ACCESS SHARE, which ALTER TABLE's
      // ACCESS EXCLUSIVE must wait for.
      await holder.query("BEGIN");
      await holder.query("SELECT count(*) FROM drivers");
      const started = Date.now();
      await expect(migrate(url, probeDir, { lockTimeoutMs: 300 })).rejects.toThrow(
        /9999_lock_probe failed: canceling statement due to lock timeout/,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query("SELECT 1 FROM schema_migrations WHERE version = '9999'");
      const { rows: columns } = await client.query(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'drivers' AND column_name = $1",
        [column],
      );
      await client.end();
      expect(rows).toEqual([]);
      expect(columns).toEqual([]);

      // Once the reader is gone, the same migration goes through.
      await holder.query("COMMIT");
      expect((await migrate(url, probeDir, { lockTimeoutMs: 300 })).applied).toEqual(["9999"]);
    } finally {
      await holder.end();
      await rm(dir, { recursive: true, force: true });
      await withAdmin(testAdminUrl(), (c) => c.query(`DROP DATABASE IF EXISTS ${own} WITH (FORCE)`));
    }
  });

  it("refuses to run without a lock_timeout, and no migration file turns it off", async () => {
    await expect(migrate(url, MIGRATIONS_DIR, { lockTimeoutMs: 0 })).rejects.toThrow(/lockTimeoutMs/);
    for (const migration of await loadMigrations()) {
      expect(migration.sql, `${migration.version}_${migration.name}`).not.toMatch(/lock_timeout\s*(=|to)\s*'?0\b|reset\s+lock_timeout|set\s+lock_timeout\s+to\s+default/i);
    }
  });
});
