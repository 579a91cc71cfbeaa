import { randomUUID } from "node:crypto";
import { ConnectError, type Interceptor } from "@connectrpc/connect";

export const REQUEST_ID_HEADER = "x-request-id";

// What a caller may send as its own id: short and log-safe (no spaces,
// quotes or control characters to forge log fields with).
const ACCEPTED_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

/**
 * requestIdInterceptor gives every call an id: the caller's x-request-id
 * when it is sane, a fresh UUID otherwise. Later interceptors (the failure
 * log line) read it from the request header; the response carries it back,
 * as a header on success and with the error's metadata on failure. Install
 * it first, so every other interceptor sees the id.
 */
export function requestIdInterceptor(): Interceptor {
  return (next) => async (request) => {
    let id = request.header.get(REQUEST_ID_HEADER);
    if (id === null || !ACCEPTED_ID.test(id)) {
      id = randomUUID();
      request.header.set(REQUEST_ID_HEADER, id);
    }
    try {
      const response = await next(request);
      response.header.set(REQUEST_ID_HEADER, id);
      return response;
    } catch (error) {
      const connectError = ConnectError.from(error);
      connectError.metadata.set(REQUEST_ID_HEADER, id);
      throw connectError;
    }
  };
}
