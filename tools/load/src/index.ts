// The library surface of @driver-analytics/load: run a load test, format its report.
export { runLoad } from "./run-load.js";
export { formatSummary } from "./format-summary.js";
export { formatJson } from "./format-json.js";
export { formatHtml } from "./format-html.js";
export { OptionsError, parseDriverRange, parseMix } from "./options.js";
export { parseDuration } from "./duration.js";
export type {
  DriverRange,
  DurationStop,
  LoadOptions,
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
  LatencyPoint,
  LoadGeneratorStats,
  Report,
  ReportOptions,
  ResultDetail,
  TimelinePoint,
  WorkloadReport,
} from "./report.js";
