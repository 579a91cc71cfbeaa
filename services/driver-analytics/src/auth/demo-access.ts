// What the demo mode hands a new user: tokens to call with, and the dashboard.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { AuthConfig } from "./auth-config.js";
import { mintDevToken } from "./dev-tokens.js";
import { SCOPE_READ } from "./principal.js";

/** DemoTokens: a demo driver's token and a read-only service token. */
export interface DemoTokens {
  driverId: bigint;
  driver: string;
  service: string;
}

// Long enough for an afternoon of trying things; the secret dies with the process anyway.
const DEMO_TOKEN_TTL_SECONDS = 12 * 3600;

/** mintDemoTokens mints the banner's tokens; undefined unless tokens are verified with an HS256 secret we hold. */
export async function mintDemoTokens(auth: AuthConfig, driverId: bigint): Promise<DemoTokens | undefined> {
  if (auth.keys.kind !== "hs256") return undefined;
  const common = {
    secret: auth.keys.secret,
    issuer: auth.issuer,
    audience: auth.audience,
    ttlSeconds: DEMO_TOKEN_TTL_SECONDS,
  };
  return {
    driverId,
    driver: await mintDevToken({ ...common, driverId }),
    service: await mintDevToken({ ...common, service: "demo", scopes: [SCOPE_READ] }),
  };
}

/** bundledDashboardDir is the built @driver-analytics/dashboard, if it was built. */
export function bundledDashboardDir(): string | undefined {
  try {
    const packageJson = createRequire(import.meta.url).resolve("@driver-analytics/dashboard/package.json");
    const dir = path.join(path.dirname(packageJson), "dist");
    return existsSync(path.join(dir, "index.html")) ? dir : undefined;
  } catch {
    return undefined;
  }
}
