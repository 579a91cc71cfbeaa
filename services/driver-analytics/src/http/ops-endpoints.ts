import http from "node:http";
import type http2 from "node:http2";
import type net from "node:net";
import type { Registry } from "prom-client";
import type { HealthMonitor } from "../ops/health.js";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;
type Handler = (req: Request, res: Response) => void;

export interface OpsSources {
  /** Absent: /metrics is not served here (it belongs on the admin port). */
  metrics?: Registry | undefined;
  health: HealthMonitor;
}

/**
 * serveOpsEndpoint answers the two plain-HTTP operations paths and returns
 * true, or returns false for any other path:
 * - GET /metrics: Prometheus text format;
 * - GET /healthz: 200 "SERVING" or 503 "NOT_SERVING", the gRPC health of the
 *   server, for HTTP-only checkers (the gRPC Health service is the same truth).
 */
export function serveOpsEndpoint(req: Request, res: Response, ops: OpsSources): boolean {
  const path = req.url?.split("?", 1)[0];
  const registry = ops.metrics;
  if (path !== "/healthz" && (path !== "/metrics" || registry === undefined)) return false;
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, "text/plain; charset=utf-8", "method not allowed\n", { allow: "GET, HEAD" });
    return true;
  }
  if (path === "/healthz") {
    const serving = ops.health.serving;
    send(res, serving ? 200 : 503, "text/plain; charset=utf-8", serving ? "SERVING\n" : "NOT_SERVING\n");
    return true;
  }
  registry!.metrics().then(
    (text) => send(res, 200, registry!.contentType, text),
    () => send(res, 500, "text/plain; charset=utf-8", "metrics unavailable\n"),
  );
  return true;
}

/**
 * withOpsEndpoints serves /healthz (and /metrics, when given a registry)
 * beside the RPCs, on the same port (HTTP/1.1 or h2c), and hands everything
 * else to the RPC handler. Neither path can collide with an RPC, whose paths
 * are /<package.Service>/<Method>. /healthz tells no more than the gRPC
 * health service on the same port, and balancers (HAProxy) check it there;
 * /metrics is on the RPC port in demo mode only, else on the admin port.
 */
export function withOpsEndpoints(handler: Handler, ops: OpsSources): Handler {
  return (req, res) => {
    if (!serveOpsEndpoint(req, res, ops)) handler(req, res);
  };
}

/**
 * AdminServer serves /metrics and /healthz, and nothing else, on a port of
 * their own (ADMIN_PORT), which a deployment keeps off the public network.
 * It outlives the RPC port's drain, so checkers see NOT_SERVING throughout.
 */
export class AdminServer {
  readonly #server: http.Server;

  constructor(ops: OpsSources) {
    // A plain http.Server that listens itself: Node arms its header and request timeouts.
    this.#server = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
      if (!serveOpsEndpoint(req, res, ops)) send(res, 404, "text/plain; charset=utf-8", "not found\n");
    });
  }

  listen(port: number, host: string): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        resolve(this.#server.address() as net.AddressInfo);
      });
    });
  }

  /** close stops at once: a scrape or check cut short is retried by its tool. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

function send(res: Response, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  // The two response classes share this surface but not a type.
  const r = res as http.ServerResponse;
  r.writeHead(status, { "content-type": contentType, "cache-control": "no-store", ...extra });
  r.end(r.req?.method === "HEAD" ? undefined : body);
}
