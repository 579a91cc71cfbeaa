import { createTestDatabase, type TestDatabase } from "@driver-analytics/db/testing";
import { DEFAULT_EMBEDDED_DATA_DIR, withConnection } from "@driver-analytics/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEndDate, parseSeedCommand, runSeed, UsageError } from "./seed-command.js";

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

  it("anchors the history to now by default, and --end-date pins it", () => {
    const now = new Date("2026-12-01T20:15:00.000Z");
    const anchored = parseSeedCommand([], {}, () => now);
    expect(anchored).toMatchObject({ dataset: { historyEnd: "2026-12-01T20:15:00.000Z", historyDays: 730 } });
    const pinned = parseSeedCommand(["--end-date", "2025-11-30", "--history-days", "90"], {}, () => now);
    expect(pinned).toMatchObject({ dataset: { historyEnd: "2025-12-01T00:00:00.000Z", historyDays: 90 } });
    expect(parseEndDate("2025-11-30T12:00:00+05:30")).toBe("2025-11-30T06:30:00.000Z");
    expect(parseEndDate("2028-02-29")).toBe("2028-03-01T00:00:00.000Z");
    expect(() => parseEndDate("2027-02-29")).toThrow(/not a calendar date/);
    expect(() => parseEndDate("yesterday")).toThrow(/--end-date must be/);
    expect(() => parseEndDate("2025-11-30T12:00:00")).toThrow(/with a zone/);
    expect(() => parseSeedCommand(["--history-days", "0"], {})).toThrow(/--history-days/);
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

  // Every row the seed writes, in a stable order, as text.
  async function rowsDigest(): Promise<string> {
    const { rows } = await withConnection(testDb.connectionString, (client) =>
      client.query<{ digest: string }>(
        `SELECT md5(string_agg(concat_ws(',', t.id, t.driver_id, t.status, t.started_at, t.completed_at, t.distance_meters,
                                          p.fare_minor, p.tip_minor, r.rating), ';' ORDER BY t.id)) AS digest
         FROM trips t JOIN payments p ON p.trip_id = t.id LEFT JOIN reviews r ON r.trip_id = t.id`,
      ),
    );
    return rows[0]!.digest;
  }

  async function tripSpan(): Promise<{ oldest: Date; newest: Date }> {
    const { rows } = await withConnection(testDb.connectionString, (client) =>
      client.query<{ oldest: Date; newest: Date }>("SELECT min(completed_at) AS oldest, max(completed_at) AS newest FROM trips"),
    );
    return rows[0]!;
  }

  it("anchors the trips to now by default, and a pinned end date reproduces the same rows", async () => {
    const base = { databaseUrl: testDb.connectionString, dataDir: "", wipe: true, append: false };
    const dataset = { drivers: 3, tripsPerDriver: 100, reviewRatio: 0.8, cancelledRatio: 0.1, seed: 9 };

    const before = Date.now();
    const current = parseSeedCommand(["--history-days", "60"], {});
    if (current === "help") throw new Error("unexpected help");
    await runSeed({ ...base, dataset: { ...current.dataset, ...dataset } }, quiet);
    const anchored = await tripSpan();
    // The newest trip ends within the second before the anchor, the oldest about 60 days before it.
    expect(anchored.newest.getTime()).toBeLessThanOrEqual(Date.now());
    expect(anchored.newest.getTime()).toBeGreaterThan(before - 1_000);
    expect(anchored.oldest.getTime()).toBeGreaterThan(before - 61 * 86_400_000);
    expect(anchored.oldest.getTime()).toBeLessThan(before - 59 * 86_400_000);

    // The README's pinned example: seed -- --wipe --end-date 2025-11-30 --history-days 90
    const pinned = parseSeedCommand(["--wipe", "--end-date", "2025-11-30", "--history-days", "90"], {});
    if (pinned === "help") throw new Error("unexpected help");
    expect(pinned.wipe).toBe(true);
    await runSeed({ ...base, dataset: { ...pinned.dataset, ...dataset } }, quiet);
    const first = await rowsDigest();
    const span = await tripSpan();
    expect(span.newest.getTime()).toBeLessThan(Date.parse("2025-12-01T00:00:00Z"));
    expect(span.newest.getTime()).toBeGreaterThanOrEqual(Date.parse("2025-12-01T00:00:00Z") - 1_000);
    expect(span.oldest.getTime()).toBeGreaterThan(Date.parse("2025-09-02T00:00:00Z"));

    // A later run, same seed and same pinned date: the same rows.
    await runSeed({ ...base, dataset: { ...pinned.dataset, ...dataset } }, quiet);
    expect(await rowsDigest()).toBe(first);
  });
});
