#!/usr/bin/env node
// Mints a development token (HS256) for a server started with the same
// AUTH_HS256_SECRET (and AUTH_ISSUER / AUTH_AUDIENCE, if set):
//   pnpm --filter @driver-analytics/server run token -- --driver 1
//   pnpm --filter @driver-analytics/server run token -- --service --scope driver-analytics:write
// The token alone goes to stdout, so it composes: TOKEN=$(... run --silent token -- --service)
import { parseArgs } from "node:util";
import { DEFAULT_AUDIENCE, DEV_ISSUER } from "./auth/auth-config.js";
import { mintDevToken } from "./auth/dev-tokens.js";
import { SCOPE_READ } from "./auth/principal.js";

const USAGE = `usage: token (--driver <id> | --service [--name <name>]) [--scope <scope>]... [--ttl <duration>]

  --driver <id>     a driver's token (sub "driver:<id>"): reads only that driver's data
  --service         a service's token (sub "service:<name>"), scope ${SCOPE_READ} unless --scope is given
  --name <name>     the service's name (default "dev")
  --scope <scope>   add a scope (repeatable), e.g. driver-analytics:write
  --ttl <duration>  lifetime: 3600, 90s, 30m, 12h or 7d (default 1h)

environment: AUTH_HS256_SECRET (required, at least 32 bytes), AUTH_ISSUER (default ${DEV_ISSUER}),
             AUTH_AUDIENCE (default ${DEFAULT_AUDIENCE})`;

class UsageError extends Error {}

function parseTtl(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text);
  if (match === null) throw new UsageError(`--ttl ${JSON.stringify(text)}: expected e.g. 3600, 90s, 30m, 12h or 7d`);
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as "" | "s" | "m" | "h" | "d"];
  const seconds = Number(match[1]) * unit;
  if (seconds < 1 || seconds > 365 * 86_400) throw new UsageError("--ttl: expected from 1 second to 365 days");
  return seconds;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    // pnpm passes the README's `run token -- --driver 1` on with its "--" (as for seed and load).
    args: process.argv.slice(2).filter((arg) => arg !== "--"),
    options: {
      driver: { type: "string" },
      service: { type: "boolean" },
      name: { type: "string", default: "dev" },
      scope: { type: "string", multiple: true },
      ttl: { type: "string", default: "1h" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if ((values.driver === undefined) === (values.service !== true)) throw new UsageError("give --driver <id> or --service");
  if (values.driver !== undefined && !/^[1-9]\d{0,18}$/.test(values.driver)) {
    throw new UsageError("--driver: expected a positive integer");
  }
  const secret = process.env.AUTH_HS256_SECRET?.trim() ?? "";
  if (Buffer.byteLength(secret) < 32) {
    throw new UsageError("AUTH_HS256_SECRET: set it (at least 32 bytes) to the server's secret");
  }
  const scopes = values.scope ?? (values.service === true ? [SCOPE_READ] : []);
  const token = await mintDevToken({
    secret: new TextEncoder().encode(secret),
    issuer: process.env.AUTH_ISSUER?.trim() || DEV_ISSUER,
    audience: process.env.AUTH_AUDIENCE?.trim() || DEFAULT_AUDIENCE,
    ...(values.driver !== undefined ? { driverId: BigInt(values.driver) } : { service: values.name }),
    scopes,
    ttlSeconds: parseTtl(values.ttl),
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError || (error instanceof TypeError && "code" in error)) {
    process.stderr.write(`token: ${error.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`token: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
