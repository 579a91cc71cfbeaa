import { randomBytes } from "node:crypto";
import { mintDevToken } from "@driver-analytics/server";

const ISSUER = "driver-analytics-bench";
const AUDIENCE = "driver-analytics";

/** BenchAuth: a token for the load, and the environment that makes a server accept it. */
export interface BenchAuth {
  token: string;
  env: Record<string, string>;
}

/**
 * benchAuth makes a fresh HS256 secret, the environment every benchmarked
 * server runs with (that secret, issuer, audience, and a page-token key
 * shared by all of them), and a service token for it.
 */
export async function benchAuth(scopes: readonly string[], ttlSeconds: number): Promise<BenchAuth> {
  const secret = randomBytes(32).toString("base64");
  const token = await mintDevToken({
    secret: Buffer.from(secret),
    issuer: ISSUER,
    audience: AUDIENCE,
    service: "bench",
    scopes,
    ttlSeconds,
  });
  return {
    token,
    env: {
      AUTH_HS256_SECRET: secret,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
      PAGE_TOKEN_SECRET: randomBytes(32).toString("hex"),
    },
  };
}
