// The contract's own checks: buf lint and buf format pass, nothing breaks the
// main branch's contract (buf breaking, FILE rules from buf.yaml), and the
// committed generated code is exactly what `pnpm generate` produces from
// proto/ (no stale src/gen).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const repoDir = path.resolve(packageDir, "../..");
const buf = path.join(packageDir, "node_modules/.bin/buf");

function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir).flatMap((name) =>
    statSync(path.join(dir, name)).isDirectory() ? listFiles(path.join(dir, name), `${prefix}${name}/`) : [`${prefix}${name}`],
  );
}

describe("contract", () => {
  const outDir = mkdtempSync(path.join(os.tmpdir(), "proto-gen-"));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it("passes buf lint", () => {
    expect(() => execFileSync(buf, ["lint"], { cwd: repoDir, stdio: "pipe" })).not.toThrow();
  });

  it("is formatted as buf format prints it", () => {
    // -d prints the diff; --exit-code makes a difference fail.
    const result = spawnSync(buf, ["format", "-d", "--exit-code"], { cwd: repoDir, encoding: "utf8" });
    expect(result.stdout + result.stderr, "run: npx buf format -w").toBe("");
    expect(result.status).toBe(0);
  });

  it("does not break the main branch's contract (buf breaking)", (ctx) => {
    const against = breakingBase();
    if (typeof against !== "string") {
      console.warn(`buf breaking skipped: ${against.skip}`);
      ctx.skip();
      return;
    }
    const result = spawnSync(buf, ["breaking", "--against", `.git#ref=${against}`], { cwd: repoDir, encoding: "utf8" });
    expect(result.stdout + result.stderr, `buf breaking --against .git#ref=${against}`).toBe("");
    expect(result.status).toBe(0);
  });

  it("has generated code in src/gen that matches proto/", () => {
    const template = readFileSync(path.join(packageDir, "buf.gen.yaml"), "utf8").replace("out: src/gen", `out: ${outDir}`);
    const templatePath = path.join(outDir, "..", `${path.basename(outDir)}.buf.gen.yaml`);
    writeFileSync(templatePath, template);
    try {
      execFileSync(buf, ["generate", "--template", templatePath], { cwd: packageDir, stdio: "pipe" });
    } finally {
      rmSync(templatePath, { force: true });
    }
    const committed = path.join(packageDir, "src/gen");
    const fresh = listFiles(outDir).sort();
    expect(listFiles(committed).sort()).toEqual(fresh);
    for (const file of fresh) {
      expect(readFileSync(path.join(committed, file), "utf8"), `${file} is stale: run pnpm generate`).toBe(
        readFileSync(path.join(outDir, file), "utf8"),
      );
    }
  });
});

/**
 * The commit whose contract this checkout must stay compatible with: where
 * HEAD left main (so changes merged to main since are not blamed on a branch),
 * or, on main itself (CI checks a fresh clone of main), main's previous commit.
 * Not a git checkout (a tarball): skipped, and said so.
 */
function breakingBase(): string | { skip: string } {
  const git = (...args: string[]) => {
    const r = spawnSync("git", args, { cwd: repoDir, encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : undefined;
  };
  if (git("rev-parse", "--is-inside-work-tree") !== "true") return { skip: `${repoDir} is not a git checkout` };
  const main = ["main", "origin/main"].find((ref) => git("rev-parse", "--verify", "--quiet", `${ref}^{commit}`));
  if (main === undefined) throw new Error("buf breaking: no main or origin/main branch to compare with (git fetch origin main)");
  const head = git("rev-parse", "HEAD");
  const base = git("merge-base", "HEAD", main);
  if (base === undefined) throw new Error(`buf breaking: HEAD shares no history with ${main} (a shallow clone? git fetch --unshallow)`);
  if (base !== head) return base;
  const previous = git("rev-parse", "--verify", "--quiet", "HEAD~1^{commit}");
  if (previous === undefined) throw new Error("buf breaking: HEAD is main and has no parent here (a shallow clone? git fetch --deepen=1)");
  return previous;
}
