import type { Client } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { DriverAnalytics, DriverStats, Money, Trip } from "@driver-analytics/proto";
import { SeriesGranularity, TripStatus } from "@driver-analytics/proto";
import { createApi, describeError } from "./api.js";
import { chartPoints, destroyChart, renderChart, renderTable } from "./chart.js";
import {
  credentialsFromFragment,
  CredentialsError,
  loadCredentials,
  resolveCredentials,
  saveCredentials,
  type Credentials,
} from "./credentials.js";
import { formatMoney } from "./money.js";
import {
  addDays,
  choiceFromQuery,
  customProblem,
  dayOf,
  queryOfChoice,
  resolvePeriod,
  type PeriodChoice,
  type ResolvedPeriod,
} from "./periods.js";
import "./style.css";

const DEFAULT_PAGE_SIZE = 50;

function $(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from index.html`);
  return element;
}

const numberFormat = new Intl.NumberFormat(undefined);
const kilometers = new Intl.NumberFormat(undefined, { style: "unit", unit: "kilometer", maximumFractionDigits: 1 });
const hours = new Intl.NumberFormat(undefined, { style: "unit", unit: "hour", maximumFractionDigits: 1 });
const ratingFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const rangeFormat = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
const dayDate = (day: string) => new Date(`${day}T00:00:00Z`);

const PERIOD_NAMES: Record<PeriodChoice["kind"], string> = {
  today: "Today",
  week: "This week",
  month: "This month",
  last30: "Last 30 days",
  custom: "Custom range",
  all: "All time",
};

/**
 * Panel: one section's loading, empty and error states. Each panel loads on
 * its own; a failure shows in that panel with its own Retry.
 */
class Panel {
  readonly #section: HTMLElement;
  readonly #status: HTMLElement;

  constructor(id: string) {
    this.#section = $(id);
    const status = this.#section.querySelector<HTMLElement>(".panel-status");
    if (status === null) throw new Error(`#${id} has no .panel-status`);
    this.#status = status;
  }

  loading(): void {
    this.#section.setAttribute("aria-busy", "true");
    this.#section.classList.add("is-loading");
    this.#section.classList.remove("is-error", "is-empty");
    this.#say("Loading…", "loading");
  }

  ready(empty: boolean): void {
    this.#section.setAttribute("aria-busy", "false");
    this.#section.classList.remove("is-loading", "is-error");
    this.#section.classList.toggle("is-empty", empty);
    if (empty) this.#say("No trips in this period.", "empty");
    else this.#status.replaceChildren();
    this.#status.dataset.state = empty ? "empty" : "ready";
  }

  failed(message: string, retry: () => void): void {
    this.#section.setAttribute("aria-busy", "false");
    this.#section.classList.remove("is-loading", "is-empty");
    this.#section.classList.add("is-error");
    const text = document.createElement("p");
    text.textContent = message;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Retry";
    button.addEventListener("click", retry);
    const box = document.createElement("div");
    box.className = "panel-error";
    box.setAttribute("role", "alert");
    box.append(text, button);
    this.#status.replaceChildren(box);
    this.#status.dataset.state = "error";
  }

  #say(text: string, state: string): void {
    const p = document.createElement("p");
    p.textContent = text;
    this.#status.replaceChildren(p);
    this.#status.dataset.state = state;
  }
}

/** Session: one driver's dashboard for the chosen period, and the paging state of its trip list. */
class Session {
  readonly #api: Client<typeof DriverAnalytics>;
  readonly #panels = { chart: new Panel("chart-panel"), stats: new Panel("stats"), trips: new Panel("trips") };
  #timeZone = "UTC";
  #tripTime = tripTimeFormat("UTC");
  #period: ResolvedPeriod | undefined;
  /** Bumped on every period change: answers for an older period are dropped. */
  #generation = 0;
  #abort = new AbortController();
  #nextPageToken = "";
  #loaded = 0;
  #loadingMore = false;
  /** What the page-level Retry button does after the first call failed. */
  #retry: (() => Promise<void>) | undefined;

  constructor(
    readonly credentials: Credentials,
    readonly pageSize: number,
  ) {
    this.#api = createApi(credentials.token);
  }

  /** today is the date in the driver's time zone. */
  today(): string {
    return dayOf(Date.now(), this.#timeZone);
  }

  /** start learns the driver's time zone (a one-day series), then shows the chosen period. */
  async start(choice: PeriodChoice): Promise<void> {
    $("who").textContent = `Driver ${this.credentials.driverId}`;
    $("zone").textContent = "";
    $("dashboard").hidden = true;
    $("loading").hidden = false;
    hideError();
    try {
      const today = new Date().toISOString().slice(0, 10);
      const probe = await this.#api.getEarningsSeries({
        driverId: this.credentials.driverId,
        startDay: today,
        endDay: addDays(today, 1),
        granularity: SeriesGranularity.DAY,
      });
      this.#timeZone = probe.timeZone;
      this.#tripTime = tripTimeFormat(probe.timeZone);
      this.#retry = undefined;
    } catch (error) {
      this.#retry = () => this.start(choice);
      showError(describeError(error, this.credentials.driverId));
      return;
    } finally {
      $("loading").hidden = true;
    }
    $("zone").textContent = `Days and times in ${this.#timeZone}`;
    $("dashboard").hidden = false;
    this.show(choice);
  }

  /** show resolves the choice now, in the driver's zone, and loads the three panels for it. */
  show(choice: PeriodChoice): void {
    const period = resolvePeriod(choice, this.#timeZone, Date.now());
    this.#period = period;
    this.#abort.abort();
    this.#abort = new AbortController();
    const generation = ++this.#generation;
    renderPeriod(period);
    void this.#loadChart(period, generation);
    void this.#loadStats(period, generation);
    void this.#loadTrips(period, generation);
  }

  retry(): Promise<void> {
    return this.#retry?.() ?? Promise.resolve();
  }

  #current(generation: number): boolean {
    return generation === this.#generation;
  }

  #fail(panel: Panel, error: unknown, generation: number, retry: () => void): void {
    if (!this.#current(generation)) return;
    panel.failed(describeError(error, this.credentials.driverId), retry);
  }

  #windowRequest(period: ResolvedPeriod) {
    return period.window === undefined
      ? {}
      : { startTime: timestampFromMs(period.window.startMs), endTime: timestampFromMs(period.window.endMs) };
  }

  async #loadChart(period: ResolvedPeriod, generation: number): Promise<void> {
    const panel = this.#panels.chart;
    panel.loading();
    const { startDay, endDay, granularity } = period.chart;
    const per = granularity === "day" ? "day" : "week";
    $("chart-title").textContent =
      period.choice.kind === "all" ? "Earnings per week, last 52 weeks" : `Earnings per ${per}`;
    $("chart-bucket-head").textContent = granularity === "day" ? "Day" : "Week";
    try {
      const series = await this.#api.getEarningsSeries(
        {
          driverId: this.credentials.driverId,
          startDay,
          endDay,
          granularity: granularity === "day" ? SeriesGranularity.DAY : SeriesGranularity.WEEK,
        },
        { signal: this.#abort.signal },
      );
      if (!this.#current(generation)) return;
      const points = chartPoints(series.buckets);
      const currency = series.buckets[0]?.totalEarnings?.currencyCode ?? "USD";
      const empty = points.every((p) => p.trips === 0);
      const figure = $("chart-figure");
      $("chart-table-caption").textContent = `${$("chart-title").textContent}, ${$("period-label").textContent}`;
      renderTable($("chart-rows"), points, granularity, currency);
      figure.hidden = empty;
      ($("chart-details") as HTMLDetailsElement).hidden = empty;
      if (empty) {
        destroyChart();
        delete figure.dataset.plotted;
      } else {
        renderChart(figure, $("chart-canvas") as HTMLCanvasElement, points, granularity, currency, this.today());
      }
      panel.ready(empty);
    } catch (error) {
      this.#fail(panel, error, generation, () => void this.#loadChart(period, generation));
    }
  }

  async #loadStats(period: ResolvedPeriod, generation: number): Promise<void> {
    const panel = this.#panels.stats;
    panel.loading();
    $("stats-title").textContent = period.choice.kind === "all" ? "All-time stats" : `${PERIOD_NAMES[period.choice.kind]}: stats`;
    try {
      const { stats } = await this.#api.getStats(
        { driverId: this.credentials.driverId, ...this.#windowRequest(period) },
        { signal: this.#abort.signal },
      );
      if (!this.#current(generation) || stats === undefined) return;
      renderStats(stats);
      panel.ready(stats.totalTrips === 0n);
    } catch (error) {
      this.#fail(panel, error, generation, () => void this.#loadStats(period, generation));
    }
  }

  async #loadTrips(period: ResolvedPeriod, generation: number): Promise<void> {
    const panel = this.#panels.trips;
    panel.loading();
    $("trip-rows").replaceChildren();
    $("trips-status").textContent = "";
    $("more").hidden = true;
    this.#loaded = 0;
    this.#nextPageToken = "";
    try {
      const page = await this.#api.listTrips(
        { driverId: this.credentials.driverId, pageSize: this.pageSize, ...this.#windowRequest(period) },
        { signal: this.#abort.signal },
      );
      if (!this.#current(generation)) return;
      this.#appendTrips(page.trips, page.nextPageToken);
      panel.ready(this.#loaded === 0);
    } catch (error) {
      this.#fail(panel, error, generation, () => void this.#loadTrips(period, generation));
    }
  }

  /** more loads the next page of the period's trips (the token is bound to the same window). */
  async more(): Promise<void> {
    const period = this.#period;
    if (this.#loadingMore || this.#nextPageToken === "" || period === undefined) return;
    const generation = this.#generation;
    this.#loadingMore = true;
    setMoreLoading(true);
    try {
      const page = await this.#api.listTrips(
        {
          driverId: this.credentials.driverId,
          pageSize: this.pageSize,
          pageToken: this.#nextPageToken,
          ...this.#windowRequest(period),
        },
        { signal: this.#abort.signal },
      );
      if (!this.#current(generation)) return;
      this.#appendTrips(page.trips, page.nextPageToken);
      this.#panels.trips.ready(false);
    } catch (error) {
      this.#fail(this.#panels.trips, error, generation, () => {
        this.#panels.trips.ready(false);
        void this.more();
      });
    } finally {
      this.#loadingMore = false;
      setMoreLoading(false);
    }
  }

  #appendTrips(trips: Trip[], nextPageToken: string): void {
    $("trip-rows").append(...trips.map((trip) => tripRow(trip, this.#tripTime)));
    this.#loaded += trips.length;
    this.#nextPageToken = nextPageToken;
    $("more").hidden = nextPageToken === "";
    $("trips-status").textContent =
      this.#loaded === 0
        ? ""
        : nextPageToken === ""
          ? `All ${numberFormat.format(this.#loaded)} trips shown.`
          : `${numberFormat.format(this.#loaded)} trips shown.`;
  }
}

function renderPeriod(period: ResolvedPeriod): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>("[data-period]")) {
    button.setAttribute("aria-pressed", String(button.dataset.period === period.choice.kind));
  }
  const name = PERIOD_NAMES[period.choice.kind];
  const label =
    period.days === undefined
      ? name
      : `${name}: ${rangeFormat.formatRange(dayDate(period.days.startDay), dayDate(addDays(period.days.endDay, -1)))}`;
  $("period-label").textContent = label;
  const form = $("custom-form");
  if (period.choice.kind === "custom") {
    form.hidden = false;
    ($("custom-from") as HTMLInputElement).value = period.choice.from;
    ($("custom-to") as HTMLInputElement).value = period.choice.to;
  } else {
    form.hidden = true;
  }
}

function renderStats(stats: DriverStats): void {
  $("total-trips").textContent = numberFormat.format(stats.totalTrips);
  $("trips-breakdown").textContent =
    `${numberFormat.format(stats.completedTrips)} completed · ${numberFormat.format(stats.cancelledTrips)} cancelled`;
  const earnings = $("total-earnings");
  if (stats.totalEarnings !== undefined) {
    earnings.textContent = formatMoney(stats.totalEarnings);
    earnings.dataset.amountMinor = stats.totalEarnings.amountMinor.toString();
    earnings.dataset.currency = stats.totalEarnings.currencyCode;
  }
  $("earnings-breakdown").textContent =
    stats.fareEarnings !== undefined && stats.tipEarnings !== undefined
      ? `${formatMoney(stats.fareEarnings)} fares · ${formatMoney(stats.tipEarnings)} tips`
      : "";
  $("average-rating").textContent = stats.averageRating === undefined ? "No ratings yet" : `${ratingFormat.format(stats.averageRating)} ★`;
  $("rating-breakdown").textContent = `from ${numberFormat.format(stats.ratedTrips)} reviews`;
  $("distance").textContent = kilometers.format(Number(stats.totalDistanceMeters) / 1000);
  $("duration").textContent = `${hours.format(Number(stats.totalDurationSeconds) / 3600)} driving`;
}

/** tripTimeFormat writes a trip's time in the driver's zone, with the year only when it is not this year's. */
function tripTimeFormat(timeZone: string): (date: Date) => string {
  const withYear = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone });
  const withoutYear = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZone });
  const year = (date: Date) => dayOf(date.getTime(), timeZone).slice(0, 4);
  return (date) => (year(date) === year(new Date()) ? withoutYear : withYear).format(date);
}

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.textContent = text;
  if (className !== undefined) td.className = className;
  return td;
}

function tripRow(trip: Trip, time: (date: Date) => string): HTMLTableRowElement {
  const row = document.createElement("tr");
  row.dataset.tripId = trip.tripId.toString();
  const completed = trip.completeTime === undefined ? undefined : new Date(Number(trip.completeTime.seconds) * 1000);
  const money = (m: Money | undefined) => (m === undefined ? "—" : formatMoney(m));
  const status = trip.status === TripStatus.CANCELLED ? "Cancelled" : trip.status === TripStatus.COMPLETED ? "Completed" : "—";
  row.append(
    cell(completed === undefined ? "—" : time(completed)),
    cell(status, trip.status === TripStatus.CANCELLED ? "cancelled" : undefined),
    cell(kilometers.format(Number(trip.distanceMeters) / 1000), "num"),
    cell(money(trip.payment?.fare), "num"),
    cell(money(trip.payment?.tip), "num"),
    cell(money(trip.payment?.total), "num"),
    cell(trip.review === undefined ? "—" : "★".repeat(trip.review.rating), "rating"),
  );
  return row;
}

function setMoreLoading(loading: boolean): void {
  const more = $("more") as HTMLButtonElement;
  more.disabled = loading;
  more.textContent = loading ? "Loading…" : "Load more trips";
}

function showError(message: string): void {
  $("error-text").textContent = message;
  $("error").hidden = false;
}

function hideError(): void {
  $("error").hidden = true;
}

function pageSizeFromQuery(): number {
  const raw = new URLSearchParams(window.location.search).get("pageSize");
  const size = raw === null ? NaN : Number(raw);
  return Number.isInteger(size) && size >= 1 && size <= 1000 ? size : DEFAULT_PAGE_SIZE;
}

/** choiceFromLocation reads the period from the address bar; a bad one is noted beside the selector. */
function choiceFromLocation(): PeriodChoice {
  const search = new URLSearchParams(window.location.search);
  const { choice, problem } = choiceFromQuery(search);
  // The address bar always names the period shown (none given, or a bad one: this week).
  const canonical = queryOfChoice(choice, search).toString();
  if (`?${canonical}` !== window.location.search) {
    window.history.replaceState(null, "", `${window.location.pathname}?${canonical}`);
  }
  const note = $("period-note");
  note.textContent = problem ?? "";
  note.hidden = problem === undefined;
  return choice;
}

function bootstrap(): void {
  const pageSize = pageSizeFromQuery();
  let session: Session | undefined;
  const open = (credentials: Credentials) => {
    saveCredentials(sessionStorage, credentials);
    ($("token-panel") as HTMLDetailsElement).open = false;
    session = new Session(credentials, pageSize);
    void session.start(choiceFromLocation());
  };

  // A new period is a new history entry (only the period: never the token), so back and forward work.
  const choose = (choice: PeriodChoice) => {
    if (session === undefined) return;
    $("period-note").hidden = true;
    const query = queryOfChoice(choice, new URLSearchParams(window.location.search)).toString();
    if (`?${query}` !== window.location.search) window.history.pushState(null, "", `${window.location.pathname}?${query}`);
    session.show(choice);
  };
  window.addEventListener("popstate", () => session?.show(choiceFromLocation()));

  for (const button of document.querySelectorAll<HTMLButtonElement>("[data-period]")) {
    button.addEventListener("click", () => {
      const kind = button.dataset.period as PeriodChoice["kind"];
      if (kind === "custom") {
        // Opens the range form, prefilled with the period on screen (or the last 7 days).
        const form = $("custom-form");
        form.hidden = false;
        const from = $("custom-from") as HTMLInputElement;
        const to = $("custom-to") as HTMLInputElement;
        if (from.value === "" || to.value === "") {
          const today = session?.today() ?? dayOf(Date.now(), "UTC");
          from.value = addDays(today, -6);
          to.value = today;
        }
        from.focus();
        return;
      }
      choose({ kind });
    });
  }
  $("custom-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const from = ($("custom-from") as HTMLInputElement).value;
    const to = ($("custom-to") as HTMLInputElement).value;
    const problem = customProblem(from, to);
    const box = $("custom-problem");
    box.textContent = problem ?? "";
    box.hidden = problem === undefined;
    if (problem === undefined) choose({ kind: "custom", from, to });
  });

  $("more").addEventListener("click", () => void session?.more());
  $("retry").addEventListener("click", () => void session?.retry());
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    try {
      open(resolveCredentials(String(form.get("token") ?? ""), String(form.get("driver") ?? "")));
    } catch (error) {
      if (!(error instanceof CredentialsError)) throw error;
      showError(error.message);
    }
  });

  let credentials: Credentials | undefined;
  try {
    credentials = credentialsFromFragment(window.location, window.history) ?? loadCredentials(sessionStorage);
  } catch (error) {
    if (!(error instanceof CredentialsError)) throw error;
    showError(error.message);
  }
  if (credentials === undefined) {
    ($("token-panel") as HTMLDetailsElement).open = true;
    return;
  }
  open(credentials);
}

bootstrap();
