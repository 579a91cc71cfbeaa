import type http from "node:http";
import http2 from "node:http2";
import { RETRY_PUSHBACK_MS } from "../core/error-mapping.js";
import type { AdmissionController } from "../ops/admission/admission-controller.js";

import type { NodeHandlerFn } from "./cors.js";

type Handler = NodeHandlerFn;
type Request = Parameters<Handler>[0];

const REFUSAL_MESSAGE = "server is at capacity, retry later";
const FINISHED_STREAM_LINGER_MS = 1_000;
const GRPC_UNAVAILABLE = "14";
// Connect's unary error body for Code.Unavailable, and the HTTP status it maps to.
const CONNECT_REFUSAL_BODY = JSON.stringify({ code: "unavailable", message: REFUSAL_MESSAGE });
const GRPC_REFUSAL_MESSAGE = encodeURIComponent(REFUSAL_MESSAGE);
const RETRY_PUSHBACK = String(RETRY_PUSHBACK_MS);
const RETRY_AFTER_SECONDS = String(Math.max(1, Math.ceil(RETRY_PUSHBACK_MS / 1000)));

/**
 * AdmissionGate puts admission control where a call costs least: at an
 * HTTP/2 stream's arrival (its HEADERS frame, before any body is read or
 * decoded and before the token is verified) and at an HTTP/1.1 request's
 * headers. It serves every framework behind the listener, connect-node and
 * grpc-js alike, so both inherit the same limits from one implementation.
 * Only the RPCs of `gatedPrefix` are gated: health, reflection, /metrics and
 * the dashboard answer however busy the server is.
 *
 * A refusal is UNAVAILABLE with retry advice, in the caller's protocol:
 * gRPC and gRPC-Web get a trailers-only response (grpc-status 14,
 * grpc-retry-pushback-ms), Connect gets 503 with Retry-After and its JSON
 * error body.
 */
export class AdmissionGate {
  readonly #controller: AdmissionController;
  readonly #gatedPrefix: string;

  constructor(controller: AdmissionController, gatedPrefix: string) {
    this.#controller = controller;
    this.#gatedPrefix = gatedPrefix;
  }

  /** stream admits or refuses an HTTP/2 stream; `proceed` serves it once admitted. */
  stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, proceed: () => void): void {
    if (!headers[":path"]?.startsWith(this.#gatedPrefix)) return proceed();
    let settled = false;
    const withdraw = this.#controller.acquire(requestTimeoutMs(first(headers["grpc-timeout"]), first(headers["connect-timeout-ms"])), {
      admit: (release) => {
        settled = true;
        if (stream.closed) return release();
        // The response is complete but the client may still be sending (a
        // request too large to read is refused before it is read): HTTP/2
        // lets the server then reset the stream with NO_ERROR (RFC 9113
        // §8.1), which frees its slot. A moment later, so trailers go first.
        // The timer goes with the stream: left to fire, it kept each finished
        // call (stream, headers, response) alive for the linger, long enough
        // to be promoted out of the young generation.
        let linger: NodeJS.Timeout | undefined;
        stream.once("close", () => {
          clearTimeout(linger);
          release();
        });
        stream.once("finish", () => {
          if (stream.closed) return;
          linger = setTimeout(() => {
            if (!stream.closed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
          }, FINISHED_STREAM_LINGER_MS).unref();
        });
        proceed();
      },
      refuse: () => {
        settled = true;
        if (!stream.closed) refuseStream(stream, headers["content-type"]);
      },
    });
    // Waiting: a caller that goes away (cancel, deadline, reset) leaves the queue.
    if (!settled) stream.once("close", withdraw);
  }

  /** wrap gates HTTP/1.1 requests (HTTP/2 streams were gated on arrival) before `handler`. */
  wrap(handler: Handler): Handler {
    return (req, res) => {
      if (req.httpVersionMajor === 2 || !req.url?.startsWith(this.#gatedPrefix)) return handler(req, res);
      let settled = false;
      const withdraw = this.#controller.acquire(
        requestTimeoutMs(header(req, "grpc-timeout"), header(req, "connect-timeout-ms")),
        {
          admit: (release) => {
            settled = true;
            if (res.writableEnded || req.destroyed) return release();
            res.once("close", release);
            handler(req, res);
          },
          refuse: () => {
            settled = true;
            if (!res.headersSent && !res.destroyed) refuseResponse(res as http.ServerResponse, header(req, "content-type"));
          },
        },
      );
      if (!settled) res.once("close", withdraw);
    };
  }
}

function header(req: Request, name: string): string | undefined {
  return first(req.headers[name]);
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isGrpc(contentType: string | undefined): boolean {
  return contentType?.startsWith("application/grpc") ?? false;
}

// No work per refusal beyond the literal (under overload most calls are
// refused). HTTP/2's :status defaults to 200.
function grpcRefusalHeaders(contentType: string): Record<string, string> {
  return {
    "content-type": contentType,
    "grpc-status": GRPC_UNAVAILABLE,
    "grpc-message": GRPC_REFUSAL_MESSAGE,
    "grpc-retry-pushback-ms": RETRY_PUSHBACK,
  };
}

const connectRefusalHeaders = {
  "content-type": "application/json",
  "retry-after": RETRY_AFTER_SECONDS,
  "grpc-retry-pushback-ms": RETRY_PUSHBACK,
};

function refuseStream(stream: http2.ServerHttp2Stream, contentType: string | undefined): void {
  try {
    if (isGrpc(contentType)) {
      stream.respond(grpcRefusalHeaders(contentType!), { endStream: true });
    } else {
      stream.respond({ ":status": 503, ...connectRefusalHeaders });
      stream.end(CONNECT_REFUSAL_BODY);
    }
  } catch {
    // The peer reset the stream meanwhile: nothing left to answer.
  }
}

function refuseResponse(res: http.ServerResponse, contentType: string | undefined): void {
  if (isGrpc(contentType)) {
    res.writeHead(200, grpcRefusalHeaders(contentType!));
    res.end();
  } else {
    res.writeHead(503, connectRefusalHeaders);
    res.end(CONNECT_REFUSAL_BODY);
  }
}

const GRPC_TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * requestTimeoutMs reads the caller's deadline from grpc-timeout (gRPC,
 * gRPC-Web) or connect-timeout-ms (Connect); undefined when there is none
 * or it is malformed (the framework refuses malformed ones after admission).
 */
export function requestTimeoutMs(grpcTimeout: string | undefined, connectTimeoutMs: string | undefined): number | undefined {
  if (grpcTimeout !== undefined) {
    const match = /^(\d{1,8})([HMSmun])$/.exec(grpcTimeout);
    if (match !== null) return Number(match[1]) * GRPC_TIMEOUT_UNIT_MS[match[2]!]!;
  }
  if (connectTimeoutMs !== undefined && /^\d{1,10}$/.test(connectTimeoutMs)) return Number(connectTimeoutMs);
  return undefined;
}
