// WORKERS, DB_POOL_SIZE as the group's total, and the replica settings, as loadConfig reads them.
import os from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../config.js";
import { defaultAdmissionOptions } from "../ops/admission/admission-controller.js";

const BASE = { DATABASE_URL: "postgresql://u@db/x", AUTH_HS256_SECRET: "s".repeat(32) };

describe("scale-out configuration", () => {
  it("splits DB_POOL_SIZE between WORKERS, and admission follows the worker's share", () => {
    const one = loadConfig({ ...BASE, DB_POOL_SIZE: "8" });
    expect([one.workers, one.poolSize, one.poolSizeTotal]).toEqual([1, 8, 8]);
    const two = loadConfig({ ...BASE, DB_POOL_SIZE: "8", WORKERS: "2" });
    expect([two.workers, two.poolSize, two.poolSizeTotal]).toEqual([2, 4, 8]);
    expect(two.admission).toEqual(defaultAdmissionOptions(4));
    expect(loadConfig({ ...BASE, DB_POOL_SIZE: "3", WORKERS: "2" }).poolSize).toBe(1);
    expect(loadConfig({ ...BASE, DB_POOL_SIZE: "1", WORKERS: "4" }).poolSize).toBe(1); // at least one each
    expect(loadConfig({ ...BASE, WORKERS: "auto" }).workers).toBe(os.availableParallelism());
  });

  it("refuses bad WORKERS and replica settings, one line each", () => {
    for (const workers of ["0", "-1", "two", "1.5", "257"]) {
      expect(() => loadConfig({ ...BASE, WORKERS: workers })).toThrow(/WORKERS=.*or auto/);
    }
    expect(() => loadConfig({ ...BASE, DATABASE_REPLICA_URLS: "mysql://x" })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_REPLICA_URLS: "postgresql://r/x" })).toThrow(/needs DATABASE_URL/);
    expect(() => loadConfig({ ...BASE, REPLICA_WAIT_MS: "soon" })).toThrow(/REPLICA_WAIT_MS/);
  });

  it("reads replica URLs and defaults", () => {
    const config = loadConfig({ ...BASE, DATABASE_REPLICA_URLS: " postgresql://r1/x , postgresql://r2/x ,," });
    expect(config.replicaUrls).toEqual(["postgresql://r1/x", "postgresql://r2/x"]);
    expect([config.replicaWaitMs, config.replicaMaxLagMs]).toEqual([200, 2_000]);
    expect(loadConfig(BASE).replicaUrls).toEqual([]);
  });
});
