import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const SERVER_MAIN = fileURLToPath(new URL("../../../services/driver-analytics/dist/main.js", import.meta.url));

export interface ServerProcess {
  /** host:port it listens on. */
  address: string;
  pid: number;
  /** SIGTERM, then wait for the exit code. */
  stop(): Promise<number | null>;
}

/**
 * startServerProcess runs the built server (services/driver-analytics) as a
 * child process, so server and load generator do not share one event loop,
 * and resolves once its "listening" log line arrives.
 */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, [SERVER_MAIN], {
    env: { ...process.env, PORT: "0", LOG_LEVEL: "warn", ...env, DEMO_SEED: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const address = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`server did not start within 60 s: ${stderr}`)), 60_000);
    lines.on("line", (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; address?: string };
        if (entry.msg === "listening" && entry.address !== undefined) {
          clearTimeout(timer);
          resolve(entry.address);
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening: ${stderr}`));
    });
  });
  // The server logs at warn; keep draining stdout so it never blocks.
  child.stdout!.resume();
  return {
    address,
    pid: child.pid!,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
}
