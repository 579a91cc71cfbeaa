import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const exec = promisify(execFile);
const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const PNPM = ["-y", "pnpm@10.34.8"];

/**
 * BASELINE_COMMIT is the server the per-call and overload work started from
 * (issues 11 and 15 measure against it, back to back in one run).
 */
export const BASELINE_COMMIT = "1dbe66b";

/**
 * buildBaseline checks out a commit into a temporary git worktree, installs
 * (from pnpm's store, offline when it can) and builds its server, and returns
 * the path of its main.js; or why it could not (no git history in this
 * checkout, say), so the benchmark reports that instead of a figure.
 */
export async function buildBaseline(commit: string, log: (line: string) => void): Promise<{ main: string } | { error: string }> {
  const dir = path.join(os.tmpdir(), `driver-analytics-baseline-${commit}`);
  const main = path.join(dir, "services/driver-analytics/dist/main.js");
  if (existsSync(main)) return { main };
  try {
    log(`  building the baseline server (${commit}) in ${dir}`);
    if (!existsSync(dir)) await exec("git", ["-C", REPO, "worktree", "add", "--force", "--detach", dir, commit]);
    await exec("npx", [...PNPM, "install", "--frozen-lockfile", "--prefer-offline"], { cwd: dir, maxBuffer: 64 << 20 });
    await exec("npx", [...PNPM, "--filter", "@driver-analytics/server...", "run", "build"], { cwd: dir, maxBuffer: 64 << 20 });
    return { main };
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    return { error: `baseline ${commit} could not be built: ${message}` };
  }
}
