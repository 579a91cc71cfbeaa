import type http from "node:http";
import type http2 from "node:http2";
import type { Registry } from "prom-client";
import type { HealthMonitor } from "../ops/health.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;
type Handler = (req: Request, res: Response) => void;

/**
 * withOpsEndpoints serves two plain-HTTP paths beside the RPCs, on the same
 * port (HTTP/1.1 or h2c), and hands everything else to the RPC handler:
 * - GET /metrics: Prometheus text format;
 * - GET /healthz: 200 "SERVING" or 503 "NOT_SERVING", the gRPC health of the
 *   server, for HTTP-only checkers (the gRPC Health service is the same truth).
 * Neither path can collide with an RPC, whose paths are /<package.Service>/<Method>.
 */
export function withOpsEndpoints(handler: Handler, ops: { metrics: Registry; health: HealthMonitor }): Handler {
  return (req, res) => {
    const path = req.url?.split("?", 1)[0];
    if (path !== "/metrics" && path !== "/healthz") return handler(req, res);
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, "text/plain; charset=utf-8", "method not allowed\n", { allow: "GET, HEAD" });
      return;
    }
    if (path === "/healthz") {
      const serving = ops.health.serving;
      send(res, serving ? 200 : 503, "text/plain; charset=utf-8", serving ? "SERVING\n" : "NOT_SERVING\n");
      return;
    }
    ops.metrics.metrics().then(
      (text) => send(res, 200, ops.metrics.contentType, text),
      () => send(res, 500, "text/plain; charset=utf-8", "metrics unavailable\n"),
    );
  };
}

function send(res: Response, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  // The two response classes share this surface but not a type.
  const r = res as http.ServerResponse;
  r.writeHead(status, { "content-type": contentType, "cache-control": "no-store", ...extra });
  r.end(r.req?.method === "HEAD" ? undefined : body);
}
