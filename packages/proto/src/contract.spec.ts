// The contract's own checks: buf lint passes, and the committed generated code
// is exactly what `pnpm generate` produces from proto/ (no stale src/gen).
import { execFileSync } from "node:child_process";
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
