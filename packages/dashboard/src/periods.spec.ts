import { describe, expect, it } from "vitest";
import {
  addDays,
  bucketDays,
  choiceFromQuery,
  customProblem,
  dayOf,
  granularityFor,
  isoWeekday,
  parseDay,
  periodDays,
  queryOfChoice,
  resolvePeriod,
  startOfDay,
  weekStart,
} from "./periods.js";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const HOUR = 3_600_000;

describe("calendar days", () => {
  it("parses only real dates", () => {
    expect(parseDay("2028-02-29")).toBe("2028-02-29");
    expect(parseDay("2027-02-29")).toBeUndefined();
    expect(parseDay("2026-13-01")).toBeUndefined();
    expect(parseDay("2026-1-01")).toBeUndefined();
    expect(parseDay(null)).toBeUndefined();
  });

  it("adds days across month ends, year ends and leap days", () => {
    expect(addDays("2026-01-31", 1)).toBe("2026-02-01");
    expect(addDays("2028-02-28", 1)).toBe("2028-02-29");
    expect(addDays("2028-02-29", 1)).toBe("2028-03-01");
    expect(addDays("2027-02-28", 1)).toBe("2027-03-01");
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
    expect(addDays("2028-03-01", -29)).toBe("2028-02-01");
  });

  it("starts ISO weeks on Monday", () => {
    expect(isoWeekday("2026-11-30")).toBe(1);
    expect(isoWeekday("2026-12-06")).toBe(7);
    expect(weekStart("2026-12-06")).toBe("2026-11-30"); // Sunday belongs to the week before
    expect(weekStart("2026-11-30")).toBe("2026-11-30");
    expect(weekStart("2027-01-01")).toBe("2026-12-28"); // across the year
    expect(weekStart("2028-03-01")).toBe("2028-02-28"); // across a leap day
  });
});

describe("periods on the driver's today", () => {
  it("today, this week, this month, the last 30 days, a custom range", () => {
    const today = "2026-12-02";
    expect(periodDays({ kind: "today" }, today)).toEqual({ startDay: "2026-12-02", endDay: "2026-12-03" });
    expect(periodDays({ kind: "week" }, today)).toEqual({ startDay: "2026-11-30", endDay: "2026-12-07" });
    expect(periodDays({ kind: "month" }, today)).toEqual({ startDay: "2026-12-01", endDay: "2027-01-01" });
    expect(periodDays({ kind: "last30" }, today)).toEqual({ startDay: "2026-11-03", endDay: "2026-12-03" });
    expect(periodDays({ kind: "custom", from: "2026-02-27", to: "2026-03-01" }, today)).toEqual({
      startDay: "2026-02-27",
      endDay: "2026-03-02",
    });
    expect(periodDays({ kind: "all" }, today)).toBeUndefined();
  });

  it("knows month ends and leap Februaries", () => {
    expect(periodDays({ kind: "month" }, "2028-02-29")).toEqual({ startDay: "2028-02-01", endDay: "2028-03-01" });
    expect(periodDays({ kind: "month" }, "2027-02-10")).toEqual({ startDay: "2027-02-01", endDay: "2027-03-01" });
    expect(periodDays({ kind: "month" }, "2026-04-30")).toEqual({ startDay: "2026-04-01", endDay: "2026-05-01" });
    expect(periodDays({ kind: "last30" }, "2028-03-01")).toEqual({ startDay: "2028-02-01", endDay: "2028-03-02" });
  });

  it("takes today from the driver's zone, not the browser's or UTC", () => {
    // 20:00 UTC is already tomorrow in India (+05:30) and still today in New York.
    expect(dayOf(at("2026-12-01T20:00:00Z"), "Asia/Kolkata")).toBe("2026-12-02");
    expect(dayOf(at("2026-12-01T18:29:59.999Z"), "Asia/Kolkata")).toBe("2026-12-01");
    expect(dayOf(at("2026-12-01T18:30:00Z"), "Asia/Kolkata")).toBe("2026-12-02");
    expect(dayOf(at("2026-12-02T03:00:00Z"), "America/New_York")).toBe("2026-12-01");
    const sunday = resolvePeriod({ kind: "week" }, "Asia/Kolkata", at("2026-12-06T19:00:00Z")); // Monday 00:30 there
    expect(sunday.days).toEqual({ startDay: "2026-12-07", endDay: "2026-12-14" });
  });
});

describe("windows in the driver's time zone", () => {
  it("+05:30: a day starts at 18:30 UTC the day before", () => {
    expect(iso(startOfDay("2026-12-02", "Asia/Kolkata"))).toBe("2026-12-01T18:30:00.000Z");
    const period = resolvePeriod({ kind: "today" }, "Asia/Kolkata", at("2026-12-01T20:00:00Z"));
    expect(period.window).toEqual({ startMs: at("2026-12-01T18:30:00Z"), endMs: at("2026-12-02T18:30:00Z") });
  });

  it("DST in New York: the spring day has 23 hours, the autumn day 25", () => {
    const tz = "America/New_York";
    expect(iso(startOfDay("2026-03-08", tz))).toBe("2026-03-08T05:00:00.000Z");
    expect(startOfDay("2026-03-09", tz) - startOfDay("2026-03-08", tz)).toBe(23 * HOUR);
    expect(iso(startOfDay("2026-11-01", tz))).toBe("2026-11-01T04:00:00.000Z");
    expect(startOfDay("2026-11-02", tz) - startOfDay("2026-11-01", tz)).toBe(25 * HOUR);
    // The week holding the spring change is 7 x 24 - 1 hours long.
    const week = resolvePeriod({ kind: "week" }, tz, at("2026-03-05T12:00:00Z"));
    expect(week.days).toEqual({ startDay: "2026-03-02", endDay: "2026-03-09" });
    expect(week.window!.endMs - week.window!.startMs).toBe(167 * HOUR);
  });

  it("DST at midnight (Santiago): the day starts at 01:00, when the gap ends", () => {
    const tz = "America/Santiago";
    expect(iso(startOfDay("2026-09-06", tz))).toBe("2026-09-06T04:00:00.000Z"); // 01:00 -03
    expect(dayOf(startOfDay("2026-09-06", tz) - 1, tz)).toBe("2026-09-05");
    // Falling back from 24:00 to 23:00 lengthens the day before instead.
    expect(iso(startOfDay("2026-04-05", tz))).toBe("2026-04-05T04:00:00.000Z");
    expect(startOfDay("2026-04-05", tz) - startOfDay("2026-04-04", tz)).toBe(25 * HOUR);
  });

  it("every instant of a window has a day of the period, and the instant before and the end do not", () => {
    for (const tz of ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Kiritimati"]) {
      for (const day of ["2026-03-08", "2026-03-29", "2026-04-05", "2026-10-04", "2026-10-25", "2026-11-01", "2028-02-29"]) {
        const { startMs, endMs } = resolvePeriod({ kind: "custom", from: day, to: day }, tz, 0).window!;
        expect(dayOf(startMs, tz)).toBe(day);
        expect(dayOf(endMs - 1, tz)).toBe(day);
        expect(dayOf(startMs - 1, tz)).toBe(addDays(day, -1));
        expect(dayOf(endMs, tz)).toBe(addDays(day, 1));
      }
    }
  });
});

describe("the chart's buckets, as GetEarningsSeries returns them", () => {
  it("per day up to 62 days, per ISO week beyond", () => {
    expect(granularityFor("2026-11-01", "2027-01-02")).toBe("day"); // 62 days
    expect(granularityFor("2026-11-01", "2027-01-03")).toBe("week");
    expect(resolvePeriod({ kind: "month" }, "UTC", at("2026-12-15T00:00:00Z")).chart.granularity).toBe("day");
  });

  it("day buckets are the period's days; week buckets start on the Monday on or before the first day", () => {
    expect(bucketDays("2028-02-27", "2028-03-02", "day")).toEqual(["2028-02-27", "2028-02-28", "2028-02-29", "2028-03-01"]);
    expect(bucketDays("2026-12-01", "2027-01-01", "week")).toEqual([
      "2026-11-30",
      "2026-12-07",
      "2026-12-14",
      "2026-12-21",
      "2026-12-28",
    ]);
  });

  it("all time: cards and trips without a window, the chart over the last 52 ISO weeks up to this one", () => {
    const all = resolvePeriod({ kind: "all" }, "UTC", at("2026-12-02T10:00:00Z"));
    expect(all.window).toBeUndefined();
    expect(all.chart).toEqual({ startDay: "2025-12-08", endDay: "2026-12-07", granularity: "week" });
    expect(bucketDays(all.chart.startDay, all.chart.endDay, "week")).toHaveLength(52);
  });
});

describe("the period in the URL", () => {
  it("round-trips every choice and keeps the other parameters", () => {
    const base = new URLSearchParams("pageSize=20");
    for (const choice of [
      { kind: "today" },
      { kind: "week" },
      { kind: "month" },
      { kind: "last30" },
      { kind: "all" },
      { kind: "custom", from: "2026-02-27", to: "2026-03-01" },
    ] as const) {
      const query = queryOfChoice(choice, base);
      expect(query.get("pageSize")).toBe("20");
      expect(choiceFromQuery(query)).toEqual({ choice });
    }
  });

  it("falls back to this week, saying why", () => {
    expect(choiceFromQuery(new URLSearchParams(""))).toEqual({ choice: { kind: "week" } });
    expect(choiceFromQuery(new URLSearchParams("period=year")).problem).toMatch(/no period “year”/);
    expect(choiceFromQuery(new URLSearchParams("period=custom&from=2026-03-01&to=2026-02-01")).problem).toMatch(/before/);
    expect(customProblem("2026-02-30", "2026-03-01")).toMatch(/first and a last day/);
    expect(customProblem("2020-01-01", "2026-01-01")).toMatch(/5 years/);
  });
});
