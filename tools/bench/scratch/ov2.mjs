import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import fs from "node:fs";
import { SignJWT } from "jose";
import { openDataset } from "../dist/dataset.js";
import { runOpenLoop, summarize } from "../dist/open-loop.js";
import { QUICK_PLAN } from "../dist/scenarios.js";
const ds = await openDataset(QUICK_PLAN.dataset, "/work/main/.data/bench-postgres-quick", () => {});
const secret = randomBytes(32).toString("base64");
const token = await new SignJWT({ scope: "driver-analytics:read" }).setProtectedHeader({ alg: "HS256" }).setSubject("service:x").setIssuer("bench").setAudience("driver-analytics").setIssuedAt().setExpirationTime("1h").sign(Buffer.from(secret));
const out = fs.openSync("/tmp/ov2-server.log", "w");
const child = spawn(process.execPath, ["/work/main/services/driver-analytics/dist/main.js"], { env: { ...process.env, DATABASE_URL: ds.connectionString, AUTH_HS256_SECRET: secret, AUTH_ISSUER: "bench", AUTH_AUDIENCE: "driver-analytics", PORT: "19292", ADMIN_PORT: "19191", LOG_LEVEL: "warn", SHUTDOWN_DRAIN_DELAY_MS: "0", DEMO_SEED: "false" }, stdio: ["ignore", out, out] });
child.on("exit", (c, s) => console.log("SERVER EXIT", c, s));
await new Promise((r) => setTimeout(r, 3000));
for (const r of (process.env.RATES ?? "4000").split(",").map(Number)) {
  const recs = await runOpenLoop({ address: "127.0.0.1:19292", token, connections: 8, rate: () => r, durationMs: 5000, deadlineMs: 2000, workload: "stats", drivers: 50, threads: Number(process.env.THREADS ?? 2) });
  const s = summarize(recs);
  console.log(`rate ${r}: ok ${Math.round(s.okPerSecond)}/s (${(100*s.okShare).toFixed(1)}%) adm p50/p99 ${s.admittedP50Ms.toFixed(0)}/${s.admittedP99Ms.toFixed(0)} refused ${(100*s.refusedShare).toFixed(1)}% p50/p99 ${s.refusedP50Ms.toFixed(1)}/${s.refusedP99Ms.toFixed(1)} deadline ${(100*s.deadlineShare).toFixed(1)}% other ${(100*s.otherShare).toFixed(1)}%`);
}
child.kill("SIGTERM"); await new Promise((r) => setTimeout(r, 1000)); await ds.stop();
