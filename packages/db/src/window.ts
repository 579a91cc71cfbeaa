/**
 * TimeWindow restricts trips to complete_time in [startMicros, endMicros);
 * either bound may be absent. Bounds are microseconds since the Unix epoch.
 */
export interface TimeWindow {
  startMicros?: bigint | undefined;
  endMicros?: bigint | undefined;
}
