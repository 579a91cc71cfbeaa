// What browsers get besides RPCs: CORS for other origins, and the dashboard's
// static files (only when configured), over the HTTP/1.1 path.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../testing/harness.js";

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** raw sends exactly this request (no URL normalization, any Origin) over HTTP/1.1. */
function raw(port: number, method: string, requestPath: string, headers: Record<string, string> = {}, body?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, method, path: requestPath, headers }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
    });
    request.on("error", reject);
    request.end(body);
  });
}

const RPC = "/driveranalytics.v1.DriverAnalytics/GetStats";
const ALLOWED = "https://dashboard.example";
const PREFLIGHT = {
  "access-control-request-method": "POST",
  "access-control-request-headers": "authorization,content-type,connect-protocol-version,connect-timeout-ms",
};

describe("CORS and the dashboard's files", () => {
  let dir: string;
  let withBoth: TestServer;
  let plain: TestServer;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "dashboard-"));
    writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>dash</title>");
    mkdirSync(path.join(dir, "assets"));
    writeFileSync(path.join(dir, "assets", "app-1234.js"), "console.log(1)");
    writeFileSync(path.join(dir, ".secret"), "no");
    withBoth = await startTestServer({ dashboardDir: dir, corsAllowedOrigins: [ALLOWED] });
    plain = await startTestServer({ testDb: withBoth.testDb });
  });

  afterAll(async () => {
    await plain.close();
    await withBoth.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers a preflight from an allowed origin with connect's headers plus Authorization", async () => {
    const response = await raw(withBoth.port, "OPTIONS", RPC, { origin: ALLOWED, ...PREFLIGHT });
    expect(response.status).toBe(204);
    expect(response.headers["access-control-allow-origin"]).toBe(ALLOWED);
    const allowHeaders = String(response.headers["access-control-allow-headers"]).toLowerCase().split(",");
    for (const header of ["authorization", "content-type", "connect-protocol-version", "connect-timeout-ms", "x-grpc-web", "grpc-timeout"]) {
      expect(allowHeaders).toContain(header);
    }
    expect(String(response.headers["access-control-allow-methods"]).split(",")).toEqual(expect.arrayContaining(["POST", "GET"]));
    expect(response.headers["access-control-max-age"]).toBe("7200");
  });

  it("exposes the gRPC-Web and Connect headers on the actual response", async () => {
    const response = await raw(
      withBoth.port,
      "POST",
      RPC,
      { origin: ALLOWED, "content-type": "application/json", authorization: `Bearer ${withBoth.token}` },
      '{"driverId":"1"}',
    );
    expect(response.status).toBe(404); // no driver 1 here: the RPC ran
    expect(response.headers["access-control-allow-origin"]).toBe(ALLOWED);
    const exposed = String(response.headers["access-control-expose-headers"]).toLowerCase().split(",");
    expect(exposed).toEqual(expect.arrayContaining(["grpc-status", "grpc-message", "grpc-status-details-bin", "grpc-retry-pushback-ms", "x-request-id"]));
  });

  it("gives other origins, and servers without CORS_ALLOWED_ORIGINS, no CORS headers", async () => {
    const other = await raw(withBoth.port, "OPTIONS", RPC, { origin: "https://evil.example", ...PREFLIGHT });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    const none = await raw(plain.port, "OPTIONS", RPC, { origin: ALLOWED, ...PREFLIGHT });
    expect(none.headers["access-control-allow-origin"]).toBeUndefined();
    expect(none.status).not.toBe(204);
  });

  it("serves the dashboard for GET, with a strict CSP on the page and long caching of hashed assets", async () => {
    const index = await raw(withBoth.port, "GET", "/");
    expect(index.status).toBe(200);
    expect(index.headers["content-type"]).toMatch(/^text\/html/);
    expect(index.body).toContain("<title>dash</title>");
    expect(index.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(index.headers["cache-control"]).toBe("no-cache");
    const asset = await raw(withBoth.port, "GET", "/assets/app-1234.js");
    expect(asset.status).toBe(200);
    expect(asset.headers["cache-control"]).toContain("immutable");
    expect((await raw(withBoth.port, "HEAD", "/")).status).toBe(200);
  });

  it("serves nothing outside the directory, no dotfiles, no other methods, and nothing when not configured", async () => {
    for (const requestPath of ["/../package.json", "/%2e%2e/package.json", "/assets/../../etc/passwd", "/.secret", "/missing.html"]) {
      const response = await raw(withBoth.port, "GET", requestPath);
      expect([requestPath, response.status]).toEqual([requestPath, 404]);
    }
    expect((await raw(withBoth.port, "POST", "/", {}, "x")).status).toBe(404);
    expect((await raw(plain.port, "GET", "/")).status).toBe(404);
    // RPC paths still belong to the RPCs.
    const rpc = await raw(withBoth.port, "GET", `${RPC}?encoding=json&message=%7B%7D&connect=v1`);
    expect(rpc.status).toBe(401);
  });
});
