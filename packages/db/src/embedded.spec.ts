// The embedded start as root from a checkout whose parent directory is not
// world-traversable (a clone under /root, or in a mktemp -d directory, 0700):
// PostgreSQL runs as user postgres, which cannot reach the binaries there.
// The binaries are copied where it can; a data directory it cannot reach
// stops the start with one line that says what to change.
import { chmodSync, cpSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { withConnection } from "./connection.js";
import { startEmbeddedPostgres } from "./embedded.js";
import { binariesIn, canAccess, installedBinaries, runAsUser } from "./postgres-process.js";

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
if (!isRoot) console.warn("embedded.spec: not root, so PostgreSQL runs as this user and the unreachable-checkout case cannot arise; skipped");

describe.runIf(isRoot)("embedded PostgreSQL as root in a checkout user postgres cannot reach", () => {
  // A stand-in for <checkout>/node_modules: the installed binaries, inside a 0700 directory.
  const checkout = mkdtempSync(path.join(os.tmpdir(), "driver-analytics-0700-"));
  const reachable = mkdtempSync(path.join(os.tmpdir(), "driver-analytics-data-"));
  chmodSync(reachable, 0o755);
  afterAll(() => {
    rmSync(checkout, { recursive: true, force: true });
    rmSync(reachable, { recursive: true, force: true });
  });
  cpSync(installedBinaries().root, path.join(checkout, "native"), { recursive: true, verbatimSymlinks: true });
  const binaries = binariesIn(path.join(checkout, "native"));

  it("is the case under test: the directory is 0700 and user postgres cannot run the binaries in it", () => {
    expect(statSync(checkout).mode & 0o777).toBe(0o700);
    expect(canAccess(runAsUser(), "x", binaries.postgres)).toBe(false);
  });

  it("starts from a copy of the binaries user postgres can run, with a data directory it can reach", async () => {
    const logs: string[] = [];
    const server = await startEmbeddedPostgres({ dataDir: path.join(reachable, "pg"), binaries, onLog: (l) => logs.push(l) });
    try {
      const { rows } = await withConnection(server.connectionString, (c) => c.query<{ u: string }>("SELECT current_user AS u"));
      expect(rows[0]?.u).toBe("postgres");
      expect(logs.join("\n")).toMatch(new RegExp(`PostgreSQL binaries: ${os.tmpdir()}/driver-analytics-postgres-\\w+, running as postgres`));
    } finally {
      await server.stop();
    }
  });

  it("stops with one clear line when the data directory is where user postgres cannot reach", async () => {
    const error = await startEmbeddedPostgres({ dataDir: path.join(checkout, ".data", "postgres"), binaries }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/^embedded PostgreSQL runs as user postgres when started as root, and postgres cannot reach .*: set DATA_DIR to a directory it can reach/);
    expect(error?.message).not.toContain("\n");
  });
});
