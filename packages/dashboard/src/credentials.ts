// Where the page's token comes from: the URL fragment (#token=...&driver=...,
// as the demo banner prints it; fragments never reach a server or a Referer)
// or the form, kept in sessionStorage for reloads of this tab only.

const STORAGE_KEY = "driver-analytics.credentials";

/** Credentials: a bearer token and the driver to show. */
export interface Credentials {
  token: string;
  driverId: bigint;
}

/** CredentialsError: the token or driver id cannot be used; the message says why. */
export class CredentialsError extends Error {}

/**
 * driverOfToken reads the driver a driver's token names (`sub: "driver:<id>"`).
 * Unverified, on purpose: the server verifies; the page only needs to know
 * whose dashboard to ask for.
 */
export function driverOfToken(token: string): bigint | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const json = JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "="))) as { sub?: unknown };
    const match = typeof json.sub === "string" ? /^driver:([1-9][0-9]{0,18})$/.exec(json.sub) : null;
    return match?.[1] === undefined ? undefined : BigInt(match[1]);
  } catch {
    return undefined;
  }
}

/** resolveCredentials picks the driver: the explicit id, else the token's own. */
export function resolveCredentials(token: string, driver: string | null | undefined): Credentials {
  const trimmed = token.trim();
  if (trimmed === "") throw new CredentialsError("Paste a token to see a dashboard.");
  if (driver !== null && driver !== undefined && driver.trim() !== "") {
    if (!/^[1-9][0-9]{0,18}$/.test(driver.trim())) throw new CredentialsError("The driver id must be a positive integer.");
    return { token: trimmed, driverId: BigInt(driver.trim()) };
  }
  const driverId = driverOfToken(trimmed);
  if (driverId === undefined) {
    throw new CredentialsError("This token names no driver; enter the driver id to show.");
  }
  return { token: trimmed, driverId };
}

/** credentialsFromFragment reads #token=...&driver=... and clears it from the address bar. */
export function credentialsFromFragment(location: Location, history: History): Credentials | undefined {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("token");
  if (token === null) return undefined;
  // Out of the address bar (and history, and screenshots); sessionStorage keeps it for reloads.
  history.replaceState(null, "", location.pathname + location.search);
  return resolveCredentials(token, params.get("driver"));
}

export function saveCredentials(storage: Storage, credentials: Credentials): void {
  storage.setItem(STORAGE_KEY, JSON.stringify({ token: credentials.token, driverId: credentials.driverId.toString() }));
}

export function loadCredentials(storage: Storage): Credentials | undefined {
  try {
    const saved = JSON.parse(storage.getItem(STORAGE_KEY) ?? "null") as { token?: string; driverId?: string } | null;
    if (saved?.token === undefined || saved.driverId === undefined) return undefined;
    return resolveCredentials(saved.token, saved.driverId);
  } catch {
    return undefined;
  }
}
