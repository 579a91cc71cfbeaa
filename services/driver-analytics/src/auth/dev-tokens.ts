import { SignJWT } from "jose";
import { driverSubject } from "./principal.js";

/** DevTokenOptions describes an HS256 token for development, tests and benchmarks. */
export interface DevTokenOptions {
  secret: Uint8Array;
  issuer: string;
  audience: string;
  /** A driver's token (sub "driver:<id>")... */
  driverId?: bigint;
  /** ...or a service's (sub "service:<name>"). */
  service?: string;
  /** Space-joined into the `scope` claim. */
  scopes?: readonly string[];
  ttlSeconds: number;
}

/**
 * mintDevToken signs a token the HS256 verifier accepts. Production tokens
 * come from the identity provider (RS256/ES256); this exists so the demo, the
 * tests and the load tool can call the service.
 */
export async function mintDevToken(options: DevTokenOptions): Promise<string> {
  if ((options.driverId === undefined) === (options.service === undefined)) {
    throw new Error("a token is either a driver's or a service's");
  }
  const subject = options.driverId !== undefined ? driverSubject(options.driverId) : `service:${options.service}`;
  const claims = options.scopes !== undefined && options.scopes.length > 0 ? { scope: options.scopes.join(" ") } : {};
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(subject)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + options.ttlSeconds)
    .sign(options.secret);
}
