import type http from "node:http";
import sirv from "sirv";
import type { NodeHandlerFn } from "./cors.js";

// The dashboard talks to this origin only; nothing inline, nothing third-party.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * dashboardFiles serves the built dashboard (GET and HEAD, index.html for
 * "/") as the RPC router's fallback, so RPC paths never reach it. Everything
 * else is 404. Vite's hashed /assets/ are cached for good; the page itself is
 * revalidated so a new build shows up at once.
 */
export function dashboardFiles(dir: string): NodeHandlerFn {
  const serve = sirv(dir, {
    etag: true,
    dotfiles: false,
    setHeaders(res, pathname) {
      res.setHeader("X-Content-Type-Options", "nosniff");
      res.setHeader("Referrer-Policy", "no-referrer");
      if (pathname.startsWith("/assets/")) {
        res.setHeader("Cache-Control", "public, max-age=31536000, immutable");
      } else {
        res.setHeader("Cache-Control", "no-cache");
        res.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
      }
    },
  });
  return (req, res) => {
    const reply404 = () => {
      res.statusCode = 404;
      res.setHeader("Content-Type", "text/plain; charset=utf-8");
      res.end("not found\n");
    };
    if (req.method !== "GET" && req.method !== "HEAD") return reply404();
    serve(req as http.IncomingMessage, res as http.ServerResponse, reply404);
  };
}
