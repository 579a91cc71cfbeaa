import { Code, ConnectError } from "@connectrpc/connect";
import { SCOPE_READ, SCOPE_WRITE, type Principal } from "./principal.js";

/**
 * AccessRule is what a method requires of its caller:
 * - public: nothing, not even a token (health checks, reflection);
 * - scope: a token carrying the scope;
 * - own-driver-or-scope: the driver the request names (driver_id) is the
 *   caller, or the token carries the scope.
 */
export type AccessRule =
  | { kind: "public" }
  | { kind: "scope"; scope: string }
  | { kind: "own-driver-or-scope"; scope: string };

const PUBLIC: AccessRule = { kind: "public" };
const READ_OWN_OR_ANY: AccessRule = { kind: "own-driver-or-scope", scope: SCOPE_READ };
const WRITE: AccessRule = { kind: "scope", scope: SCOPE_WRITE };

/**
 * ACCESS_POLICY names every method callers may reach, keyed by
 * "<service type name>/<method name>". A method missing here is refused to
 * everyone: adding an RPC means adding its line.
 */
export const ACCESS_POLICY: ReadonlyMap<string, AccessRule> = new Map<string, AccessRule>([
  ["driveranalytics.v1.DriverAnalytics/GetStats", READ_OWN_OR_ANY],
  ["driveranalytics.v1.DriverAnalytics/ListTrips", READ_OWN_OR_ANY],
  ["driveranalytics.v1.DriverAnalytics/GetEarningsSeries", READ_OWN_OR_ANY],
  // Writes come from the trip and review pipelines, never from drivers.
  ["driveranalytics.v1.DriverAnalytics/CreateTrip", WRITE],
  ["driveranalytics.v1.DriverAnalytics/CreateReview", WRITE],
  ["grpc.health.v1.Health/Check", PUBLIC],
  ["grpc.health.v1.Health/Watch", PUBLIC],
  ["grpc.health.v1.Health/List", PUBLIC],
  ["grpc.reflection.v1.ServerReflection/ServerReflectionInfo", PUBLIC],
  ["grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", PUBLIC],
]);

/** PERMISSION_DENIED_MESSAGE is the same whether or not the driver exists. */
const PERMISSION_DENIED_MESSAGE = "the caller may not access this driver's data";

/**
 * checkAccess throws PERMISSION_DENIED unless the principal satisfies the
 * rule for this request. It never looks at the database, so the answer says
 * nothing about whether a driver exists. `message` is the request message of
 * a unary call (undefined for streams).
 */
export function checkAccess(rule: AccessRule, principal: Principal, message: unknown): void {
  switch (rule.kind) {
    case "public":
      return;
    case "scope":
      if (principal.scopes.has(rule.scope)) return;
      throw new ConnectError(`the caller lacks scope ${rule.scope}`, Code.PermissionDenied);
    case "own-driver-or-scope": {
      if (principal.scopes.has(rule.scope)) return;
      const requested = driverIdOf(message);
      if (principal.driverId !== undefined && requested === principal.driverId) return;
      throw new ConnectError(PERMISSION_DENIED_MESSAGE, Code.PermissionDenied);
    }
  }
}

function driverIdOf(message: unknown): bigint | undefined {
  if (typeof message !== "object" || message === null || !("driverId" in message)) return undefined;
  const { driverId } = message;
  return typeof driverId === "bigint" ? driverId : undefined;
}
