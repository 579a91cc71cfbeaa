import { randomUUID } from "node:crypto";

export const REQUEST_ID_HEADER = "x-request-id";

// What a caller may send as its own id: short and log-safe (no spaces,
// quotes or control characters to forge log fields with).
const ACCEPTED_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * requestIdOf is a call's id: the caller's x-request-id when it is sane, a
 * fresh UUID otherwise. Only this id is logged and echoed back, never the
 * raw header (which may be kilobytes of attacker text).
 */
export function requestIdOf(header: Headers): string {
  const id = header.get(REQUEST_ID_HEADER);
  return id !== null && ACCEPTED_ID.test(id) ? id : randomUUID();
}
