// @driver-analytics/seed: the seed command, for the CLI and the benchmark.
export { parseSeedCommand, runSeed, UsageError, USAGE } from "./seed-command.js";
export type { SeedCommand } from "./seed-command.js";
