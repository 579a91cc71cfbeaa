// Every command this package's README prints (its sh blocks, and inline
// `npx -y pnpm@…` commands), and the root README's load command, run for real
// against a no-op server, so none can rot. Only the sizes shrink: the
// rewrites below are the whole difference between the README and the test.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startConnectNoopServer, type RunningServer } from "./noop-server.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const repoDir = path.resolve(packageDir, "../..");

/** Commands of ```sh blocks: comments dropped, backslash continuations joined. */
export function shellCommands(markdown: string): string[] {
  const out: string[] = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = (block[1] as string).replace(/\\\n\s*/g, "");
    for (const raw of joined.split("\n")) {
      const line = raw.replace(/(^|\s+)#\s.*$/, "").trim();
      if (line !== "") out.push(line);
    }
  }
  return out;
}

/** Inline `npx -y pnpm@…` commands that are complete (no [optional] placeholders). */
function inlineCommands(markdown: string): string[] {
  return [...markdown.matchAll(/`(npx -y pnpm@[^`]+)`/g)].map((m) => m[1] as string).filter((c) => !/[[…]/.test(c));
}

const loadReadme = readFileSync(path.join(packageDir, "README.md"), "utf8");
const rootReadme = readFileSync(path.join(repoDir, "README.md"), "utf8");
const rootLoadSection = rootReadme.slice(rootReadme.indexOf("## Load tool and benchmark"));
const commands = [
  ...shellCommands(loadReadme),
  ...inlineCommands(loadReadme),
  // The root README's load command (its other commands are the server's and the benchmark's).
  ...shellCommands(rootLoadSection).filter((c) => c.includes("run load")),
];

// The `npx -y pnpm@…` commands ask the registry for pnpm's metadata first:
// 5 s here, but 76 s each when turbo had dropped NODE_EXTRA_CA_CERTS (Node 24's
// npx retried TLS to the registry through the sandbox's proxy), past the old
// 120 s bound on a slower CI machine. turbo.json passes the TLS and proxy
// variables through now; this bound is for a hung command, not a slow one.
const COMMAND_TIMEOUT_MS = 300_000;

let server: RunningServer;
let outDir: string;

beforeAll(async () => {
  // Pages deep enough for the README's --workload page-depth --depth 20.
  server = await startConnectNoopServer({ pagesPerDriver: 25 });
  outDir = mkdtempSync(path.join(os.tmpdir(), "load-readme-"));
});
afterAll(async () => {
  await server?.close();
  rmSync(outDir, { recursive: true, force: true });
});

/** The README command, at test size, against the no-op server. */
function atTestSize(command: string): { command: string; outputFile: string | undefined } {
  let outputFile: string | undefined;
  let c = command
    .replace(/^driver-analytics-load\b/, "node tools/load/dist/cli.js")
    .replace(/\b(localhost|127\.0\.0\.1):8080\b/g, `127.0.0.1:${server.port}`)
    .replace(/(^|\s)(-z|--duration) \S+/g, "$1$2 1s")
    .replace(/(^|\s)--warmup \S+/g, "$1--warmup 0s")
    .replace(/(^|\s)--load-step-duration \S+/g, "$1--load-step-duration 200ms")
    .replace(/(^|\s)-n (\d+)/g, (_m, s: string, n: string) => `${s}-n ${Math.min(Number(n), 300)}`)
    .replace(/(^|\s)(-c|--concurrency) (\d+)/g, (_m, s: string, f: string, n: string) => `${s}${f} ${Math.min(Number(n), 50)}`)
    .replace(/(^|\s)-o (\S+)/g, (_m, s: string, file: string) => {
      outputFile = path.join(outDir, file);
      return `${s}-o ${outputFile}`;
    });
  // The ghz config files hold -c 1000; flags override them (as in ghz).
  if (c.includes("--config ")) c += " -c 50";
  if (/run load\b|dist\/cli\.js/.test(c) && !/--help|-h\b/.test(c)) c += " --no-progress";
  return { command: c, outputFile };
}

describe("README commands", () => {
  it("finds the commands", () => {
    expect(commands.length).toBeGreaterThanOrEqual(12);
    expect(commands.some((c) => c.includes("run ceiling -- --concurrency"))).toBe(true);
  });

  it.each(commands)("%s", { timeout: COMMAND_TIMEOUT_MS + 10_000 }, async (readmeCommand) => {
    const { command, outputFile } = atTestSize(readmeCommand);
    // Asynchronously: the no-op server runs in this process and must keep answering.
    const r = await new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        "bash",
        ["-c", command],
        { cwd: repoDir, encoding: "utf8", env: { ...process.env, SERVICE_TOKEN: "readme-test-token" }, timeout: COMMAND_TIMEOUT_MS },
        (err, stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
    const context = `${command}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    expect(r.status, context).toBe(0);
    const output = outputFile ? readFileSync(outputFile, "utf8") : r.stdout;
    if (outputFile) expect(statSync(outputFile).size, context).toBeGreaterThan(0);
    if (command.includes("--help")) expect(output).toContain("Usage: driver-analytics-load");
    else if (command.includes("run ceiling")) expect(output, context).toMatch(/calls\/s .* errors 0 /);
    else if (/ -O csv/.test(command)) expect(output.split("\n").filter((l) => l.includes(",OK,")).length, context).toBeGreaterThan(0);
    else if (/ -O prometheus/.test(command)) expect(output, context).toMatch(/^ghz_run_count\{.*\} [1-9]\d*$/m);
    else if (/ -O influx-summary/.test(command)) expect(output, context).toMatch(/^ghz_run,.*has_errors=false .*errors=0i/);
    else if (/ -O html/.test(command)) expect(output, context).toContain("<svg");
    else if (command.includes("dist/cli.js") || command.includes("run load")) {
      // Summary output: calls were made and succeeded; the only errors are the
      // calls in flight when -z ran out (ghz's --duration-stop close cancels them).
      expect(output, context).toMatch(/\[OK\]\s+\d+ responses/);
      const errors = output.split("Error distribution:")[1]?.split("\n\n")[0] ?? "";
      for (const line of errors.split("\n").filter((l) => l.trim() !== "")) expect(line, context).toContain("Canceled");
    }
  });
});
