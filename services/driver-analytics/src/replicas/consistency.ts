import { Code, ConnectError } from "@connectrpc/connect";
import { formatLsn, parseLsn, type Lsn } from "@driver-analytics/db";

/**
 * CONSISTENCY_HEADER carries read-your-writes tokens (response metadata, so the
 * protobuf contract is unchanged): CreateTrip and CreateReview answer with the
 * position of their commit; a GetStats, ListTrips or GetEarningsSeries that
 * sends it back is served by a replica that has replayed that position, or by
 * the primary. The value is opaque to callers (today a PostgreSQL LSN, e.g.
 * "0/3000148"); a server without replicas ignores it.
 */
export const CONSISTENCY_HEADER = "x-consistency-token";

/** readConsistencyToken: the request's token, undefined without one; INVALID_ARGUMENT when garbled. */
export function readConsistencyToken(headers: Headers): Lsn | undefined {
  const raw = headers.get(CONSISTENCY_HEADER);
  if (raw === null || raw.trim() === "") return undefined;
  const lsn = parseLsn(raw);
  if (lsn === undefined) throw new ConnectError(`${CONSISTENCY_HEADER} is not a token this service issued`, Code.InvalidArgument);
  return lsn;
}

/** writeConsistencyToken sets the response's token when there is one. */
export function writeConsistencyToken(headers: Headers, lsn: Lsn | undefined): void {
  if (lsn !== undefined) headers.set(CONSISTENCY_HEADER, formatLsn(lsn));
}

/** laterLsn: the later of two positions, either possibly absent. */
export function laterLsn(a: Lsn | undefined, b: Lsn | undefined): Lsn | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}
