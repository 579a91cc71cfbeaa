#!/usr/bin/env node
// The commands README.md prints, for .ci/readme-commands.sh, so the script runs
// what the README says and notices when the README changes.
//   node .ci/readme-commands.mjs all
//       every command: each line of every ```sh block (comments dropped,
//       backslash continuations joined) and every inline `npx -y pnpm@…`
//       or `node path/to/script.mjs` command (`DATABASE_URL=… npx …` included), one per line
//   node .ci/readme-commands.mjs one SECTION TEXT
//       the one command under the heading SECTION (up to the next heading)
//       that contains TEXT (is TEXT, after a leading "="); exits 1 unless exactly one does
//   node .ci/readme-commands.mjs section SECTION
//       every ```sh command under the heading SECTION, one per line
import { readFileSync } from "node:fs";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

function shCommands(markdown) {
  const out = [];
  for (const block of markdown.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const raw of block[1].replace(/\\\n\s*/g, "").split("\n")) {
      const line = raw.replace(/(^|\s+)#\s.*$/, "").trim();
      if (line !== "") out.push(line);
    }
  }
  return out;
}

function inlineCommands(markdown) {
  // Outside ```sh blocks; an inline command may wrap across a line in the source.
  const prose = markdown.replace(/```[\s\S]*?```/g, "");
  const commands = /`((?:[A-Z_]+=\S+ )*(?:npx -y pnpm@[^`]+|node [\w./-]+\.m?js(?: [^`]*)?))`/g;
  return [...prose.matchAll(commands)].map((m) => m[1].replace(/\s*\n\s*/g, " "));
}

function section(heading) {
  // Headings outside code blocks (a ```sh block's comments start with # too).
  let fenced = false;
  const lines = readme.split("\n");
  const isHeading = lines.map((l) => {
    if (l.startsWith("```")) fenced = !fenced;
    return !fenced && /^#+ /.test(l);
  });
  const start = lines.findIndex((l, i) => isHeading[i] && l.replace(/^#+ /, "") === heading);
  if (start < 0) fail(`README.md has no heading "${heading}"`);
  const end = isHeading.findIndex((h, i) => h && i > start);
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n");
}

function fail(message) {
  process.stderr.write(`readme-commands: ${message}\n`);
  process.exit(1);
}

const [mode, heading, text] = process.argv.slice(2);
if (mode === "all") {
  for (const c of [...shCommands(readme), ...inlineCommands(readme)]) process.stdout.write(`${c}\n`);
} else if (mode === "section") {
  for (const c of shCommands(section(heading))) process.stdout.write(`${c}\n`);
} else if (mode === "one") {
  const body = section(heading);
  const found = [...new Set([...shCommands(body), ...inlineCommands(body)])].filter((c) => (text.startsWith("=") ? c === text.slice(1) : c.includes(text)));
  if (found.length !== 1) fail(`under "${heading}", ${found.length} commands contain "${text}" (expected 1): ${JSON.stringify(found)}`);
  process.stdout.write(`${found[0]}\n`);
} else {
  fail("usage: readme-commands.mjs all | section HEADING | one HEADING TEXT");
}
