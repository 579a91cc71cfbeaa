/** IPC between cluster workers and their primary. */
export const METRICS_REQUEST = "driver-analytics:metrics-request";
export const METRICS_RESPONSE = "driver-analytics:metrics-response";

export interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: number;
}

export type MetricsResponse =
  | { type: typeof METRICS_RESPONSE; id: number; text: string }
  | { type: typeof METRICS_RESPONSE; id: number; error: string };
