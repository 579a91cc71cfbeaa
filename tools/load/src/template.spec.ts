import { describe, expect, it } from "vitest";
import { GetStatsRequestSchema, ListTripsRequestSchema } from "@driver-analytics/proto";
import { compileData, compileTemplate, parseDataText, TemplateError, type CallNames } from "./template.js";

const names: CallNames = {
  fullyQualifiedName: "driveranalytics.v1.DriverAnalytics.GetStats",
  methodName: "GetStats",
  serviceName: "DriverAnalytics",
  inputName: "GetStatsRequest",
  outputName: "GetStatsResponse",
};
const ctx = { requestNumber: 41, workerId: 7 };

describe("compileTemplate", () => {
  it("renders ghz fields", () => {
    const t = compileTemplate("req-{{.RequestNumber}}-w{{ .WorkerID }}-{{.MethodName}}", names);
    expect(t.dynamic).toBe(true);
    expect(t.whole).toBe(false);
    expect(t.render(ctx)).toBe("req-41-w7-GetStats");
  });

  it("renders timestamps and UUIDs", () => {
    const now = Math.floor(Date.now() / 1000);
    expect(Number(compileTemplate("{{.TimestampUnix}}", names).render(ctx))).toBeGreaterThanOrEqual(now);
    expect(compileTemplate("{{.UUID}}", names).render(ctx)).toMatch(/^[0-9a-f-]{36}$/);
    expect(compileTemplate("{{newUUID}}", names).render(ctx)).toMatch(/^[0-9a-f-]{36}$/);
    expect(compileTemplate("{{.Timestamp}}", names).render(ctx)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("randomInt is inclusive, randInt (sprig) is half-open", () => {
    const a = compileTemplate("{{randomInt 1 3}}", names);
    const b = compileTemplate("{{randInt 1 3}}", names);
    const seenA = new Set<string>();
    const seenB = new Set<string>();
    for (let i = 0; i < 500; i++) {
      seenA.add(a.render(ctx));
      seenB.add(b.render(ctx));
    }
    expect([...seenA].sort()).toEqual(["1", "2", "3"]);
    expect([...seenB].sort()).toEqual(["1", "2"]);
  });

  it("leaves text without actions alone", () => {
    const t = compileTemplate("plain", names);
    expect(t.dynamic).toBe(false);
    expect(t.render(ctx)).toBe("plain");
  });

  it("rejects unknown fields and functions when compiling", () => {
    expect(() => compileTemplate("{{.Nope}}", names)).toThrow(TemplateError);
    expect(() => compileTemplate("{{sprigThing 1}}", names)).toThrow(/unsupported template function "sprigThing"/);
    expect(() => compileTemplate("{{randomInt 1}}", names)).toThrow(/takes 2/);
  });
});

describe("compileData", () => {
  it("converts a whole-template value to the field's JSON type", () => {
    const d = compileData(
      { driver_id: "{{.RequestNumber}}", page_size: "{{.WorkerID}}", page_token: "t{{.WorkerID}}" },
      ListTripsRequestSchema,
      names,
    );
    expect(d.dynamic).toBe(true);
    // int64 stays a string (exact in proto JSON), int32 becomes a number, strings stay strings.
    expect(d.render(ctx)).toEqual({ driver_id: "41", page_size: 7, page_token: "t7" });
  });

  it("accepts ghz-style unquoted templates in the raw JSON text", () => {
    const parsed = parseDataText('{"driverId": {{.RequestNumber}}, "startTime": "2024-01-01T00:00:00Z"}');
    const d = compileData(parsed, GetStatsRequestSchema, names);
    expect(d.render(ctx)).toEqual({ driverId: 41, startTime: "2024-01-01T00:00:00Z" });
  });

  it("keeps static data static (built once)", () => {
    const value = { driver_id: 5 };
    const d = compileData(value, GetStatsRequestSchema, names);
    expect(d.dynamic).toBe(false);
    expect(d.render(ctx)).toBe(value);
  });

  it("reports invalid JSON clearly", () => {
    expect(() => parseDataText("{nope")).toThrow(/not valid JSON/);
  });
});
