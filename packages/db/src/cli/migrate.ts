#!/usr/bin/env node
// Applies pending migrations to DATABASE_URL: `pnpm --filter @driver-analytics/db migrate`.
import { migrate } from "../migrate.js";

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === "") {
    throw new Error("DATABASE_URL is not set (e.g. postgresql://user:pass@localhost:5432/driver_analytics)");
  }
  const { applied, alreadyApplied } = await migrate(url);
  console.log(`applied ${applied.length} migration(s) [${applied.join(", ")}]; ${alreadyApplied.length} already applied`);
}

main().catch((error: unknown) => {
  console.error(`migrate: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
