import type { Client } from "@connectrpc/connect";
import type { DriverAnalytics, DriverStats, Money, Trip } from "@driver-analytics/proto";
import { TripStatus } from "@driver-analytics/proto";
import { createApi, describeError } from "./api.js";
import {
  credentialsFromFragment,
  CredentialsError,
  loadCredentials,
  resolveCredentials,
  saveCredentials,
  type Credentials,
} from "./credentials.js";
import { formatMoney } from "./money.js";
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
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** Session: one driver's dashboard, and the paging state of its trip list. */
class Session {
  readonly #api: Client<typeof DriverAnalytics>;
  #nextPageToken = "";
  #loaded = 0;
  #busy = false;
  /** What the Retry button does after a failure. */
  #retry: (() => Promise<void>) | undefined;

  constructor(
    readonly credentials: Credentials,
    readonly pageSize: number,
  ) {
    this.#api = createApi(credentials.token);
  }

  async start(): Promise<void> {
    $("who").textContent = `Driver ${this.credentials.driverId}`;
    $("trip-rows").replaceChildren();
    $("stats").hidden = true;
    $("trips").hidden = true;
    await this.#run(async () => {
      const { driverId } = this.credentials;
      const [stats, page] = await Promise.all([
        this.#api.getStats({ driverId }),
        this.#api.listTrips({ driverId, pageSize: this.pageSize }),
      ]);
      if (stats.stats !== undefined) renderStats(stats.stats);
      this.#appendTrips(page.trips, page.nextPageToken);
      $("stats").hidden = false;
      $("trips").hidden = false;
    }, () => this.start());
  }

  async more(): Promise<void> {
    if (this.#busy || this.#nextPageToken === "") return;
    await this.#run(async () => {
      const page = await this.#api.listTrips({
        driverId: this.credentials.driverId,
        pageSize: this.pageSize,
        pageToken: this.#nextPageToken,
      });
      this.#appendTrips(page.trips, page.nextPageToken);
    }, () => this.more());
  }

  retry(): Promise<void> {
    return this.#retry?.() ?? Promise.resolve();
  }

  async #run(work: () => Promise<void>, retry: () => Promise<void>): Promise<void> {
    this.#busy = true;
    setLoading(true);
    hideError();
    try {
      await work();
      this.#retry = undefined;
    } catch (error) {
      this.#retry = retry;
      showError(describeError(error, this.credentials.driverId));
    } finally {
      this.#busy = false;
      setLoading(false);
    }
  }

  #appendTrips(trips: Trip[], nextPageToken: string): void {
    $("trip-rows").append(...trips.map(tripRow));
    this.#loaded += trips.length;
    this.#nextPageToken = nextPageToken;
    const more = $("more") as HTMLButtonElement;
    more.hidden = nextPageToken === "";
    $("trips-status").textContent =
      this.#loaded === 0
        ? "No trips yet."
        : nextPageToken === ""
          ? `All ${numberFormat.format(this.#loaded)} trips shown.`
          : `${numberFormat.format(this.#loaded)} trips shown.`;
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

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement("td");
  td.textContent = text;
  if (className !== undefined) td.className = className;
  return td;
}

function tripRow(trip: Trip): HTMLTableRowElement {
  const row = document.createElement("tr");
  row.dataset.tripId = trip.tripId.toString();
  const completed = trip.completeTime === undefined ? undefined : new Date(Number(trip.completeTime.seconds) * 1000);
  const money = (m: Money | undefined) => (m === undefined ? "—" : formatMoney(m));
  const status = trip.status === TripStatus.CANCELLED ? "Cancelled" : trip.status === TripStatus.COMPLETED ? "Completed" : "—";
  row.append(
    cell(completed === undefined ? "—" : dateFormat.format(completed)),
    cell(status, trip.status === TripStatus.CANCELLED ? "cancelled" : undefined),
    cell(kilometers.format(Number(trip.distanceMeters) / 1000), "num"),
    cell(money(trip.payment?.fare), "num"),
    cell(money(trip.payment?.tip), "num"),
    cell(money(trip.payment?.total), "num"),
    cell(trip.review === undefined ? "—" : "★".repeat(trip.review.rating), "rating"),
  );
  return row;
}

function setLoading(loading: boolean): void {
  $("loading").hidden = !loading;
  $("stats").setAttribute("aria-busy", String(loading));
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

function bootstrap(): void {
  const pageSize = pageSizeFromQuery();
  let session: Session | undefined;
  const open = (credentials: Credentials) => {
    saveCredentials(sessionStorage, credentials);
    ($("token-panel") as HTMLDetailsElement).open = false;
    session = new Session(credentials, pageSize);
    void session.start();
  };

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
