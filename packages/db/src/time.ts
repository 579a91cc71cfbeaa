// Timestamps cross the database boundary as bigint microseconds since the Unix
// epoch: PostgreSQL's own precision. A JS Date (milliseconds) would silently
// drop digits and break keyset cursors on trips that share a millisecond.

const MICROS_PER_SECOND = 1_000_000n;

const PG_UTC_TIMESTAMP =
  /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\+00$/;

/**
 * parseTimestamptzMicros reads a timestamptz as PostgreSQL prints it in a
 * session with TimeZone=UTC and DateStyle=ISO (our pool sets both).
 */
export function parseTimestamptzMicros(text: string): bigint {
  const m = PG_UTC_TIMESTAMP.exec(text);
  if (m === null) {
    throw new Error(`unsupported timestamptz value: ${text}`);
  }
  const [, year, month, day, hour, minute, second, fraction = ""] = m;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 onto 1900-1999.
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  date.setUTCHours(Number(hour), Number(minute), Number(second), 0);
  return BigInt(date.getTime()) * 1000n + BigInt(fraction.padEnd(6, "0"));
}

/** formatMicrosIso prints microseconds as an ISO 8601 UTC string PostgreSQL parses exactly. */
export function formatMicrosIso(micros: bigint): string {
  let seconds = micros / MICROS_PER_SECOND;
  let fraction = micros % MICROS_PER_SECOND;
  if (fraction < 0n) {
    fraction += MICROS_PER_SECOND;
    seconds -= 1n;
  }
  const whole = new Date(Number(seconds) * 1000).toISOString(); // ...T..:..:...000Z
  return `${whole.slice(0, -5)}.${fraction.toString().padStart(6, "0")}Z`;
}
