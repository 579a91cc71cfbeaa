// The earnings chart: fares and tips stacked per day or ISO week, trips as a
// line on their own axis, from GetEarningsSeries' zero-filled buckets.
// Chart.js (tree-shaken, bundled by Vite) draws it on a canvas; the canvas is
// role="img" with a one-sentence summary, and a table beside it holds every
// bucket for screen readers and anyone who prefers numbers.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
} from "chart.js";
import type { EarningsBucket } from "@driver-analytics/proto";
import { formatMoney, minorToDecimal, minorUnitExponent } from "./money.js";
import type { Day, Granularity } from "./periods.js";

Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend);

/** One bucket as the chart uses it: exact minor units, and the numbers plotted. */
export interface ChartPoint {
  startDay: Day;
  trips: number;
  fareMinor: bigint;
  tipMinor: bigint;
}

export function chartPoints(buckets: EarningsBucket[]): ChartPoint[] {
  return buckets.map((b) => {
    const total = b.totalEarnings?.amountMinor ?? 0n;
    const tip = b.tipEarnings?.amountMinor ?? 0n;
    return { startDay: b.startDay, trips: Number(b.totalTrips), fareMinor: total - tip, tipMinor: tip };
  });
}

/** A date of the calendar as a Date at its UTC midnight, to format without any zone shift. */
function dayDate(day: Day): Date {
  return new Date(`${day}T00:00:00Z`);
}

const short = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
const weekdayShort = new Intl.DateTimeFormat(undefined, { weekday: "short", timeZone: "UTC" });
const dayNumber = new Intl.DateTimeFormat(undefined, { day: "numeric", timeZone: "UTC" });
const long = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
const weekOf = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });

/** bucketLabel is how a bucket is named in the table and the tooltip. */
export function bucketLabel(day: Day, granularity: Granularity): string {
  return granularity === "day" ? long.format(dayDate(day)) : `Week of ${weekOf.format(dayDate(day))}`;
}

function axisLabel(day: Day, granularity: Granularity, count: number): string | string[] {
  // A week fits on a phone as two short lines per day: "Mon" over "30".
  if (granularity === "day" && count <= 7) return [weekdayShort.format(dayDate(day)), dayNumber.format(dayDate(day))];
  return short.format(dayDate(day));
}

function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value === "" ? fallback : value;
}

let current: Chart | undefined;

export function destroyChart(): void {
  current?.destroy();
  current = undefined;
}

/**
 * renderChart draws points into canvas and records the plotted data on the
 * figure (data-plotted: the exact arrays Chart.js holds) for tests and tools.
 */
export function renderChart(
  figure: HTMLElement,
  canvas: HTMLCanvasElement,
  points: ChartPoint[],
  granularity: Granularity,
  currencyCode: string,
  today: Day,
): void {
  destroyChart();
  const exponent = minorUnitExponent(currencyCode);
  const major = (minor: bigint) => Number(minorToDecimal(minor, exponent));
  const money = (minor: bigint) => formatMoney({ currencyCode, amountMinor: minor });
  const axisMoney = new Intl.NumberFormat(undefined, { style: "currency", currency: currencyCode, maximumFractionDigits: 0, minimumFractionDigits: 0 });
  const muted = cssVar("--muted", "#5b6576");
  const line = cssVar("--line", "#dfe3ea");
  const compact = canvas.parentElement !== null && canvas.parentElement.clientWidth < 520;

  // Days (weeks) still to come have no trips line: it stops at today, it does not drop to zero.
  const trips = points.map((p) => (p.startDay <= today ? p.trips : null));
  const config: ChartConfiguration<"bar" | "line", (number | null)[], string | string[]> = {
    type: "bar",
    data: {
      labels: points.map((p) => axisLabel(p.startDay, granularity, points.length)),
      datasets: [
        {
          type: "bar",
          label: "Fares",
          data: points.map((p) => major(p.fareMinor)),
          backgroundColor: cssVar("--fare", "#0b6bcb"),
          stack: "earnings",
          yAxisID: "money",
          order: 2,
          minBarLength: 0,
        },
        {
          type: "bar",
          label: "Tips",
          data: points.map((p) => major(p.tipMinor)),
          backgroundColor: cssVar("--tip", "#2f9e6e"),
          stack: "earnings",
          yAxisID: "money",
          order: 2,
        },
        {
          type: "line",
          label: "Trips",
          data: trips,
          spanGaps: false,
          borderColor: cssVar("--trips", "#b35c00"),
          backgroundColor: cssVar("--trips", "#b35c00"),
          borderWidth: 2,
          pointRadius: points.length > 40 ? 0 : 3,
          pointHoverRadius: 5,
          tension: 0,
          yAxisID: "trips",
          order: 1,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "top", align: "start", labels: { boxWidth: 12, color: muted, sort: (a, b) => (a.datasetIndex ?? 0) - (b.datasetIndex ?? 0) } },
        tooltip: {
          callbacks: {
            title: (items) => {
              const point = points[items[0]?.dataIndex ?? 0];
              return point === undefined ? "" : bucketLabel(point.startDay, granularity);
            },
            label: (item) => {
              const point = points[item.dataIndex];
              if (point === undefined) return "";
              if (item.datasetIndex === 0) return `Fares: ${money(point.fareMinor)}`;
              if (item.datasetIndex === 1) return `Tips: ${money(point.tipMinor)}`;
              return `Trips: ${point.trips}`;
            },
            footer: (items) => {
              const point = points[items[0]?.dataIndex ?? 0];
              return point === undefined ? "" : `Total: ${money(point.fareMinor + point.tipMinor)}`;
            },
          },
        },
      },
      scales: {
        x: {
          stacked: true,
          grid: { display: false },
          ticks: { color: muted, maxRotation: 0, autoSkip: true, autoSkipPadding: compact ? 6 : 12 },
        },
        money: {
          type: "linear",
          position: "left",
          stacked: true,
          beginAtZero: true,
          grid: { color: line },
          ticks: { color: muted, callback: (value) => axisMoney.format(Number(value)), maxTicksLimit: compact ? 5 : 7 },
        },
        trips: {
          type: "linear",
          position: "right",
          beginAtZero: true,
          grid: { display: false },
          title: { display: !compact, text: "trips", color: muted },
          ticks: { color: muted, precision: 0, maxTicksLimit: compact ? 5 : 7 },
        },
      },
    },
  };
  current = new Chart(canvas, config);
  figure.dataset.plotted = JSON.stringify({
    granularity,
    startDays: points.map((p) => p.startDay),
    datasets: current.data.datasets.map((d) => ({ label: d.label, data: d.data })),
  });
  const total = points.reduce((sum, p) => sum + p.fareMinor + p.tipMinor, 0n);
  const best = points.reduce<ChartPoint | undefined>(
    (a, p) => (a === undefined || p.fareMinor + p.tipMinor > a.fareMinor + a.tipMinor ? p : a),
    undefined,
  );
  const unit = granularity === "day" ? "day" : "week";
  canvas.setAttribute(
    "aria-label",
    `Bar chart of earnings per ${unit}, ${points.length} ${unit}s, ${money(total)} in all` +
      (best === undefined ? "" : `; the best ${unit} is ${bucketLabel(best.startDay, granularity)} with ${money(best.fareMinor + best.tipMinor)}`) +
      ". The table below lists every " + unit + ".",
  );
}

/** renderTable fills the accessible table: one row per bucket, exact amounts in data attributes. */
export function renderTable(tbody: HTMLElement, points: ChartPoint[], granularity: Granularity, currencyCode: string): void {
  const money = (minor: bigint) => formatMoney({ currencyCode, amountMinor: minor });
  tbody.replaceChildren(
    ...points.map((p) => {
      const row = document.createElement("tr");
      row.dataset.startDay = p.startDay;
      row.dataset.trips = String(p.trips);
      row.dataset.fareMinor = p.fareMinor.toString();
      row.dataset.tipMinor = p.tipMinor.toString();
      if (p.trips === 0) row.className = "zero";
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = bucketLabel(p.startDay, granularity);
      const cells = [String(p.trips), money(p.fareMinor), money(p.tipMinor), money(p.fareMinor + p.tipMinor)].map((text) => {
        const td = document.createElement("td");
        td.className = "num";
        td.textContent = text;
        return td;
      });
      row.append(th, ...cells);
      return row;
    }),
  );
}
