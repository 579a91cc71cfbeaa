// Sums vitest's "Tests  N passed | M failed" summary lines across the given logs
// and prints the plain closing line CI reads: "N passed, M failed".
import { readFileSync } from "node:fs";

const strip = (text) => text.replace(/\x1b\[[0-9;]*m/g, "");
let passed = 0;
let failed = 0;
let skipped = 0;
let runs = 0;
for (const file of process.argv.slice(2)) {
  for (const line of strip(readFileSync(file, "utf8")).split("\n")) {
    // turbo prefixes each line with "<package>:test: ".
    const m = /(?:^|:\s)\s*Tests\s+((?:\d+ \w+(?: \| )?)+)\s*\(\d+\)\s*$/.exec(line);
    if (!m) continue;
    runs++;
    for (const [, n, kind] of m[1].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
      if (kind === "passed") passed += Number(n);
      else if (kind === "failed") failed += Number(n);
      else skipped += Number(n);
    }
  }
}
if (runs === 0) {
  console.log("no vitest summary found: no test ran");
  console.log("0 passed, 1 failed");
  process.exit(1);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
