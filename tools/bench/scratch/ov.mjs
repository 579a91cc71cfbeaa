import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import { openDataset } from "../dist/dataset.js";
import { startServerProcess } from "../dist/server-process.js";
import { runOpenLoop, summarize } from "../dist/open-loop.js";
import { QUICK_PLAN } from "../dist/scenarios.js";
const log = (l) => console.error(l);
const ds = await openDataset(QUICK_PLAN.dataset, "/work/main/.data/bench-postgres-quick", log);
const secret = randomBytes(32).toString("base64");
const token = await new SignJWT({ scope: "driver-analytics:read" }).setProtectedHeader({ alg: "HS256" }).setSubject("service:x").setIssuer("bench").setAudience("driver-analytics").setIssuedAt().setExpirationTime("1h").sign(Buffer.from(secret));
const env = { DATABASE_URL: ds.connectionString, AUTH_HS256_SECRET: secret, AUTH_ISSUER: "bench", AUTH_AUDIENCE: "driver-analytics", STRATEGY: "rollup", SHUTDOWN_DRAIN_DELAY_MS: "0", ADMIN_PORT: "19191", ...JSON.parse(process.env.EXTRA ?? "{}") };
const server = await startServerProcess(env);
try {
  const rates = (process.env.RATES ?? "200,400,800,1600").split(",").map(Number);
  await runOpenLoop({ address: server.address, token, connections: 8, rate: () => 200, durationMs: 3000, deadlineMs: 2000, workload: "stats", drivers: 50 });
  for (const r of rates) {
    const recs = await runOpenLoop({ address: server.address, token, connections: 8, rate: () => r, durationMs: 5000, deadlineMs: 2000, workload: process.env.WORKLOAD ?? "stats", drivers: 50 });
    const s = summarize(recs);
    const m = await (await fetch("http://127.0.0.1:19191/metrics")).text();
    const shed = m.split("\n").filter((l) => l.startsWith("driver_analytics_shed_total{")).map((l) => l.replace(/driver_analytics_shed_total\{reason="([^"]+)"\} /, "$1=")).join(" ");
    const lim = m.split("\n").filter((l) => l.startsWith("driver_analytics_admission{")).map((l) => l.replace(/driver_analytics_admission\{state="([^"]+)"\} /, "$1=")).join(" ");
    console.log(`rate ${r}: ok ${Math.round(s.okPerSecond)}/s (${(100*s.okShare).toFixed(1)}%) adm p50/p99 ${s.admittedP50Ms.toFixed(0)}/${s.admittedP99Ms.toFixed(0)} refused ${(100*s.refusedShare).toFixed(1)}% p50/p99 ${s.refusedP50Ms.toFixed(1)}/${s.refusedP99Ms.toFixed(1)} deadline ${(100*s.deadlineShare).toFixed(1)}% | ${shed} | ${lim}`);
  }
} finally { await server.stop(); await ds.stop(); }
