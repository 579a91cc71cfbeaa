import { parseArgs } from "node:util";
import {
  DEFAULT_EMBEDDED_DATA_DIR,
  migrate,
  seedDataset,
  startEmbeddedPostgres,
  type SeedOptions,
  type SeedResult,
  withConnection,
} from "@driver-analytics/db";

export const USAGE = `Usage: driver-analytics-seed [options]

Seeds the reference dataset (default: 1,000 drivers x 1,000 trips, every trip
with a payment and a review) into DATABASE_URL, or into the embedded
PostgreSQL the server's demo mode uses: DATA_DIR, as for the server, else
${DEFAULT_EMBEDDED_DATA_DIR}.
So DATA_DIR=x pnpm seed seeds what DATA_DIR=x pnpm start serves.

Options:
  --drivers N             drivers to add (default 1000)
  --trips-per-driver N    trips per driver (default 1000)
  --review-ratio R        share of completed trips with a review, 0..1 (default 1)
  --cancelled-ratio R     share of cancelled trips, 0..1 (default 0)
  --seed N                random seed; same seed and --end-date, same rows (default 42)
  --end-date DATE         pin the end of the history: YYYY-MM-DD (trips up to the
                          end of that UTC day) or an ISO 8601 timestamp
                          (default: now, so the data is current)
  --history-days N        days of history the trips spread over, up to the end
                          (default 730)
  --database-url URL      PostgreSQL to seed (default: $DATABASE_URL, else embedded)
  --data-dir DIR          embedded PostgreSQL directory (default: $DATA_DIR, else above)
  --wipe                  empty a non-empty database first
  --append                add to a non-empty database (e.g. a heavy driver)
  -h, --help              this help
`;

export interface SeedCommand {
  databaseUrl: string | undefined;
  dataDir: string;
  wipe: boolean;
  append: boolean;
  dataset: Omit<SeedOptions, "onProgress">;
}

/** UsageError: the command line is wrong; the message says how. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

function number(name: string, raw: string | undefined, fallback: number, min: number, max: number, integer: boolean): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** parseSeedCommand validates the command line; it throws UsageError with a clear message. */
const DAY_MS = 86_400_000;

/**
 * parseEndDate reads --end-date: "YYYY-MM-DD" is the end of that UTC day (the
 * next day's 00:00Z), anything else must be an ISO 8601 timestamp with a zone.
 */
export function parseEndDate(raw: string): string {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(raw);
  if (day !== null) {
    const ms = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
    if (new Date(ms).toISOString().slice(0, 10) !== raw) throw new UsageError(`--end-date is not a calendar date: ${JSON.stringify(raw)}`);
    return new Date(ms + DAY_MS).toISOString();
  }
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(ms)) {
    throw new UsageError(`--end-date must be YYYY-MM-DD or an ISO 8601 timestamp with a zone, got ${JSON.stringify(raw)}`);
  }
  return new Date(ms).toISOString();
}

export function parseSeedCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  now: () => Date = () => new Date(),
): SeedCommand | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        drivers: { type: "string" },
        "trips-per-driver": { type: "string" },
        "review-ratio": { type: "string" },
        "cancelled-ratio": { type: "string" },
        seed: { type: "string" },
        "end-date": { type: "string" },
        "history-days": { type: "string" },
        "database-url": { type: "string" },
        "data-dir": { type: "string" },
        wipe: { type: "boolean", default: false },
        append: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return "help";
  if (v.wipe && v.append) throw new UsageError("--wipe and --append exclude each other");
  const databaseUrl = v["database-url"] ?? (env.DATABASE_URL?.trim() || undefined);
  return {
    databaseUrl,
    // The server's variables, read the way the server reads them (blank = unset).
    dataDir: v["data-dir"] ?? (env.DATA_DIR?.trim() || DEFAULT_EMBEDDED_DATA_DIR),
    wipe: v.wipe,
    append: v.append,
    dataset: {
      drivers: number("drivers", v.drivers, 1000, 1, 10_000_000, true),
      tripsPerDriver: number("trips-per-driver", v["trips-per-driver"], 1000, 0, 100_000_000, true),
      reviewRatio: number("review-ratio", v["review-ratio"], 1, 0, 1, false),
      cancelledRatio: number("cancelled-ratio", v["cancelled-ratio"], 0, 0, 1, false),
      seed: number("seed", v.seed, 42, -2_147_483_648, 2_147_483_647, true),
      historyEnd: v["end-date"] === undefined ? now().toISOString() : parseEndDate(v["end-date"]),
      historyDays: number("history-days", v["history-days"], 730, 1, 36_500, true),
    },
  };
}

/**
 * runSeed migrates the target database and seeds it. It refuses a database
 * that already holds drivers unless told to --wipe or --append.
 */
export async function runSeed(
  command: SeedCommand,
  report: (line: string) => void,
): Promise<SeedResult & { ms: number }> {
  let embedded;
  let url = command.databaseUrl;
  if (url === undefined) {
    report(`starting embedded PostgreSQL in ${command.dataDir}`);
    embedded = await startEmbeddedPostgres({ dataDir: command.dataDir });
    url = embedded.connectionString;
  }
  try {
    await migrate(url);
    const drivers = await countDrivers(url);
    if (drivers > 0 && !command.wipe && !command.append) {
      throw new UsageError(
        `the database already holds ${drivers} drivers; pass --wipe to replace them or --append to add to them`,
      );
    }
    if (command.wipe && drivers > 0) {
      report(`wiping ${drivers} drivers and their trips`);
      await wipe(url);
    }
    const started = performance.now();
    let lastPercent = -1;
    // Seconds per phase, in order, for the closing line.
    const phases: [string, number][] = [];
    let phaseStart = started;
    const result = await seedDataset(url, {
      ...command.dataset,
      onProgress: ({ phase, tripsWritten, tripsTotal }) => {
        const now = performance.now();
        const current = phases.at(-1);
        if (current === undefined || current[0] !== phase) {
          if (current !== undefined) current[1] = (now - phaseStart) / 1000;
          phases.push([phase, 0]);
          phaseStart = now;
        }
        const percent = tripsTotal === 0 ? 100 : Math.floor((tripsWritten / tripsTotal) * 100);
        if (phase !== "trips" || percent !== lastPercent) {
          lastPercent = percent;
          const seconds = ((now - started) / 1000).toFixed(1);
          report(`${phase.padEnd(8)} ${tripsWritten.toLocaleString("en-US")}/${tripsTotal.toLocaleString("en-US")} trips (${percent}%) ${seconds}s`);
        }
      },
    });
    const timed = phases.filter(([phase]) => phase !== "done");
    report(`time per phase: ${timed.map(([phase, s]) => `${phase} ${s.toFixed(1)} s`).join(", ")}`);
    return { ...result, ms: performance.now() - started };
  } finally {
    await embedded?.stop();
  }
}

async function countDrivers(url: string): Promise<number> {
  return withConnection(url, async (client) => {
    const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM drivers");
    return Number(rows[0]!.n);
  });
}

async function wipe(url: string): Promise<void> {
  await withConnection(url, (client) => client.query("TRUNCATE drivers, trips, payments, reviews RESTART IDENTITY CASCADE"));
}
