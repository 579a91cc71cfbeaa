import http from "node:http";
import { cors as connectCors } from "@connectrpc/connect";
import type { connectNodeAdapter } from "@connectrpc/connect-node";
import corsMiddleware from "cors";

/** NodeHandlerFn: what connectNodeAdapter returns, for both HTTP/1.1 and HTTP/2 requests. */
export type NodeHandlerFn = ReturnType<typeof connectNodeAdapter>;

/**
 * withCors lets browsers on the allowed origins call the RPCs (connect-es's
 * CORS guidance: its allowed/exposed header lists plus ours) and answers
 * preflight OPTIONS requests itself. No origins: the handler is returned
 * as is, so only same-origin pages (the served dashboard) can call.
 * "*" allows any origin; safe here because credentials are bearer tokens
 * the page must hold, never cookies.
 */
export function withCors(handler: NodeHandlerFn, allowedOrigins: readonly string[]): NodeHandlerFn {
  if (allowedOrigins.length === 0) return handler;
  const middleware = corsMiddleware({
    origin: allowedOrigins.includes("*") ? "*" : [...allowedOrigins],
    methods: [...connectCors.allowedMethods],
    // X-Consistency-Token: read-your-writes across replicas (replicas/consistency.ts).
    allowedHeaders: [...connectCors.allowedHeaders, "Authorization", "X-Request-Id", "X-Consistency-Token"],
    exposedHeaders: [
      ...connectCors.exposedHeaders,
      // Retry advice on UNAVAILABLE: a header for gRPC-Web, a trailer for Connect unary.
      "Grpc-Retry-Pushback-Ms",
      "Trailer-Grpc-Retry-Pushback-Ms",
      // Lets a page quote the id of a failed call to support.
      "X-Request-Id",
      "X-Consistency-Token",
    ],
    // Browsers cap this (Chromium: 2 hours); saves a preflight per call.
    maxAge: 7200,
  });
  return (req, res) => {
    // Only browsers send Origin: every other caller skips the middleware.
    if (req.headers.origin === undefined) return handler(req, res);
    middleware(req as http.IncomingMessage, res as http.ServerResponse, (error?: unknown) => {
      if (error !== undefined) {
        res.statusCode = 500;
        res.end();
        return;
      }
      handler(req, res);
    });
  };
}
