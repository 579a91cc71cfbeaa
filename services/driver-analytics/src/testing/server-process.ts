// The real, built server (dist/main.js) as a child process, for tests that
// need whole processes: HAProxy in front, replicas behind, signals.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { findFreePort } from "@driver-analytics/db";
import { TEST_AUDIENCE, TEST_AUTH_SECRET, TEST_ISSUER } from "./test-auth.js";

export const SERVER_MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

export interface ServerChild {
  process: ChildProcess;
  /** host:port from the "listening" log line. */
  address: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  logs: Record<string, unknown>[];
  /** Every stdout line that is not a JSON log line (the demo banner). */
  text: string[];
  /** GET /metrics straight from this server's admin port (not through a balancer). */
  metrics(): Promise<string>;
}

/** startServerChild starts main.js with the test auth secret and resolves once it listens (every worker, with WORKERS). */
export async function startServerChild(env: Record<string, string>): Promise<ServerChild> {
  if (!existsSync(SERVER_MAIN)) throw new Error(`${SERVER_MAIN} is missing: build the server first`);
  // /metrics is served on the admin port (production serves it nowhere else).
  const adminPort = env.ADMIN_PORT ?? String(await findFreePort());
  const child = spawn(process.execPath, [SERVER_MAIN], {
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      PORT: "0",
      LOG_LEVEL: "info",
      SHUTDOWN_GRACE_MS: "10000",
      AUTH_HS256_SECRET: new TextDecoder().decode(TEST_AUTH_SECRET),
      AUTH_ISSUER: TEST_ISSUER,
      AUTH_AUDIENCE: TEST_AUDIENCE,
      PAGE_TOKEN_SECRET: "a-page-token-secret-for-the-scale-out-tests",
      // Long enough for a client or balancer to see NOT_SERVING before the port closes.
      SHUTDOWN_DRAIN_DELAY_MS: "1000",
      ADMIN_PORT: adminPort,
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      process.off("exit", killOnExit);
      resolve({ code, signal });
    }),
  );
  const workers = Number(env.WORKERS ?? "1");
  const logs: Record<string, unknown>[] = [];
  const text: string[] = [];
  const address = await new Promise<string>((resolve, reject) => {
    let listening = 0;
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === "listening" && ++listening === workers) resolve(String(entry.address));
      } catch {
        text.push(line);
      }
    });
    void exited.then(({ code }) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return {
    process: child,
    address,
    exited,
    logs,
    text,
    async metrics() {
      const response = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
      if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
      return response.text();
    },
  };
}

/** metricValue sums a metric's samples whose labels include every given label. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
