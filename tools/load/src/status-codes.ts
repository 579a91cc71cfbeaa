// gRPC status code names as grpc-go's codes.Code.String() prints them, which is
// what ghz puts in statusCodeDistribution and in its error strings.
const NAMES = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
] as const;

export type StatusCodeName = (typeof NAMES)[number];

/** The number of distinct codes; codes outside 0..16 are folded into Unknown. */
export const STATUS_CODE_COUNT = NAMES.length;

export const CODE_OK = 0;
export const CODE_CANCELED = 1;
export const CODE_UNKNOWN = 2;
export const CODE_DEADLINE_EXCEEDED = 4;
export const CODE_UNAVAILABLE = 14;

export function normalizeCode(code: number): number {
  return Number.isInteger(code) && code >= 0 && code < NAMES.length ? code : CODE_UNKNOWN;
}

export function statusCodeName(code: number): StatusCodeName {
  return NAMES[normalizeCode(code)] as StatusCodeName;
}

/** The error string grpc-go's status.Error produces, so error distributions read like ghz's. */
export function grpcErrorString(code: number, message: string): string {
  return `rpc error: code = ${statusCodeName(code)} desc = ${message}`;
}
