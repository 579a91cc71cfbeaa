// A single self-contained HTML page: inline CSS and inline SVG charts drawn
// here, no scripts and no CDN, so it opens offline and can be attached anywhere.
import type { Report } from "./report.js";

const W = 760;
const H = 260;
const PAD = { left: 64, right: 16, top: 16, bottom: 40 };

export function formatHtml(report: Report): string {
  const title = report.name ?? report.options.call ?? `workload ${report.workload?.kind ?? ""}`;
  const ms = (n: number): string => (n / 1e6).toFixed(2);
  const summaryRows: [string, string][] = [
    ["Count", String(report.count)],
    ["Total", `${(report.total / 1e9).toFixed(2)} s`],
    ["Slowest", `${ms(report.slowest)} ms`],
    ["Fastest", `${ms(report.fastest)} ms`],
    ["Average", `${ms(report.average)} ms`],
    ["Requests/sec", report.rps.toFixed(2)],
    ["End reason", report.endReason],
    ["Host", report.options.host],
    ["Protocol", report.options.protocol],
    ["Concurrency / connections", `${report.options.concurrency} / ${report.options.connections}`],
    ["Date", report.date],
  ];
  const g = report.loadGenerator;
  const t = report.timeline;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>${esc(title)} - load report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:${W + 40}px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:3px 12px 3px 0;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
svg{background:#fafafa;border:1px solid #eee}
.axis{font-size:11px;fill:#555}.legend{font-size:12px}
</style></head><body>
<h1>${esc(title)}</h1>
<h2>Summary</h2>
${table(summaryRows)}
<h2>Response time histogram (ms)</h2>
${histogramSvg(report)}
<h2>Latency over time (ms)</h2>
${lineChart(
  t.map((p) => p.time),
  [
    { name: "p99", color: "#d62728", values: t.map((p) => p.p99 / 1e6) },
    { name: "p50", color: "#1f77b4", values: t.map((p) => p.p50 / 1e6) },
    { name: "average", color: "#2ca02c", values: t.map((p) => p.average / 1e6) },
  ],
)}
<h2>Throughput over time (calls/s)</h2>
${lineChart(
  t.map((p) => p.time),
  [
    { name: "completed/s", color: "#1f77b4", values: t.map((p) => p.rps) },
    {
      name: "errors/s",
      color: "#d62728",
      values: t.map((p) => (p.rps > 0 && p.count > 0 ? (p.errors / p.count) * p.rps : 0)),
    },
  ],
)}
<h2>Latency distribution</h2>
${table(report.latencyDistribution.map((p) => [`${p.percentage} %`, `${ms(p.latency)} ms`]))}
<h2>Status code distribution</h2>
${table(Object.entries(report.statusCodeDistribution).map(([k, v]) => [k, String(v)]))}
${
  Object.keys(report.errorDistribution).length > 0
    ? `<h2>Error distribution</h2>\n${table(Object.entries(report.errorDistribution).map(([k, v]) => [String(v), k]))}`
    : ""
}
${
  Object.keys(report.calls).length > 1
    ? `<h2>Per call</h2>\n<table><tr><th>call</th><th>count</th><th>ok</th><th>rps</th><th>avg ms</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th></tr>${Object.entries(
        report.calls,
      )
        .map(
          ([name, c]) =>
            `<tr><td>${esc(name)}</td><td class="n">${c.count}</td><td class="n">${c.ok}</td><td class="n">${c.rps.toFixed(1)}</td>` +
            `<td class="n">${ms(c.average)}</td><td class="n">${ms(c.p50)}</td><td class="n">${ms(c.p90)}</td><td class="n">${ms(c.p99)}</td></tr>`,
        )
        .join("")}</table>`
    : ""
}
<h2>Load generator</h2>
${table([
  ["CPU per call", `${g.cpuMicrosPerCall.toFixed(0)} µs`],
  ["CPU utilization (of one core)", `${(g.cpuUtilization * 100).toFixed(0)} %`],
  ["Event-loop delay p50 / p99 / max", `${g.eventLoopDelayP50Ms.toFixed(1)} / ${g.eventLoopDelayP99Ms.toFixed(1)} / ${g.eventLoopDelayMaxMs.toFixed(1)} ms`],
  ["Max in flight", String(g.maxInFlight)],
  ["Node", g.nodeVersion],
])}
<h2>Options</h2>
<pre>${esc(JSON.stringify(report.options, null, 2))}</pre>
</body></html>
`;
}

function table(rows: readonly (readonly [string, string])[]): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</table>`;
}

function histogramSvg(report: Report): string {
  const buckets = report.histogram;
  if (buckets.length === 0) return "<p>No successful calls.</p>";
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const bw = iw / buckets.length;
  const bars = buckets
    .map((b, i) => {
      const h = (b.count / max) * ih;
      const x = PAD.left + i * bw;
      const y = PAD.top + ih - h;
      return (
        `<rect x="${f(x + 2)}" y="${f(y)}" width="${f(bw - 4)}" height="${f(h)}" fill="#1f77b4"><title>` +
        `≤ ${(b.mark * 1000).toFixed(3)} ms: ${b.count} (${(b.frequency * 100).toFixed(1)} %)</title></rect>` +
        `<text class="axis" x="${f(x + bw / 2)}" y="${f(y - 3)}" text-anchor="middle">${b.count}</text>` +
        `<text class="axis" x="${f(x + bw / 2)}" y="${H - PAD.bottom + 14}" text-anchor="middle">${(b.mark * 1000).toFixed(2)}</text>`
      );
    })
    .join("");
  return svg(`${bars}${axes()}`);
}

interface Series {
  name: string;
  color: string;
  values: number[];
}

function lineChart(xs: number[], series: Series[]): string {
  if (xs.length === 0) return "<p>No data.</p>";
  const xMax = Math.max(...xs, 0.001);
  const yMax = niceMax(Math.max(0.001, ...series.flatMap((s) => s.values)));
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const px = (x: number): number => PAD.left + (x / xMax) * iw;
  const py = (y: number): number => PAD.top + ih - (y / yMax) * ih;
  const lines = series
    .map((s) => {
      const pts = s.values.map((v, i) => `${f(px(xs[i] as number))},${f(py(v))}`).join(" ");
      return `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts}"/>`;
    })
    .join("");
  const ticks: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const y = (yMax * i) / 4;
    ticks.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${f(py(y))}" y2="${f(py(y))}" stroke="#e5e5e5"/>` +
        `<text class="axis" x="${PAD.left - 6}" y="${f(py(y) + 4)}" text-anchor="end">${label(y)}</text>`,
    );
    const x = (xMax * i) / 4;
    ticks.push(`<text class="axis" x="${f(px(x))}" y="${H - PAD.bottom + 14}" text-anchor="middle">${label(x)} s</text>`);
  }
  const legend = series
    .map(
      (s, i) =>
        `<rect x="${PAD.left + 10 + i * 120}" y="${H - 16}" width="12" height="3" fill="${s.color}"/>` +
        `<text class="legend" x="${PAD.left + 26 + i * 120}" y="${H - 11}">${esc(s.name)}</text>`,
    )
    .join("");
  return svg(`${ticks.join("")}${lines}${axes()}${legend}`);
}

function axes(): string {
  const y0 = H - PAD.bottom;
  return (
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y0}" y2="${y0}" stroke="#999"/>` +
    `<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${y0}" stroke="#999"/>`
  );
}

function svg(body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${body}</svg>`;
}

function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function label(v: number): string {
  if (v >= 1000) return `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k`;
  return v >= 10 ? v.toFixed(0) : v.toFixed(v >= 1 ? 1 : 2);
}

const f = (n: number): string => n.toFixed(1);

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
