import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { DatabaseUnavailableError, type Database } from "@driver-analytics/db";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthListResponseSchema,
} from "@driver-analytics/proto";
import type { Logger } from "pino";

export { ServingStatus };

type Listener = () => void;

/** Default most concurrent health Watch streams (HEALTH_MAX_WATCHERS). */
export const DEFAULT_HEALTH_MAX_WATCHERS = 1_000;

/**
 * HealthMonitor holds the serving status of the server ("") and of each
 * service it serves, and tells watchers about every change. All statuses
 * move together: every service here needs the database.
 */
export class HealthMonitor {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #listeners = new Set<Listener>();
  #shutDown = false;
  #watchers = 0;
  /**
   * Most Watch streams open at once; beyond it Watch answers
   * RESOURCE_EXHAUSTED. Each holds an HTTP/2 stream (and a connection
   * through shutdown's grace), so an unbounded number is an open door.
   */
  maxWatchers: number;

  constructor(services: readonly string[], options: { maxWatchers?: number } = {}) {
    // NOT_SERVING until the first probe has reached the database.
    for (const service of ["", ...services]) this.#statuses.set(service, ServingStatus.NOT_SERVING);
    this.maxWatchers = options.maxWatchers ?? DEFAULT_HEALTH_MAX_WATCHERS;
  }

  /** watchers is how many Watch streams are open. */
  get watchers(): number {
    return this.#watchers;
  }

  /** openWatch takes a Watch slot and returns its release, or throws RESOURCE_EXHAUSTED. */
  openWatch(): () => void {
    if (this.#watchers >= this.maxWatchers) {
      throw new ConnectError(
        `too many health Watch streams (at most ${this.maxWatchers}); use Check, or retry later`,
        Code.ResourceExhausted,
      );
    }
    this.#watchers++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#watchers--;
    };
  }

  /** status is the service's status, or undefined for a service this server does not know. */
  status(service: string): ServingStatus | undefined {
    return this.#statuses.get(service);
  }

  statuses(): ReadonlyMap<string, ServingStatus> {
    return this.#statuses;
  }

  get serving(): boolean {
    return this.#statuses.get("") === ServingStatus.SERVING;
  }

  get isShutDown(): boolean {
    return this.#shutDown;
  }

  /** setAll sets every service's status; a no-op after shutdown. */
  setAll(status: ServingStatus): void {
    if (this.#shutDown) return;
    this.#setAll(status);
  }

  /**
   * shutdown reports NOT_SERVING for good, so load balancers stop sending
   * calls while in-flight ones drain, and ends every Watch stream (an open
   * stream would hold its HTTP/2 connection open through the grace period).
   */
  shutdown(): void {
    if (this.#shutDown) return;
    this.#setAll(ServingStatus.NOT_SERVING);
    this.#shutDown = true;
    this.#notify();
  }

  /** subscribe calls listener after every change; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #setAll(status: ServingStatus): void {
    let changed = false;
    for (const [service, current] of this.#statuses) {
      if (current !== status) {
        this.#statuses.set(service, status);
        changed = true;
      }
    }
    if (changed) this.#notify();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

export interface DatabaseProbeOptions {
  intervalMs: number;
  /** A probe slower than this counts as failed. */
  timeoutMs: number;
  /**
   * Consecutive slow probes before NOT_SERVING. A refused or dropped
   * connection flips the status at once; a slow answer may be a busy pool,
   * so it takes a few in a row.
   */
  slowFailureThreshold?: number;
}

/** DatabaseProbe runs `SELECT 1` through the service's own pool and sets the health from it. */
export interface DatabaseProbe {
  /** Resolves after the first probe, so a server can start SERVING at once. */
  readonly firstProbe: Promise<void>;
  stop(): void;
}

/**
 * startDatabaseProbe probes the database every intervalMs, through the same
 * Database (pool, timeouts, cancel) the calls use: SERVING means the calls'
 * path to PostgreSQL works, not merely that some connection could be made.
 */
export function startDatabaseProbe(
  db: Database,
  health: HealthMonitor,
  logger: Logger,
  options: DatabaseProbeOptions,
): DatabaseProbe {
  const threshold = options.slowFailureThreshold ?? 3;
  let slowFailures = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const controller = new AbortController();

  const probeOnce = async () => {
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(options.timeoutMs)]);
    const wasServing = health.serving;
    try {
      await db.query("SELECT 1", [], { signal });
      slowFailures = 0;
      health.setAll(ServingStatus.SERVING);
      if (!wasServing) logger.info("database reachable: SERVING");
    } catch (error) {
      if (stopped) return;
      const unreachable = error instanceof DatabaseUnavailableError;
      slowFailures = unreachable ? threshold : slowFailures + 1;
      if (slowFailures >= threshold) {
        health.setAll(ServingStatus.NOT_SERVING);
        if (wasServing) {
          logger.warn({ reason: unreachable ? "unreachable" : "slow" }, "database probe failed: NOT_SERVING");
        }
      }
    }
  };
  const loop = async () => {
    await probeOnce();
    if (stopped) return;
    timer = setTimeout(() => void loop(), options.intervalMs);
    timer.unref();
  };
  const firstProbe = loop();
  return {
    firstProbe,
    stop() {
      stopped = true;
      controller.abort();
      clearTimeout(timer);
    },
  };
}

/** createHealthService implements grpc.health.v1.Health over a HealthMonitor. */
export function createHealthService(health: HealthMonitor): ServiceImpl<typeof Health> {
  return {
    check(request) {
      const status = health.status(request.service);
      if (status === undefined) throw new ConnectError(`unknown service ${JSON.stringify(request.service)}`, Code.NotFound);
      return create(HealthCheckResponseSchema, { status });
    },

    list() {
      const statuses: Record<string, { status: ServingStatus }> = {};
      for (const [service, status] of health.statuses()) statuses[service] = { status };
      return create(HealthListResponseSchema, { statuses });
    },

    async *watch(request, context) {
      const release = health.openWatch();
      // The spec: an unknown service is reported, not an error, and the
      // stream stays open in case the service appears later.
      const current = () => health.status(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
      // `changed` outlives the time the generator is suspended in a yield, so
      // a change that happens then is not lost.
      let changed = true;
      let wake: (() => void) | undefined;
      const unsubscribe = health.subscribe(() => {
        changed = true;
        wake?.();
      });
      const onAbort = () => wake?.();
      context.signal.addEventListener("abort", onAbort);
      try {
        let sent: ServingStatus | undefined;
        while (!context.signal.aborted) {
          if (!changed) {
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
            continue;
          }
          changed = false;
          const status = current();
          if (status !== sent) {
            sent = status;
            yield create(HealthCheckResponseSchema, { status });
          }
          if (health.isShutDown) return;
        }
      } finally {
        release();
        unsubscribe();
        context.signal.removeEventListener("abort", onAbort);
      }
    },
  };
}
