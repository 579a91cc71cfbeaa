// Period arithmetic for the dashboard, pure (no DOM). Days are "YYYY-MM-DD"
// dates of the driver's own calendar (the IANA time zone GetEarningsSeries
// returns); windows are the instants [start, end) GetStats and ListTrips take.
// The server puts a trip on the day `(completed_at AT TIME ZONE tz)::date`,
// so a day's window here is exactly the instants whose local date is that day:
// 23 or 25 hours across DST, starting at 01:00 where midnight is skipped.
//
// Calendar arithmetic on dates uses UTC Date values (no zone, no DST); only
// dayOf and startOfDay look at the time zone, through Intl.DateTimeFormat.

/** A calendar date, "YYYY-MM-DD". */
export type Day = string;

export type PeriodKind = "today" | "week" | "month" | "last30" | "custom" | "all";

export const PERIOD_KINDS: readonly PeriodKind[] = ["today", "week", "month", "last30", "custom", "all"];

/** What the driver chose; custom carries its first and last day (both inclusive). */
export type PeriodChoice =
  | { kind: Exclude<PeriodKind, "custom"> }
  | { kind: "custom"; from: Day; to: Day };

export type Granularity = "day" | "week";

/** A chosen period resolved in the driver's calendar. */
export interface ResolvedPeriod {
  choice: PeriodChoice;
  /** Days [startDay, endDay) of the cards and the trip list; absent for all time. */
  days?: { startDay: Day; endDay: Day };
  /** The instants [startMs, endMs) of those days; absent for all time. */
  window?: { startMs: number; endMs: number };
  /** The chart's days [startDay, endDay) and buckets (all time: the last 52 ISO weeks). */
  chart: { startDay: Day; endDay: Day; granularity: Granularity };
}

const DAY_MS = 86_400_000;
/** The longest range charted per day; longer ones are charted per ISO week. */
export const MAX_DAILY_BUCKETS = 62;
/** GetEarningsSeries' limit for WEEK: 5 years. */
export const MAX_CUSTOM_DAYS = 5 * 366;

/** parseDay returns the day when s is a real calendar date "YYYY-MM-DD". */
export function parseDay(s: string | null | undefined): Day | undefined {
  if (s === null || s === undefined) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (m === null) return undefined;
  return formatUtcDay(utcMs(Number(m[1]), Number(m[2]), Number(m[3]))) === s ? s : undefined;
}

function utcMs(year: number, month: number, day: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getTime();
}

function formatUtcDay(ms: number): Day {
  return new Date(ms).toISOString().slice(0, 10);
}

function dayMs(day: Day): number {
  return utcMs(Number(day.slice(0, 4)), Number(day.slice(5, 7)), Number(day.slice(8, 10)));
}

/** addDays moves a date by n calendar days. */
export function addDays(day: Day, n: number): Day {
  return formatUtcDay(dayMs(day) + n * DAY_MS);
}

/** daysBetween is how many days from a to b (b exclusive). */
export function daysBetween(a: Day, b: Day): number {
  return Math.round((dayMs(b) - dayMs(a)) / DAY_MS);
}

/** isoWeekday: 1 for Monday ... 7 for Sunday. */
export function isoWeekday(day: Day): number {
  return ((new Date(dayMs(day)).getUTCDay() + 6) % 7) + 1;
}

/** weekStart is the Monday of the ISO week holding day. */
export function weekStart(day: Day): Day {
  return addDays(day, 1 - isoWeekday(day));
}

export function monthStart(day: Day): Day {
  return `${day.slice(0, 7)}-01`;
}

export function nextMonthStart(day: Day): Day {
  const year = Number(day.slice(0, 4));
  const month = Number(day.slice(5, 7));
  return formatUtcDay(utcMs(month === 12 ? year + 1 : year, month === 12 ? 1 : month + 1, 1));
}

const dayFormatters = new Map<string, Intl.DateTimeFormat>();

function dayFormatter(timeZone: string): Intl.DateTimeFormat {
  let format = dayFormatters.get(timeZone);
  if (format === undefined) {
    // Throws RangeError for a zone the browser does not know.
    format = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "2-digit", day: "2-digit", era: "short" });
    dayFormatters.set(timeZone, format);
  }
  return format;
}

/** dayOf is the date in timeZone at the instant ms. */
export function dayOf(ms: number, timeZone: string): Day {
  const parts = dayFormatter(timeZone).formatToParts(new Date(ms));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  const year = Number(part("year"));
  const signed = part("era") === "BC" || part("era") === "B" ? 1 - year : year;
  return `${String(signed).padStart(4, "0")}-${part("month")}-${part("day")}`;
}

/**
 * startOfDay is the first instant (ms) whose date in timeZone is day or later:
 * local midnight, or the end of the DST gap where midnight does not exist.
 * A binary search on dayOf, to the millisecond (zone offsets are whole
 * seconds), so it needs no offset arithmetic of its own.
 */
export function startOfDay(day: Day, timeZone: string): number {
  // Zone offsets lie within -12h..+14h: 36 hours either side brackets the day.
  let before = dayMs(day) - 36 * 3_600_000; // local date < day
  let atOrAfter = dayMs(day) + 36 * 3_600_000; // local date >= day
  while (atOrAfter - before > 1) {
    const mid = Math.floor((before + atOrAfter) / 2);
    if (dayOf(mid, timeZone) >= day) atOrAfter = mid;
    else before = mid;
  }
  return atOrAfter;
}

/** windowOfDays is [start of startDay, start of endDay) in timeZone. */
export function windowOfDays(startDay: Day, endDay: Day, timeZone: string): { startMs: number; endMs: number } {
  return { startMs: startOfDay(startDay, timeZone), endMs: startOfDay(endDay, timeZone) };
}

/** granularityFor: per day up to MAX_DAILY_BUCKETS days, per ISO week beyond. */
export function granularityFor(startDay: Day, endDay: Day): Granularity {
  return daysBetween(startDay, endDay) <= MAX_DAILY_BUCKETS ? "day" : "week";
}

/**
 * bucketDays are the first days of the buckets GetEarningsSeries returns for
 * [startDay, endDay): every day, or the Monday of every ISO week that holds one
 * of those days (the first may start before startDay).
 */
export function bucketDays(startDay: Day, endDay: Day, granularity: Granularity): Day[] {
  const days: Day[] = [];
  const step = granularity === "day" ? 1 : 7;
  for (let day = granularity === "day" ? startDay : weekStart(startDay); day < endDay; day = addDays(day, step)) {
    days.push(day);
  }
  return days;
}

/** periodDays is the days [startDay, endDay) of a period on the driver's today; undefined for all time. */
export function periodDays(choice: PeriodChoice, today: Day): { startDay: Day; endDay: Day } | undefined {
  switch (choice.kind) {
    case "today":
      return { startDay: today, endDay: addDays(today, 1) };
    case "week": {
      const monday = weekStart(today);
      return { startDay: monday, endDay: addDays(monday, 7) };
    }
    case "month":
      return { startDay: monthStart(today), endDay: nextMonthStart(today) };
    case "last30":
      return { startDay: addDays(today, -29), endDay: addDays(today, 1) };
    case "custom":
      return { startDay: choice.from, endDay: addDays(choice.to, 1) };
    case "all":
      return undefined;
  }
}

/** resolvePeriod resolves a choice at the instant nowMs for a driver in timeZone. */
export function resolvePeriod(choice: PeriodChoice, timeZone: string, nowMs: number): ResolvedPeriod {
  const today = dayOf(nowMs, timeZone);
  const days = periodDays(choice, today);
  if (days === undefined) {
    const endDay = addDays(weekStart(today), 7);
    return { choice, chart: { startDay: addDays(endDay, -52 * 7), endDay, granularity: "week" } };
  }
  return {
    choice,
    days,
    window: windowOfDays(days.startDay, days.endDay, timeZone),
    chart: { ...days, granularity: granularityFor(days.startDay, days.endDay) },
  };
}

export const DEFAULT_PERIOD: PeriodChoice = { kind: "week" };

/**
 * choiceFromQuery reads ?period=today|week|month|last30|all or
 * ?period=custom&from=YYYY-MM-DD&to=YYYY-MM-DD (both inclusive). A bad one is
 * the default, with the reason.
 */
export function choiceFromQuery(search: URLSearchParams): { choice: PeriodChoice; problem?: string } {
  const kind = search.get("period");
  if (kind === null || kind === "") return { choice: DEFAULT_PERIOD };
  if (kind === "custom") {
    const problem = customProblem(search.get("from"), search.get("to"));
    if (problem !== undefined) return { choice: DEFAULT_PERIOD, problem };
    return { choice: { kind, from: search.get("from")!, to: search.get("to")! } };
  }
  if ((PERIOD_KINDS as readonly string[]).includes(kind)) return { choice: { kind: kind as Exclude<PeriodKind, "custom"> } };
  return { choice: DEFAULT_PERIOD, problem: `There is no period “${kind}”; showing this week.` };
}

/** customProblem says what is wrong with a custom range, or undefined when it is usable. */
export function customProblem(from: string | null, to: string | null): string | undefined {
  const start = parseDay(from);
  const end = parseDay(to);
  if (start === undefined || end === undefined) return "A custom range needs a first and a last day (YYYY-MM-DD).";
  if (end < start) return "The last day of a custom range cannot be before its first day.";
  if (daysBetween(start, end) + 1 > MAX_CUSTOM_DAYS) return "A custom range can be at most 5 years long.";
  return undefined;
}

/** queryOfChoice writes a choice into search (and nothing else it holds). */
export function queryOfChoice(choice: PeriodChoice, search: URLSearchParams): URLSearchParams {
  const next = new URLSearchParams(search);
  next.delete("from");
  next.delete("to");
  next.set("period", choice.kind);
  if (choice.kind === "custom") {
    next.set("from", choice.from);
    next.set("to", choice.to);
  }
  return next;
}

export function sameChoice(a: PeriodChoice, b: PeriodChoice): boolean {
  if (a.kind !== b.kind) return false;
  return a.kind !== "custom" || (b.kind === "custom" && a.from === b.from && a.to === b.to);
}
