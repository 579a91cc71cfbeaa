import { createTestDatabase, type TestDatabase } from "@driver-analytics/db/testing";
import { DEFAULT_EMBEDDED_DATA_DIR, withConnection } from "@driver-analytics/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSeedCommand, runSeed, UsageError } from "./seed-command.js";

describe("parseSeedCommand", () => {
  it("defaults to the reference dataset", () => {
    const command = parseSeedCommand([], { DATABASE_URL: "postgresql://x/y" });
    expect(command).toMatchObject({
      databaseUrl: "postgresql://x/y",
      wipe: false,
      append: false,
      dataset: { drivers: 1000, tripsPerDriver: 1000, reviewRatio: 1, cancelledRatio: 0, seed: 42 },
    });
  });

  it("honours the server's DATA_DIR, and --data-dir over it", () => {
    const dataDir = (argv: string[], env: NodeJS.ProcessEnv) => (parseSeedCommand(argv, env) as { dataDir: string }).dataDir;
    expect(dataDir([], { DATA_DIR: "/srv/pg" })).toBe("/srv/pg");
    expect(dataDir(["--data-dir", "/other"], { DATA_DIR: "/srv/pg" })).toBe("/other");
    expect(dataDir([], { DATA_DIR: " " })).toBe(DEFAULT_EMBEDDED_DATA_DIR);
    expect(parseSeedCommand([], { DATABASE_URL: "" })).toMatchObject({ databaseUrl: undefined });
  });

  it("rejects bad values and unknown flags by name", () => {
    expect(() => parseSeedCommand(["--drivers", "0"], {})).toThrow(/--drivers must be an integer from 1/);
    expect(() => parseSeedCommand(["--review-ratio", "1.5"], {})).toThrow(UsageError);
    expect(() => parseSeedCommand(["--trips-per-driver", "abc"], {})).toThrow(/--trips-per-driver/);
    expect(() => parseSeedCommand(["--bogus"], {})).toThrow(/bogus/);
    expect(() => parseSeedCommand(["--wipe", "--append"], {})).toThrow(/exclude/);
  });
});

describe("runSeed", () => {
  let testDb: TestDatabase;
  const quiet = () => undefined;

  beforeAll(async () => {
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    await testDb.drop();
  });

  async function totals() {
    const { rows } = await withConnection(testDb.connectionString, (client) =>
      client.query(
        `SELECT (SELECT count(*) FROM drivers)::int AS drivers, (SELECT count(*) FROM trips)::int AS trips,
                (SELECT count(*) FROM payments)::int AS payments, (SELECT count(*) FROM reviews)::int AS reviews`,
      ),
    );
    return rows[0];
  }

  it("seeds, refuses a non-empty database, then wipes or appends only when told", async () => {
    const base = { databaseUrl: testDb.connectionString, dataDir: "", wipe: false, append: false };
    const dataset = { drivers: 5, tripsPerDriver: 20, reviewRatio: 1, cancelledRatio: 0, seed: 1 };
    await runSeed({ ...base, dataset }, quiet);
    expect(await totals()).toEqual({ drivers: 5, trips: 100, payments: 100, reviews: 100 });

    await expect(runSeed({ ...base, dataset }, quiet)).rejects.toThrow(/already holds 5 drivers/);
    expect(await totals()).toEqual({ drivers: 5, trips: 100, payments: 100, reviews: 100 });

    const heavy = await runSeed({ ...base, append: true, dataset: { ...dataset, drivers: 1, tripsPerDriver: 300 } }, quiet);
    expect(heavy.firstDriverId).toBe(6n);
    expect(await totals()).toEqual({ drivers: 6, trips: 400, payments: 400, reviews: 400 });

    await runSeed({ ...base, wipe: true, dataset: { ...dataset, drivers: 2 } }, quiet);
    expect(await totals()).toEqual({ drivers: 2, trips: 40, payments: 40, reviews: 40 });
  });
});
