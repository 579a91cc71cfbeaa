import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { findFreePort } from "@driver-analytics/db";

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
 * and resolves once it accepts connections. It logs at warn, as a loaded
 * production server would: one line per failed call, none per success.
 */
export async function startServerProcess(
  env: Record<string, string>,
  command: string[] = [SERVER_MAIN],
  executable: string = process.execPath,
): Promise<ServerProcess> {
  const port = await findFreePort();
  const child = spawn(executable, command, {
    env: { ...process.env, LOG_LEVEL: "warn", ...env, HOST: "127.0.0.1", PORT: String(port), DEMO_SEED: "false" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  // Never leave a server behind, whatever ends this process.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      process.off("exit", killOnExit);
      exitCode = code;
      resolve(code);
    }),
  );
  const deadline = Date.now() + 60_000;
  while (!(await accepts(port))) {
    if (exitCode !== undefined) throw new Error(`server exited with ${exitCode} before listening: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`server did not listen within 60 s: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    address: `127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (exitCode === undefined) child.kill("SIGTERM");
      return exited;
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** haproxyInstalled: whether an `haproxy` binary is on PATH (the rows that need one skip, or say so, without). */
export function haproxyInstalled(): boolean {
  return spawnSync("haproxy", ["-v"]).error === undefined;
}
