import fc from "fast-check";
import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { PlainHistogram } from "./plain-histogram.js";

const BUCKETS = [0, 0.001, 0.0025, 0.01, 0.5, 1, 10];
const LABEL_SETS = [
  { grpc_method: "GetStats", grpc_code: "OK" },
  { grpc_method: "ListTrips", grpc_code: "OK" },
  { grpc_method: "GetStats", grpc_code: "Unavailable" },
];

/** The same observations through prom-client's Histogram and through PlainHistogram, each on its own registry. */
function both(observations: [number, number][]) {
  const theirs = new Registry();
  const histogram = new Histogram({ name: "h_seconds", help: "A histogram.", labelNames: ["grpc_method", "grpc_code"], buckets: BUCKETS, registers: [theirs] });
  const ours = new Registry();
  const plain = new PlainHistogram("h_seconds", "A histogram.", BUCKETS, ours);
  const series = new Map<number, ReturnType<PlainHistogram["series"]>>();
  for (const [set, value] of observations) {
    histogram.observe(LABEL_SETS[set]!, value);
    if (!series.has(set)) series.set(set, plain.series(LABEL_SETS[set]!));
    series.get(set)!.observe(value);
  }
  return { theirs, ours, plain };
}

describe("PlainHistogram", () => {
  it("renders exactly what prom-client's Histogram renders for the same observations, as text and as JSON", async () => {
    const value = fc.oneof(fc.constantFrom(...BUCKETS), fc.double({ min: 0, max: 20, noNaN: true }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: LABEL_SETS.length - 1 }), value), { maxLength: 60 }), async (observations) => {
        const { theirs, ours } = both(observations);
        expect(await ours.metrics()).toBe(await theirs.metrics());
        // prom-client's values also carry an empty exemplar (exemplars are off).
        const withoutExemplars = (await theirs.getMetricsAsJSON()).map((m) => ({
          ...m,
          values: m.values.map((value) => {
            const { exemplar: _, ...rest } = value as typeof value & { exemplar?: unknown };
            return rest;
          }),
        }));
        expect(await ours.getMetricsAsJSON()).toEqual(withoutExemplars);
      }),
      { numRuns: 200 },
    );
  });

  it("starts a series at zero, and reset zeroes every series", async () => {
    const { ours, plain } = both([
      [0, 0.002],
      [1, 3],
    ]);
    plain.series({ grpc_method: "Check", grpc_code: "OK" });
    expect(await ours.metrics()).toContain('h_seconds_count{grpc_method="Check",grpc_code="OK"} 0');
    plain.reset();
    const text = await ours.metrics();
    expect(text).toContain('h_seconds_bucket{le="0.0025",grpc_method="GetStats",grpc_code="OK"} 0');
    expect(text).toContain('h_seconds_sum{grpc_method="ListTrips",grpc_code="OK"} 0');
  });
});
