// The statistics ghz reports, computed the way ghz computes them (nearest-rank
// percentiles, ten linear histogram buckets between fastest and slowest), so a
// number from this tool means what the same number from ghz means.

/** The percentiles in the latency distribution: ghz's seven plus p99.9. */
export const PERCENTILES: readonly number[] = [10, 25, 50, 75, 90, 95, 99, 99.9];

/**
 * Nearest-rank percentile over ascending `sorted`, exactly ghz's rule: rank
 * p/100*n, minus one when that lands on a whole number, floored at 0.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const ip = (p / 100) * n;
  let di = Math.floor(ip);
  if (ip === di) di -= 1;
  if (di < 0) di = 0;
  if (di >= n) di = n - 1;
  return sorted[di] as number;
}

export interface HistogramBucket {
  /** Upper bound of the bucket, in the unit of the input. */
  mark: number;
  count: number;
  /** count / total, as a fraction. */
  frequency: number;
}

/** ghz's histogram: 10 equal buckets from fastest to slowest, 11 marks (the first holds the minimum). */
export function histogram(sorted: ArrayLike<number>, bucketCount = 10): HistogramBucket[] {
  const n = sorted.length;
  if (n === 0) return [];
  const fastest = sorted[0] as number;
  const slowest = sorted[n - 1] as number;
  const size = (slowest - fastest) / bucketCount;
  const marks: number[] = [];
  for (let i = 0; i < bucketCount; i++) marks.push(fastest + size * i);
  marks.push(slowest);
  const counts = new Array<number>(marks.length).fill(0);
  let bi = 0;
  for (let i = 0; i < n; ) {
    if ((sorted[i] as number) <= (marks[bi] as number) || bi === marks.length - 1) {
      counts[bi] = (counts[bi] as number) + 1;
      i++;
    } else {
      bi++;
    }
  }
  return marks.map((mark, i) => ({ mark, count: counts[i] as number, frequency: (counts[i] as number) / n }));
}
