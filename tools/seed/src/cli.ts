#!/usr/bin/env node
import { parseSeedCommand, runSeed, UsageError, USAGE } from "./seed-command.js";

async function main(): Promise<void> {
  // pnpm forwards the `--` of `pnpm seed -- --wipe` verbatim.
  const args = process.argv.slice(2).filter((arg) => arg !== "--");
  const command = parseSeedCommand(args, process.env);
  if (command === "help") {
    process.stdout.write(USAGE);
    return;
  }
  const { dataset } = command;
  process.stderr.write(
    `seeding ${dataset.drivers} drivers x ${dataset.tripsPerDriver} trips (reviews ${dataset.reviewRatio}, cancelled ${dataset.cancelledRatio}, seed ${dataset.seed}, ${dataset.historyDays} days up to ${String(dataset.historyEnd)})\n`,
  );
  const result = await runSeed(command, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(
    `seeded drivers ${result.firstDriverId}..${result.lastDriverId}, ${result.trips.toLocaleString("en-US")} trips in ${(result.ms / 1000).toFixed(1)} s\n`,
  );
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`driver-analytics-seed: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  process.stderr.write(`driver-analytics-seed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
