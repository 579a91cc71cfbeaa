// The library surface of @driver-analytics/load: run a load test, format its report.
export { runLoad } from "./run-load.js";
export { formatSummary } from "./format-summary.js";
export { formatJson } from "./format-json.js";
export { formatHtml } from "./format-html.js";
export { formatCsv } from "./format-csv.js";
export { formatInfluxSummary, formatPrometheus } from "./format-metrics.js";
export { histogram, percentile, PERCENTILES } from "./stats.js";
export { OptionsError, parseDriverRange, parseMix, PROTOCOLS, scheduledRate } from "./options.js";
export { parseDuration } from "./duration.js";
export type {
  DriverRange,
  DurationStop,
  LoadOptions,
  LoadSchedule,
  MixedWorkload,
  PageDepthWorkload,
  Progress,
  Protocol,
  Workload,
} from "./options.js";
export type {
  Bucket,
  CallSummary,
  EndReason,
  LatencyFromSend,
  LatencyPoint,
  LoadGeneratorStats,
  Report,
  ReportOptions,
  ResultDetail,
  TimelinePoint,
  WorkloadReport,
} from "./report.js";
