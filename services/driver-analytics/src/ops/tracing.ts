// OpenTelemetry tracing setup: off unless the environment asks for it.
//
// The call pipeline (core/call-tracing.ts) and the database
// (@driver-analytics/db) only use @opentelemetry/api, which is a no-op until
// an SDK is registered here. startTracing registers one: a NodeTracerProvider
// (AsyncLocalStorage context, W3C traceparent + baggage propagation) that
// exports with OTLP over HTTP/protobuf in batches. The SDK and the exporter
// read the standard OTEL_* variables themselves (OTEL_TRACES_SAMPLER[_ARG],
// OTEL_BSP_*, OTEL_SPAN_*_LIMIT, OTEL_EXPORTER_OTLP_[TRACES_]{ENDPOINT,
// HEADERS,TIMEOUT,COMPRESSION}, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES).
//
// The SDK's modules are imported only when tracing starts: off, they are not
// even loaded.
import type { SpanProcessor } from "@opentelemetry/sdk-trace-node";
import type { Logger } from "pino";

export const DEFAULT_SERVICE_NAME = "driver-analytics";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * tracingRequested: whether the environment turns tracing on. Off by
 * default; on when an OTLP endpoint is configured
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or
 * OTEL_SDK_DISABLED=false says so explicitly (then the exporter's default,
 * http://localhost:4318/v1/traces). OTEL_SDK_DISABLED=true and
 * OTEL_TRACES_EXPORTER=none always turn it off.
 */
export function tracingRequested(env: Env = process.env): boolean {
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase();
  if (disabled === "true") return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === "none") return false;
  // Empty means unset, as the SDK reads it.
  const endpoint = [env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, env.OTEL_EXPORTER_OTLP_ENDPOINT].some((v) => (v?.trim() ?? "") !== "");
  return endpoint || disabled === "false";
}

export interface TracingOptions {
  /** Where finished spans go; default: a BatchSpanProcessor over the OTLP HTTP/protobuf exporter. */
  spanProcessors?: SpanProcessor[];
  /** Where the SDK's own warnings and errors go (a failed export, say); silent when absent. */
  logger?: Logger;
}

export interface Tracing {
  /** forceFlush exports the spans ended so far. */
  forceFlush(): Promise<void>;
  /**
   * shutdown flushes what is buffered, stops the exporter and unregisters
   * the SDK; it gives up waiting for an unreachable collector after timeoutMs.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

/**
 * startTracing registers the OpenTelemetry SDK globally; call it before the
 * server is created. service.name is OTEL_SERVICE_NAME, else "driver-analytics".
 */
export async function startTracing(options: TracingOptions = {}): Promise<Tracing> {
  const [{ context, diag, DiagLogLevel, propagation, trace }, { defaultResource, detectResources, envDetector, resourceFromAttributes }, sdk] =
    await Promise.all([import("@opentelemetry/api"), import("@opentelemetry/resources"), import("@opentelemetry/sdk-trace-node")]);
  const { BatchSpanProcessor, NodeTracerProvider } = sdk;
  const { logger } = options;
  if (logger !== undefined) {
    const log = (level: "warn" | "error") => (message: string, ...args: unknown[]) =>
      logger[level]({ otel: args.map((a) => (a instanceof Error ? a.message : String(a))) }, `tracing: ${message}`);
    const quiet = () => undefined;
    diag.setLogger({ error: log("error"), warn: log("warn"), info: quiet, debug: quiet, verbose: quiet }, DiagLogLevel.WARN);
  }
  const spanProcessors = options.spanProcessors ?? [
    new BatchSpanProcessor(new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter()),
  ];
  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": DEFAULT_SERVICE_NAME }))
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the defaults.
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors,
  });
  provider.register();
  return {
    forceFlush: () => provider.forceFlush(),
    async shutdown(timeoutMs = 5_000) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          provider.shutdown(),
          new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs).unref())),
        ]);
      } finally {
        clearTimeout(timer);
        trace.disable();
        context.disable();
        propagation.disable();
        diag.disable();
      }
    },
  };
}

/** tracingWarnings: what of the environment's tracing configuration is not honoured. */
export function tracingWarnings(env: Env = process.env): string[] {
  const warnings: string[] = [];
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim();
  if (protocol !== undefined && protocol !== "" && protocol !== "http/protobuf") {
    warnings.push(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported: traces are exported with http/protobuf`);
  }
  const exporter = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporter !== undefined && exporter !== "" && exporter !== "otlp" && exporter !== "none") {
    warnings.push(`OTEL_TRACES_EXPORTER=${exporter} is not supported: traces are exported with otlp`);
  }
  const propagators = env.OTEL_PROPAGATORS?.trim();
  if (propagators !== undefined && propagators !== "" && propagators !== "tracecontext,baggage") {
    warnings.push(`OTEL_PROPAGATORS=${propagators} is not supported: W3C tracecontext and baggage are propagated`);
  }
  return warnings;
}

/** startTracingFromEnv starts tracing if the environment asks for it (tracingRequested), else returns undefined. */
export async function startTracingFromEnv(logger: Logger, env: Env = process.env): Promise<Tracing | undefined> {
  return tracingRequested(env) ? startTracing({ logger }) : undefined;
}
