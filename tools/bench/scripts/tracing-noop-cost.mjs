// What tracing's instrumentation costs per call when it is off (no SDK
// registered, the default): the calls one GetStats makes (server span
// start/end, the log fields, the pool-wait and statement wrappers), in a
// loop, against the same loop without them. Too small for the server-level
// tracing-cost run to resolve. After `npx -y pnpm@10.34.8 build`:
//   node tools/bench/scripts/tracing-noop-cost.mjs
import { createRequire } from "node:module";

const server = new URL("../../../services/driver-analytics/", import.meta.url);
const { startCallSpan, endCallSpan, traceLogFields } = await import(new URL("dist/core/call-tracing.js", server).href);
const { tracePoolWait, traceStatement } = await import(new URL("../../packages/db/dist/tracing.js", server).href);
const { context } = createRequire(new URL("package.json", server))("@opentelemetry/api");

const method = { key: "driveranalytics.v1.DriverAnalytics/GetStats", service: "driveranalytics.v1.DriverAnalytics", name: "GetStats", kind: "unary" };
const headers = new Headers({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
const result = { rowCount: 1 };
const acquire = async () => 1;
const statement = async () => result;

async function bare() {
  await acquire();
  await statement();
}
async function traced() {
  const { span, context: traceContext } = startCallSpan(method, headers, "grpc");
  await context.with(traceContext, async () => {
    await tracePoolWait(acquire, () => 0);
    await traceStatement("SELECT 1 FROM drivers WHERE id = $1", statement);
  });
  traceLogFields(span);
  endCallSpan(span, undefined);
}

const N = 1_000_000;
const ns = {};
for (const [name, fn] of [["bare", bare], ["traced", traced], ["bare", bare], ["traced", traced]]) {
  for (let i = 0; i < 200_000; i++) await fn(); // warm-up
  const before = process.cpuUsage();
  for (let i = 0; i < N; i++) await fn();
  const used = process.cpuUsage(before);
  ns[name] = ((used.user + used.system) * 1000) / N;
}
console.log(`Node ${process.version}: ${ns.bare.toFixed(0)} ns/call bare, ${ns.traced.toFixed(0)} ns/call with the tracing calls (no SDK): +${(ns.traced - ns.bare).toFixed(0)} ns per call`);
