// The driver dashboard end to end: the built page, served by the real server,
// in headless Chromium (Debian's package; playwright-core drives it, nothing
// is downloaded), checked against the API.
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { insertFixtures, type FixtureTrip } from "@driver-analytics/db/testing";
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
    const page = await openPage(`token=${token}`, "?pageSize=50");
    try {
      // The token leaves the address bar at once.
      await expect.poll(() => page.evaluate("window.location.hash")).toBe("");

      const rows = page.locator("#trip-rows tr");
      await expect.poll(() => rows.count()).toBe(50);
      const { stats } = await t.connect.getStats({ driverId: DRIVER });
      expect(stats?.totalTrips).toBe(TRIPS);
      expect(await page.getByTestId("who").textContent()).toBe(`Driver ${DRIVER}`);
      expect(await page.getByTestId("total-trips").textContent()).toBe(String(TRIPS));
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
    const page = await openPage(`token=${await driverToken(OTHER_DRIVER)}`);
    try {
      const earnings = page.getByTestId("total-earnings");
      await expect.poll(() => earnings.textContent()).toBe("¥999");
      expect(await page.getByTestId("average-rating").textContent()).toBe("No ratings yet");
    } finally {
      await page.context().close();
    }
  });
});
