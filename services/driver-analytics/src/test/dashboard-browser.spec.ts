// The driver dashboard end to end: the built page, served by the real server,
// in headless Chromium (Debian's package; playwright-core drives it, nothing
// is downloaded), checked against the API.
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { seedDataset } from "@driver-analytics/db";
import { insertFixtures, type FixtureTrip } from "@driver-analytics/db/testing";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { SeriesGranularity, type EarningsBucket } from "@driver-analytics/proto";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundledDashboardDir } from "../auth/demo-access.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { driverToken } from "../testing/test-auth.js";

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM_PATH);
if (!hasChromium) {
  console.warn(
    `SKIPPED dashboard browser tests: no Chromium at ${CHROMIUM_PATH} ` +
      "(apt-get install -y chromium, or set CHROMIUM_PATH to a Chromium/Chrome binary)",
  );
}
const ARTIFACTS = fileURLToPath(new URL("../../../../test-artifacts/", import.meta.url));
const LAUNCH_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const DRIVER = 7n;
const OTHER_DRIVER = 8n;
const TRIPS = 123n;
const HOUR = 3_600_000_000n;
const T0 = 1_750_000_000_000_000n;

describe.skipIf(!hasChromium)("driver dashboard in headless Chromium", () => {
  let t: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    const dashboardDir = bundledDashboardDir();
    if (dashboardDir === undefined) {
      throw new Error("the dashboard is not built: npx -y pnpm@10.34.8 --filter @driver-analytics/dashboard build");
    }
    t = await startTestServer({ dashboardDir });
    const trips: FixtureTrip[] = [];
    for (let i = 0n; i < TRIPS; i++) {
      trips.push({
        driverId: DRIVER,
        status: i % 10n === 3n ? "cancelled" : "completed",
        completedAtMicros: T0 + i * HOUR,
        distanceMeters: 1_000n + i * 37n,
        fareMinor: 1_250n + i,
        tipMinor: i % 3n === 0n ? 200n : 0n,
        ...(i % 4n === 0n ? {} : { review: { rating: Number((i % 5n) + 1n) } }),
      });
    }
    trips.push({ driverId: OTHER_DRIVER, completedAtMicros: T0, fareMinor: 999n });
    await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: DRIVER, currencyCode: "EUR" }, { id: OTHER_DRIVER, currencyCode: "JPY" }],
      trips,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: LAUNCH_ARGS, headless: true });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function openPage(fragment: string, query = ""): Promise<Page> {
    const context = await browser.newContext({ locale: "en-US", timezoneId: "UTC", viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${t.baseUrl}/${query}#${fragment}`);
    return page;
  }

  it("shows the driver's stats as the API gives them and pages through every trip with “more”", async () => {
    const token = await driverToken(DRIVER);
    const page = await openPage(`token=${token}`, "?pageSize=50&period=all");
    try {
      // The token leaves the address bar at once.
      await expect.poll(() => page.evaluate("window.location.hash")).toBe("");

      const rows = page.locator("#trip-rows tr");
      await expect.poll(() => rows.count()).toBe(50);
      const { stats } = await t.connect.getStats({ driverId: DRIVER });
      expect(stats?.totalTrips).toBe(TRIPS);
      expect(await page.getByTestId("who").textContent()).toBe(`Driver ${DRIVER}`);
      // The cards and the list load as separate panels: the cards may come second.
      await expect.poll(() => page.getByTestId("total-trips").textContent()).toBe(String(TRIPS));
      const earnings = page.getByTestId("total-earnings");
      expect(await earnings.getAttribute("data-amount-minor")).toBe(String(stats!.totalEarnings!.amountMinor));
      const euros = `${stats!.totalEarnings!.amountMinor / 100n}.${String(stats!.totalEarnings!.amountMinor % 100n).padStart(2, "0")}`;
      expect(await earnings.textContent()).toBe(
        new Intl.NumberFormat("en-US", { style: "currency", currency: "EUR" }).format(euros as `${number}`),
      );
      expect(await page.getByTestId("average-rating").textContent()).toBe(`${stats!.averageRating!.toFixed(2)} ★`);

      // The next page waits on a held request: the button shows it is loading.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      await page.route("**/driveranalytics.v1.DriverAnalytics/ListTrips", async (route) => {
        await held;
        await route.continue();
      });
      const more = page.getByTestId("more");
      await more.click();
      await expect.poll(() => more.textContent()).toBe("Loading…");
      expect(await more.isDisabled()).toBe(true);
      release();
      await expect.poll(() => rows.count()).toBe(100);
      await page.unroute("**/driveranalytics.v1.DriverAnalytics/ListTrips");

      await more.click();
      await expect.poll(() => rows.count()).toBe(Number(TRIPS));
      expect(await more.isHidden()).toBe(true);
      expect(await page.getByTestId("trips-status").textContent()).toBe(`All ${TRIPS} trips shown.`);

      // Every trip once, in the API's order.
      const shown = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-trip-id")));
      const api = await t.connect.listTrips({ driverId: DRIVER, pageSize: 1000 });
      expect(shown).toEqual(api.trips.map((trip) => String(trip.tripId)));
      expect(await page.getByTestId("error").isHidden()).toBe(true);

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
    } finally {
      await page.context().close();
    }
  });

  it("explains a refused token and another driver's id, and shows nothing of theirs", async () => {
    const refused = await openPage(`token=not.a.token&driver=${DRIVER}`);
    try {
      const error = refused.getByTestId("error");
      await error.waitFor({ state: "visible" });
      expect(await error.textContent()).toContain("Your token was not accepted");
      expect(await refused.getByTestId("stats").isHidden()).toBe(true);
    } finally {
      await refused.context().close();
    }

    const other = await openPage(`token=${await driverToken(DRIVER)}&driver=${OTHER_DRIVER}`);
    try {
      const error = other.getByTestId("error");
      await error.waitFor({ state: "visible" });
      expect(await error.textContent()).toContain(`This token may not read driver ${OTHER_DRIVER}'s data.`);
      expect(await other.locator("#trip-rows tr").count()).toBe(0);
    } finally {
      await other.context().close();
    }
  });

  it("formats a zero-decimal currency (JPY) with no minor digits", async () => {
    const page = await openPage(`token=${await driverToken(OTHER_DRIVER)}`, "?period=all");
    try {
      const earnings = page.getByTestId("total-earnings");
      await expect.poll(() => earnings.textContent()).toBe("¥999");
      expect(await page.getByTestId("average-rating").textContent()).toBe("No ratings yet");
    } finally {
      await page.context().close();
    }
  });
});

// ---------------------------------------------------------------------------
// Periods: the page's period arithmetic against the server's own calendar, then
// every period in the browser against GetStats, GetEarningsSeries and ListTrips.

// The dashboard's pure period module, loaded from its source (it is not part of
// this package's build; the path is computed so tsc does not pull it in).
interface PeriodsModule {
  startOfDay(day: string, timeZone: string): number;
  addDays(day: string, n: number): string;
  bucketDays(startDay: string, endDay: string, granularity: "day" | "week"): string[];
  resolvePeriod(
    choice: { kind: string; from?: string; to?: string },
    timeZone: string,
    nowMs: number,
  ): { window?: { startMs: number; endMs: number }; chart: { startDay: string; endDay: string; granularity: "day" | "week" } };
}
const PERIODS_MODULE = new URL("../../../../packages/dashboard/src/periods.ts", import.meta.url).href;
const loadPeriods = async () => (await import(PERIODS_MODULE)) as PeriodsModule;

const MS = 1000n; // microseconds per millisecond

describe("the dashboard's period arithmetic against GetEarningsSeries' bucket days", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  // Days around DST changes (New York, Berlin, Santiago's at midnight), a +05:30
  // zone, month ends and a leap day.
  const ZONES = [
    { id: 101n, timeZone: "America/New_York", days: ["2026-03-07", "2026-03-08", "2026-03-09", "2026-10-31", "2026-11-01", "2026-11-02"] },
    { id: 102n, timeZone: "Europe/Berlin", days: ["2026-03-28", "2026-03-29", "2026-03-30", "2026-10-24", "2026-10-25", "2026-10-26"] },
    { id: 103n, timeZone: "America/Santiago", days: ["2026-04-04", "2026-04-05", "2026-09-05", "2026-09-06", "2026-09-07"] },
    { id: 104n, timeZone: "Asia/Kolkata", days: ["2028-02-28", "2028-02-29", "2028-03-01", "2026-12-31", "2027-01-01"] },
  ];

  it("puts a trip at each computed day start and just before each day end on that very day", async () => {
    const periods = await loadPeriods();
    const trips: FixtureTrip[] = [];
    for (const zone of ZONES) {
      for (const day of zone.days) {
        const start = BigInt(periods.startOfDay(day, zone.timeZone)) * MS;
        const end = BigInt(periods.startOfDay(periods.addDays(day, 1), zone.timeZone)) * MS;
        // 2 trips on the day, at its first and its last microsecond: a window off by one hour or one microsecond moves one.
        trips.push({ driverId: zone.id, completedAtMicros: start, fareMinor: 100n });
        trips.push({ driverId: zone.id, completedAtMicros: end - 1n, fareMinor: 10n });
      }
    }
    await insertFixtures(t.testDb.connectionString, {
      drivers: ZONES.map((z) => ({ id: z.id, timeZone: z.timeZone })),
      trips,
    });

    for (const zone of ZONES) {
      for (const day of zone.days) {
        const next = periods.addDays(day, 1);
        const series = await t.connect.getEarningsSeries({ driverId: zone.id, startDay: day, endDay: next, granularity: SeriesGranularity.DAY });
        expect(series.timeZone).toBe(zone.timeZone);
        expect(series.buckets.map((b) => [b.startDay, b.totalTrips, b.totalEarnings?.amountMinor])).toEqual([[day, 2n, 110n]]);
        // The page's window for that day is what GetStats and ListTrips count.
        const { window } = periods.resolvePeriod({ kind: "custom", from: day, to: day }, zone.timeZone, 0);
        const bounds = { startTime: timestampFromMs(window!.startMs), endTime: timestampFromMs(window!.endMs) };
        const { stats } = await t.connect.getStats({ driverId: zone.id, ...bounds });
        expect([day, stats?.totalTrips, stats?.totalEarnings?.amountMinor]).toEqual([day, 2n, 110n]);
        const page = await t.connect.listTrips({ driverId: zone.id, pageSize: 10, ...bounds });
        expect(page.trips).toHaveLength(2);
      }
    }
  });

  it("names the same bucket days as the server, per day and per ISO week", async () => {
    const periods = await loadPeriods();
    for (const [startDay, endDay] of [["2028-02-01", "2028-03-02"], ["2026-02-27", "2026-12-31"], ["2026-11-01", "2026-11-02"]] as const) {
      for (const granularity of ["day", "week"] as const) {
        const series = await t.connect.getEarningsSeries({
          driverId: 101n,
          startDay,
          endDay,
          granularity: granularity === "day" ? SeriesGranularity.DAY : SeriesGranularity.WEEK,
        });
        expect(series.buckets.map((b) => b.startDay)).toEqual(periods.bucketDays(startDay, endDay, granularity));
      }
    }
  });
});

// The browser's clock is pinned to a Sunday afternoon in New York on the day
// DST begins: this week (Mon 2 - Sun 8 March 2026) is 167 hours long.
const PERIOD_DRIVER = 9n;
const PERIOD_ZONE = "America/New_York";
const NOW = Date.parse("2026-03-08T18:00:00Z"); // 14:00 EDT
const PINNED_TODAY = "2026-03-08";
const iso = (s: string) => BigInt(Date.parse(s)) * MS;

// The windows each period must have, written out by hand (not computed by the page's module).
const PERIOD_CASES = [
  { kind: "week", label: "This week", start: "2026-03-02T05:00:00Z", end: "2026-03-09T04:00:00Z", days: ["2026-03-02", "2026-03-09"], granularity: "day" },
  { kind: "today", label: "Today", start: "2026-03-08T05:00:00Z", end: "2026-03-09T04:00:00Z", days: ["2026-03-08", "2026-03-09"], granularity: "day" },
  { kind: "month", label: "This month", start: "2026-03-01T05:00:00Z", end: "2026-04-01T04:00:00Z", days: ["2026-03-01", "2026-04-01"], granularity: "day" },
  { kind: "last30", label: "Last 30 days", start: "2026-02-07T05:00:00Z", end: "2026-03-09T04:00:00Z", days: ["2026-02-07", "2026-03-09"], granularity: "day" },
  // Across February's end (not a leap year), chosen in the form.
  { kind: "custom", from: "2026-02-27", to: "2026-03-03", label: "Custom range", start: "2026-02-27T05:00:00Z", end: "2026-03-04T05:00:00Z", days: ["2026-02-27", "2026-03-04"], granularity: "day" },
  // Longer than 62 days: ISO weeks, the first one starting on the Monday before.
  { kind: "custom", from: "2026-01-01", to: "2026-03-08", label: "Custom range", start: "2026-01-01T05:00:00Z", end: "2026-03-09T04:00:00Z", days: ["2026-01-01", "2026-03-09"], granularity: "week" },
] as const;

interface Plotted {
  granularity: string;
  startDays: string[];
  datasets: { label: string; data: (number | null)[] }[];
}

describe.skipIf(!hasChromium)("driver dashboard periods and chart in headless Chromium", () => {
  let t: TestServer;
  let browser: Browser;
  const fixtureTrips: { id: bigint; completedAtMicros: bigint }[] = [];

  beforeAll(async () => {
    const dashboardDir = bundledDashboardDir();
    if (dashboardDir === undefined) {
      throw new Error("the dashboard is not built: npx -y pnpm@10.34.8 --filter @driver-analytics/dashboard build");
    }
    t = await startTestServer({ dashboardDir });
    const trips: FixtureTrip[] = [];
    // A trip every 7 hours from mid-December up to an hour before "now", ...
    let i = 0n;
    for (let at = iso("2025-12-15T00:00:00Z"); at < BigInt(NOW) * MS - HOUR; at += 7n * HOUR, i++) {
      trips.push({
        driverId: PERIOD_DRIVER,
        status: i % 11n === 5n ? "cancelled" : "completed",
        completedAtMicros: at,
        distanceMeters: 2_000n + i * 13n,
        fareMinor: 900n + ((i * 37n) % 2_000n),
        tipMinor: i % 3n === 0n ? 150n + i : 0n,
        ...(i % 4n === 1n ? {} : { review: { rating: Number((i % 5n) + 1n) } }),
      });
    }
    // ... and trips on the edges of the windows: on the first microsecond of a
    // period (in it) and on the last microsecond before it (not in it).
    for (const edge of ["2026-03-02T05:00:00Z", "2026-03-08T05:00:00Z", "2026-03-01T05:00:00Z", "2026-02-07T05:00:00Z", "2026-02-27T05:00:00Z", "2026-03-04T05:00:00Z"]) {
      trips.push({ driverId: PERIOD_DRIVER, completedAtMicros: iso(edge), fareMinor: 4_321n, tipMinor: 99n });
      trips.push({ driverId: PERIOD_DRIVER, completedAtMicros: iso(edge) - 1n, fareMinor: 1_234n, tipMinor: 1n });
    }
    const ids = await insertFixtures(t.testDb.connectionString, {
      drivers: [{ id: PERIOD_DRIVER, currencyCode: "EUR", timeZone: PERIOD_ZONE }],
      trips,
    });
    trips.forEach((trip, n) => fixtureTrips.push({ id: ids[n]!, completedAtMicros: trip.completedAtMicros }));
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: LAUNCH_ARGS, headless: true });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function openPinned(query: string, width = 1280): Promise<Page> {
    const context = await browser.newContext({ locale: "en-US", timezoneId: "UTC", viewport: { width, height: 900 } });
    await context.clock.setFixedTime(NOW);
    const page = await context.newPage();
    await page.goto(`${t.baseUrl}/${query}#token=${await driverToken(PERIOD_DRIVER)}`);
    return page;
  }

  /** settled waits until no panel is loading and returns their states. */
  async function settled(page: Page): Promise<Record<string, string | null>> {
    const ids = ["chart-status", "stats-status", "trips-panel-status"];
    const states = () => Promise.all(ids.map((id) => page.getByTestId(id).getAttribute("data-state")));
    // Every panel has finished (before the first load a panel has no state at all).
    await expect
      .poll(async () => (await states()).every((state) => state === "ready" || state === "empty" || state === "error"))
      .toBe(true);
    const final = await states();
    return Object.fromEntries(ids.map((id, n) => [id, final[n] ?? null]));
  }

  const eur = (minor: bigint) =>
    new Intl.NumberFormat("en-US", { style: "currency", currency: "EUR" }).format(
      `${minor / 100n}.${String(minor % 100n).padStart(2, "0")}` as `${number}`,
    );

  async function checkPeriod(page: Page, c: (typeof PERIOD_CASES)[number]): Promise<void> {
    const startMs = Date.parse(c.start);
    const endMs = Date.parse(c.end);
    const window = { startTime: timestampFromMs(startMs), endTime: timestampFromMs(endMs) };
    expect(await settled(page)).toEqual({ "chart-status": "ready", "stats-status": "ready", "trips-panel-status": "ready" });
    expect(await page.getByTestId("period-label").textContent()).toContain(c.label);
    expect(await page.getByTestId(`period-${c.kind}`).getAttribute("aria-pressed")).toBe("true");

    // Cards: GetStats for exactly this window.
    const { stats } = await t.connect.getStats({ driverId: PERIOD_DRIVER, ...window });
    expect(stats!.totalTrips).toBeGreaterThan(0n);
    expect(await page.getByTestId("total-trips").textContent()).toBe(String(stats!.totalTrips));
    expect(await page.getByTestId("trips-breakdown").textContent()).toBe(`${stats!.completedTrips} completed · ${stats!.cancelledTrips} cancelled`);
    expect(await page.getByTestId("total-earnings").getAttribute("data-amount-minor")).toBe(String(stats!.totalEarnings!.amountMinor));
    expect(await page.getByTestId("total-earnings").textContent()).toBe(eur(stats!.totalEarnings!.amountMinor));
    expect(await page.getByTestId("earnings-breakdown").textContent()).toBe(
      `${eur(stats!.fareEarnings!.amountMinor)} fares · ${eur(stats!.tipEarnings!.amountMinor)} tips`,
    );

    // Chart: the plotted arrays and the accessible table equal GetEarningsSeries' buckets.
    const series = await t.connect.getEarningsSeries({
      driverId: PERIOD_DRIVER,
      startDay: c.days[0],
      endDay: c.days[1],
      granularity: c.granularity === "day" ? SeriesGranularity.DAY : SeriesGranularity.WEEK,
    });
    expect(series.timeZone).toBe(PERIOD_ZONE);
    const buckets: EarningsBucket[] = series.buckets;
    const fare = (b: EarningsBucket) => b.totalEarnings!.amountMinor - b.tipEarnings!.amountMinor;
    const plotted = JSON.parse((await page.getByTestId("chart-figure").getAttribute("data-plotted")) ?? "null") as Plotted;
    expect(plotted.granularity).toBe(c.granularity);
    expect(plotted.startDays).toEqual(buckets.map((b) => b.startDay));
    expect(plotted.datasets).toEqual([
      { label: "Fares", data: buckets.map((b) => Number(fare(b)) / 100) },
      { label: "Tips", data: buckets.map((b) => Number(b.tipEarnings!.amountMinor) / 100) },
      // The trips line stops at today (the pinned clock's day): days to come have no point.
      { label: "Trips", data: buckets.map((b) => (b.startDay <= PINNED_TODAY ? Number(b.totalTrips) : null)) },
    ]);
    const table = await page.locator("#chart-rows tr").evaluateAll((trs) =>
      trs.map((tr) => [tr.getAttribute("data-start-day"), tr.getAttribute("data-trips"), tr.getAttribute("data-fare-minor"), tr.getAttribute("data-tip-minor")]),
    );
    expect(table).toEqual(buckets.map((b) => [b.startDay, String(b.totalTrips), String(fare(b)), String(b.tipEarnings!.amountMinor)]));
    // Zero-filled: every day (or week) of the chart is there, trips or not.
    expect(buckets.length).toBe(c.granularity === "day" ? (Date.parse(c.days[1]) - Date.parse(c.days[0])) / 86_400_000 : buckets.length);
    // The buckets add up to the cards (a week bucket holds only the range's days).
    expect(buckets.reduce((n, b) => n + b.totalTrips, 0n)).toBe(stats!.totalTrips);
    expect(buckets.reduce((n, b) => n + b.totalEarnings!.amountMinor, 0n)).toBe(stats!.totalEarnings!.amountMinor);
    const canvasLabel = await page.locator("#chart-canvas").getAttribute("aria-label");
    expect(canvasLabel).toContain(eur(stats!.totalEarnings!.amountMinor));

    // Trips: page through with "more"; exactly the window's trips, newest first.
    const more = page.getByTestId("more");
    while (await more.isVisible()) {
      const before = await page.locator("#trip-rows tr").count();
      await more.click();
      await expect.poll(() => page.locator("#trip-rows tr").count()).toBeGreaterThan(before);
    }
    const shown = await page.locator("#trip-rows tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-trip-id")));
    const expected = fixtureTrips
      .filter((trip) => trip.completedAtMicros >= BigInt(startMs) * MS && trip.completedAtMicros < BigInt(endMs) * MS)
      .sort((a, b) => (a.completedAtMicros === b.completedAtMicros ? Number(b.id - a.id) : Number(b.completedAtMicros - a.completedAtMicros)))
      .map((trip) => String(trip.id));
    expect(shown).toEqual(expected);
    const api = await t.connect.listTrips({ driverId: PERIOD_DRIVER, pageSize: 1000, ...window });
    expect(shown).toEqual(api.trips.map((trip) => String(trip.tripId)));
    expect(BigInt(shown.length)).toBe(stats!.totalTrips);
    expect(await page.getByTestId("trips-status").textContent()).toBe(`All ${shown.length} trips shown.`);

    // The address bar keeps the period, never the token.
    const url = new URL(page.url());
    expect(url.searchParams.get("period")).toBe(c.kind);
    expect(url.hash).toBe("");
    expect(page.url()).not.toContain("token");
  }

  it("shows each period's cards, chart and trips as the API gives them for its window; back and forward work", async () => {
    const page = await openPinned("?pageSize=40");
    try {
      // The zone is learnt from the API after the page has loaded.
      await expect.poll(() => page.getByTestId("zone").textContent()).toBe(`Days and times in ${PERIOD_ZONE}`);
      // No period in the URL: this week.
      await checkPeriod(page, PERIOD_CASES[0]);
      for (const c of PERIOD_CASES.slice(1)) {
        if (c.kind === "custom") {
          await page.getByTestId("period-custom").click();
          await page.getByTestId("custom-from").fill(c.from);
          await page.getByTestId("custom-to").fill(c.to);
          await page.getByTestId("custom-apply").click();
          expect(new URL(page.url()).searchParams.get("from")).toBe(c.from);
          expect(new URL(page.url()).searchParams.get("to")).toBe(c.to);
        } else {
          await page.getByTestId(`period-${c.kind}`).click();
        }
        await checkPeriod(page, c);
      }

      // Back: the short custom range, then last 30 days; forward again.
      await page.goBack();
      await checkPeriod(page, PERIOD_CASES[4]);
      await page.goBack();
      await checkPeriod(page, PERIOD_CASES[3]);
      await page.goForward();
      await checkPeriod(page, PERIOD_CASES[4]);

      // All time stays one click away: the all-time cards and a 52-week chart.
      await page.getByTestId("period-all").click();
      expect(await settled(page)).toEqual({ "chart-status": "ready", "stats-status": "ready", "trips-panel-status": "ready" });
      const { stats } = await t.connect.getStats({ driverId: PERIOD_DRIVER });
      expect(await page.getByTestId("total-trips").textContent()).toBe(String(stats!.totalTrips));
      const plotted = JSON.parse((await page.getByTestId("chart-figure").getAttribute("data-plotted")) ?? "null") as Plotted;
      expect(plotted.startDays).toHaveLength(52);
      expect(plotted.startDays.at(-1)).toBe("2026-03-02");
      expect(new URL(page.url()).searchParams.get("period")).toBe("all");
    } finally {
      await page.context().close();
    }
  });

  it("says so when a period has no trips, refuses a backwards range, and shows a failed panel with its own Retry", async () => {
    const page = await openPinned("?period=custom&from=2025-06-01&to=2025-06-07");
    try {
      expect(await settled(page)).toEqual({ "chart-status": "empty", "stats-status": "empty", "trips-panel-status": "empty" });
      for (const id of ["chart-status", "stats-status", "trips-panel-status"]) {
        expect(await page.getByTestId(id).textContent()).toBe("No trips in this period.");
      }
      expect(await page.getByTestId("chart-figure").isHidden()).toBe(true);
      expect(await page.getByTestId("total-trips").textContent()).toBe("0");

      await page.getByTestId("period-custom").click();
      await page.getByTestId("custom-from").fill("2026-03-05");
      await page.getByTestId("custom-to").fill("2026-03-01");
      await page.getByTestId("custom-apply").click();
      expect(await page.getByTestId("custom-problem").textContent()).toContain("cannot be before");
      expect(new URL(page.url()).searchParams.get("from")).toBe("2025-06-01");

      // The series call fails (the connection drops): only the chart says so, with a Retry that works.
      await page.route("**/driveranalytics.v1.DriverAnalytics/GetEarningsSeries", (route) => route.abort("connectionreset"));
      await page.getByTestId("period-week").click();
      const states = await settled(page);
      expect(states).toEqual({ "chart-status": "error", "stats-status": "ready", "trips-panel-status": "ready" });
      const chartStatus = page.getByTestId("chart-status");
      expect(await chartStatus.getByRole("alert").textContent()).toContain("cannot be reached");
      expect(await page.getByTestId("chart-figure").isHidden()).toBe(true);
      await page.unroute("**/driveranalytics.v1.DriverAnalytics/GetEarningsSeries");
      await chartStatus.getByRole("button", { name: "Retry" }).click();
      await expect.poll(() => chartStatus.getAttribute("data-state")).toBe("ready");
      expect(await page.getByTestId("chart-figure").isVisible()).toBe(true);
      expect(await page.getByTestId("error").isHidden()).toBe(true);
    } finally {
      await page.context().close();
    }
  });
});

// The demo data the start command seeds, with the real clock: this week has trips.
const DEMO_DATASET = { drivers: 20, tripsPerDriver: 600, historyDays: 120, reviewRatio: 0.8, cancelledRatio: 0.04, seed: 1 };

describe.skipIf(!hasChromium)("the demo dashboard today (screenshots at 375 px and 1280 px)", () => {
  let t: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    const dashboardDir = bundledDashboardDir();
    if (dashboardDir === undefined) {
      throw new Error("the dashboard is not built: npx -y pnpm@10.34.8 --filter @driver-analytics/dashboard build");
    }
    t = await startTestServer({ dashboardDir });
    await seedDataset(t.testDb.connectionString, DEMO_DATASET); // history ends now, as in demo mode
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: LAUNCH_ARGS, headless: true });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  for (const width of [375, 1280]) {
    it(`shows driver 1's earnings chart for this week with data at ${width} px`, async () => {
      const context = await browser.newContext({ locale: "en-US", viewport: { width, height: 900 }, deviceScaleFactor: 1 });
      const page = await context.newPage();
      // Under the server's strict CSP (script-src/style-src 'self'): no violation, no error in the console.
      const consoleErrors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") consoleErrors.push(message.text());
      });
      page.on("pageerror", (error) => consoleErrors.push(error.message));
      try {
        await page.goto(`${t.baseUrl}/#token=${await driverToken(1n)}`);
        const chartStatus = page.getByTestId("chart-status");
        await expect.poll(() => chartStatus.getAttribute("data-state")).toBe("ready");
        await expect.poll(() => page.getByTestId("trips-panel-status").getAttribute("data-state")).toBe("ready");
        expect(await page.getByTestId("period-week").getAttribute("aria-pressed")).toBe("true");
        const plotted = JSON.parse((await page.getByTestId("chart-figure").getAttribute("data-plotted")) ?? "null") as Plotted;
        expect(plotted.startDays).toHaveLength(7);
        const trips = plotted.datasets.find((d) => d.label === "Trips")!.data;
        expect(trips.reduce<number>((a, b) => a + (b ?? 0), 0)).toBeGreaterThan(0);
        // The chart fits the page: no sideways scrolling on a phone.
        expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(width);
        const box = await page.locator("#chart-canvas").boundingBox();
        expect(box!.width).toBeGreaterThan(width * 0.8);
        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: `${ARTIFACTS}dashboard-${width}.png`, fullPage: true });

        // The last 30 days, per day: a month of bars still fits the width.
        await page.getByTestId("period-last30").click();
        await expect.poll(() => chartStatus.getAttribute("data-state")).toBe("ready");
        const month = JSON.parse((await page.getByTestId("chart-figure").getAttribute("data-plotted")) ?? "null") as Plotted;
        expect(month.startDays).toHaveLength(30);
        expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(width);
        await page.locator("#chart-panel").screenshot({ path: `${ARTIFACTS}dashboard-${width}-last30-chart.png` });
        expect(consoleErrors).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
