// Who is calling, as the bearer token says. Two kinds of caller:
//   driver:   sub "driver:<id>"          reads only driver <id>'s data
//   service:  scope "driver-analytics:read" (and/or ":write"), space-separated
//             per RFC 8693 / RFC 6749 §3.3; reads (or writes) any driver's data
// A token may be both (a driver's token carrying scopes), though issuers
// should not grant drivers the service scopes.

/** SCOPE_READ lets a caller read any driver's stats and trips. */
export const SCOPE_READ = "driver-analytics:read";
/** SCOPE_WRITE lets a caller record trips and reviews (the write RPCs). */
export const SCOPE_WRITE = "driver-analytics:write";

/** DRIVER_SUBJECT_PREFIX starts the `sub` claim of a driver's token: `driver:42`. */
export const DRIVER_SUBJECT_PREFIX = "driver:";

const INT64_MAX = 9_223_372_036_854_775_807n;

/** Principal is an authenticated caller. */
export interface Principal {
  /** The token's `sub` claim, verbatim (for logs). */
  subject: string;
  /** Set when the subject names a driver. */
  driverId: bigint | undefined;
  scopes: ReadonlySet<string>;
}

/** ClaimsError: the token verified but its claims do not describe a caller we know. */
export class ClaimsError extends Error {
  override readonly name = "ClaimsError";
}

/** principalFromClaims reads `sub` and `scope` from a verified token's payload. */
export function principalFromClaims(claims: { sub?: unknown; scope?: unknown }): Principal {
  const { sub, scope } = claims;
  if (typeof sub !== "string" || sub === "") throw new ClaimsError("token has no subject");
  if (scope !== undefined && typeof scope !== "string") throw new ClaimsError("token scope must be a string");
  let driverId: bigint | undefined;
  if (sub.startsWith(DRIVER_SUBJECT_PREFIX)) {
    driverId = parseDriverSubject(sub.slice(DRIVER_SUBJECT_PREFIX.length));
    if (driverId === undefined) throw new ClaimsError("token subject names no valid driver");
  }
  const scopes = new Set((scope ?? "").split(" ").filter((s) => s !== ""));
  return { subject: sub, driverId, scopes };
}

// Canonical decimal only ("42", not "042" or "+42"), so one driver has one subject.
function parseDriverSubject(text: string): bigint | undefined {
  if (!/^[1-9][0-9]{0,18}$/.test(text)) return undefined;
  const id = BigInt(text);
  return id <= INT64_MAX ? id : undefined;
}

/** driverSubject is the `sub` claim for a driver's token. */
export function driverSubject(driverId: bigint): string {
  return `${DRIVER_SUBJECT_PREFIX}${driverId}`;
}
