import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { DriverAnalytics } from "@driver-analytics/proto";

/** apiBaseUrl: the page's own origin when served by the service; VITE_API_BASE_URL under `vite`. */
export function apiBaseUrl(): string {
  const configured = import.meta.env.VITE_API_BASE_URL as string | undefined;
  if (configured !== undefined && configured !== "") return configured;
  return import.meta.env.DEV ? "http://127.0.0.1:8080" : window.location.origin;
}

/** createApi: a DriverAnalytics client over the Connect protocol that sends the bearer token. */
export function createApi(token: string, baseUrl: string = apiBaseUrl()): Client<typeof DriverAnalytics> {
  const bearer: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
  return createClient(DriverAnalytics, createConnectTransport({ baseUrl, interceptors: [bearer] }));
}

/** describeError: what to tell the driver, by status code; never the raw internals. */
export function describeError(error: unknown, driverId: bigint): string {
  const e = ConnectError.from(error);
  // fetch itself failed (offline, connection refused or reset): no status from the server at all.
  if (e.code === Code.Unknown && (error instanceof TypeError || e.cause instanceof TypeError)) {
    return "The service cannot be reached. Check your connection and try again.";
  }
  switch (e.code) {
    case Code.Unauthenticated:
      return `Your token was not accepted (${e.rawMessage}). Paste a fresh one under “Token”.`;
    case Code.PermissionDenied:
      return `This token may not read driver ${driverId}'s data.`;
    case Code.NotFound:
      return `There is no driver ${driverId}.`;
    case Code.InvalidArgument:
      return `The request was refused: ${e.rawMessage}.`;
    case Code.Unavailable:
    case Code.ResourceExhausted:
    case Code.DeadlineExceeded:
      return "The service is busy or unreachable right now. Try again in a moment.";
    default:
      return `Something went wrong (${Code[e.code]}). Try again.`;
  }
}
