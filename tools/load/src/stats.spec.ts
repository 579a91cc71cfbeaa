import { describe, expect, it } from "vitest";
import { histogram, percentile } from "./stats.js";

describe("percentile (ghz nearest rank)", () => {
  const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1); // 1..100

  it("picks the value at rank p/100*n, minus one on whole ranks", () => {
    expect(percentile(sorted, 10)).toBe(10);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    // 99.9% of 100 = 99.9 -> index 99 -> the maximum
    expect(percentile(sorted, 99.9)).toBe(100);
  });

  it("handles tiny inputs", () => {
    expect(percentile(new Float64Array(0), 50)).toBe(0);
    expect(percentile(Float64Array.of(7), 10)).toBe(7);
    expect(percentile(Float64Array.of(1, 2, 3), 50)).toBe(2); // 1.5 -> index 1
    expect(percentile(Float64Array.of(1, 2, 3, 4), 50)).toBe(2); // 2.0 -> index 1
  });
});

describe("histogram (ghz buckets)", () => {
  it("has 11 marks from fastest to slowest and counts every sample once", () => {
    const sorted = Float64Array.from({ length: 101 }, (_, i) => i); // 0..100
    const h = histogram(sorted);
    expect(h.map((b) => b.mark)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(h[0]?.count).toBe(1); // only the minimum sits at the first mark
    expect(h.slice(1).map((b) => b.count)).toEqual(Array(10).fill(10));
    expect(h.reduce((s, b) => s + b.count, 0)).toBe(101);
    expect(h.reduce((s, b) => s + b.frequency, 0)).toBeCloseTo(1, 10);
  });

  it("puts identical samples in the first bucket", () => {
    const h = histogram(Float64Array.of(5, 5, 5));
    expect(h[0]).toEqual({ mark: 5, count: 3, frequency: 1 });
    expect(h.reduce((s, b) => s + b.count, 0)).toBe(3);
  });

  it("is empty for no samples", () => {
    expect(histogram(new Float64Array(0))).toEqual([]);
  });
});
