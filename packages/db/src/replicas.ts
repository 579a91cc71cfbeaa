// Read replicas: PostgreSQL streaming replicas take the reads, the primary
// takes the writes, and a consistency token (a WAL position, LSN) lets a
// reader see its own writes.
//
// - A write's token is the primary's WAL write position sampled after the
//   write committed: at or past the commit record.
// - A read that presents a token goes to a replica that has replayed that
//   position; if none has, it waits up to waitMs for one to get there, then
//   goes to the primary. Without a token it goes to any healthy replica.
// - A replica is healthy while its probe answers, it is still in recovery and
//   it lags the primary by at most maxLagMs. Lag is measured against the
//   primary's own WAL positions sampled over time ("how long ago was the
//   primary where this replica is now"), so it needs no clock agreement and
//   counts recovery_min_apply_delay as lag.
// - A read that fails on a replica because the replica is down, full, or
//   cancelled the query for a recovery conflict is run again on the primary:
//   callers never see a replica's failure.
import type { Database, QueryOptions } from "./database.js";
import { DatabaseUnavailableError, PoolExhaustedError, QueryAbortedError } from "./errors.js";

/** Lsn is a PostgreSQL WAL position as a 64-bit integer. */
export type Lsn = bigint;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** parseLsn reads PostgreSQL's "XXXXXXXX/XXXXXXXX" text form; undefined when it is not one. */
export function parseLsn(text: string): Lsn | undefined {
  const match = LSN_TEXT.exec(text.trim());
  if (match === null) return undefined;
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** formatLsn writes an Lsn in PostgreSQL's text form (upper-case hex, as pg_lsn prints). */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export interface ReplicaConfig {
  /** Shown in logs and metrics: host:port, never credentials. */
  name: string;
  db: Database;
}

export interface ReadRouterOptions {
  primary: Database;
  replicas: readonly ReplicaConfig[];
  /** A replica further behind the primary than this is skipped until it catches up. */
  maxLagMs: number;
  /** Longest a read with a token waits for a replica to replay it before going to the primary. */
  waitMs: number;
  /** How often replicas (and the primary's WAL position) are probed. */
  probeIntervalMs?: number;
  /** Told when a replica leaves or rejoins the rotation. */
  onReplicaStateChange?: (name: string, healthy: boolean, reason: string) => void;
}

export type ReadTarget = "primary" | "replica";
/** Why a read went where it went, for metrics. */
export type ReadRoute =
  | "replica" // a healthy replica, fresh enough at once
  | "replica-waited" // a replica, after waiting for it to replay the token
  | "primary-no-replica" // no healthy replica
  | "primary-stale" // no replica replayed the token within waitMs
  | "primary-replica-failed"; // the replica failed the read; retried on the primary

export interface ReadOptions extends QueryOptions {
  /** The caller's consistency token: the read must see at least this position. */
  minLsn?: Lsn | undefined;
  /** Also return a position the next read must reach to never go back in time (costs one cheap query). */
  wantLsn?: boolean;
}

export interface ReadResult<T> {
  value: T;
  route: ReadRoute;
  /** With wantLsn: a position at or past everything this read saw. */
  lsn?: Lsn;
}

export interface ReplicaStatus {
  name: string;
  healthy: boolean;
  /** Last known replayed position. */
  replayLsn: Lsn | undefined;
  /** Seconds behind the primary at the last probe; undefined when unreachable. */
  lagSeconds: number | undefined;
}

// Primary WAL samples kept for lag measurement: enough for any sensible maxLagMs.
const HISTORY_MS = 5 * 60_000;
// How often a waiting read re-asks the replica for its replay position.
const WAIT_POLL_MS = 5;

/**
 * LsnSampler asks one server for its WAL position (write position on the
 * primary, replay position on a replica) and shares answers between callers:
 * a caller gets the answer of a query that started after it asked, so the
 * position covers everything that caller had seen; concurrent callers share
 * one query.
 */
class LsnSampler {
  #running: Promise<Lsn> | undefined;
  #queued: Promise<Lsn> | undefined;

  constructor(
    private readonly db: Database,
    private readonly sql: string,
  ) {}

  /**
   * sample resolves with a position read by a query that started after this
   * call. The shared query never takes a caller's signal (one caller's cancel
   * must not fail the others); a caller whose signal aborts stops waiting.
   */
  sample(signal?: AbortSignal): Promise<Lsn> {
    const shared = this.#shared();
    if (signal === undefined) return shared;
    if (signal.aborted) return Promise.reject(new QueryAbortedError({ cause: signal.reason }));
    return new Promise<Lsn>((resolve, reject) => {
      const onAbort = () => reject(new QueryAbortedError({ cause: signal.reason }));
      signal.addEventListener("abort", onAbort, { once: true });
      shared.then(
        (lsn) => {
          signal.removeEventListener("abort", onAbort);
          resolve(lsn);
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  }

  #shared(): Promise<Lsn> {
    if (this.#queued !== undefined) return this.#queued;
    if (this.#running === undefined) return this.#start();
    // The running query may have started before our caller's reads ended.
    const queued = this.#running
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.#start();
      });
    queued.catch(() => undefined);
    this.#queued = queued;
    return queued;
  }

  #start(): Promise<Lsn> {
    const running = this.db
      .query<{ lsn: string | null }>(this.sql, [])
      .then(([row]) => {
        const lsn = row?.lsn === null || row?.lsn === undefined ? undefined : parseLsn(row.lsn);
        if (lsn === undefined) throw new DatabaseUnavailableError();
        return lsn;
      })
      .finally(() => {
        if (this.#running === running) this.#running = undefined;
      });
    // Nobody may be listening when it fails (every caller aborted).
    running.catch(() => undefined);
    this.#running = running;
    return running;
  }
}

class Replica {
  healthy = false;
  replayLsn: Lsn | undefined;
  lagSeconds: number | undefined;
  readonly sampler: LsnSampler;
  readonly #waiters = new Set<{ lsn: Lsn; resolve: (ok: boolean) => void }>();
  #polling = false;

  constructor(
    readonly name: string,
    readonly db: Database,
  ) {
    this.sampler = new LsnSampler(db, "SELECT pg_last_wal_replay_lsn()::text AS lsn");
  }

  observe(lsn: Lsn): void {
    if (this.replayLsn === undefined || lsn > this.replayLsn) this.replayLsn = lsn;
    for (const waiter of this.#waiters) {
      if (lsn >= waiter.lsn) {
        this.#waiters.delete(waiter);
        waiter.resolve(true);
      }
    }
  }

  /** waitFor resolves true once the replica has replayed lsn, false after ms or on a failure. */
  waitFor(lsn: Lsn, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (this.replayLsn !== undefined && this.replayLsn >= lsn) return Promise.resolve(true);
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = {
        lsn,
        resolve: (ok: boolean) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve(ok);
        },
      };
      const onAbort = () => {
        this.#waiters.delete(waiter);
        waiter.resolve(false);
      };
      const timer = setTimeout(onAbort, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.add(waiter);
      void this.#poll();
    });
  }

  failWaiters(): void {
    for (const waiter of this.#waiters) waiter.resolve(false);
    this.#waiters.clear();
  }

  // One poll loop per replica while anyone waits, however many wait.
  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      while (this.#waiters.size > 0 && this.healthy) {
        try {
          this.observe(await this.sampler.sample());
        } catch {
          this.failWaiters();
          return;
        }
        if (this.#waiters.size > 0) await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
      }
      this.failWaiters();
    } finally {
      this.#polling = false;
    }
  }
}

/**
 * ReadRouter sends reads to replicas and everything else to the primary. It
 * probes in the background; stop() ends that (the databases are the caller's
 * to close).
 */
export class ReadRouter {
  readonly primary: Database;
  readonly #replicas: Replica[];
  readonly #primarySampler: LsnSampler;
  readonly #options: ReadRouterOptions;
  // (time, primary WAL position) samples, oldest first.
  readonly #history: { at: number; lsn: Lsn }[] = [];
  #next = 0;
  readonly #routes = new Map<ReadRoute, number>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #probeController = new AbortController();
  /** Resolves after the first probe round, so a server can use replicas from its first call. */
  readonly firstProbe: Promise<void>;

  constructor(options: ReadRouterOptions) {
    this.#options = options;
    this.primary = options.primary;
    this.#replicas = options.replicas.map((r) => new Replica(r.name, r.db));
    this.#primarySampler = new LsnSampler(options.primary, "SELECT pg_current_wal_lsn()::text AS lsn");
    this.firstProbe = this.#loop();
  }

  /** replicaStatuses: each replica's health, position and lag, for metrics. */
  replicaStatuses(): ReplicaStatus[] {
    return this.#replicas.map((r) => ({
      name: r.name,
      healthy: r.healthy,
      replayLsn: r.replayLsn,
      lagSeconds: r.lagSeconds,
    }));
  }

  /**
   * tokenAfterWrite: the consistency token for a write that has committed (call
   * it after the write returned). Shared between concurrent writers.
   */
  async tokenAfterWrite(options: QueryOptions = {}): Promise<Lsn> {
    const lsn = await this.#primarySampler.sample(options.signal);
    this.#record(lsn);
    return lsn;
  }

  /** replicaDatabases: the replicas' pools, for the caller to close after stop(). */
  replicaDatabases(): Database[] {
    return this.#replicas.map((r) => r.db);
  }

  /** readsByRoute: reads completed so far, by where they went. */
  readsByRoute(): ReadonlyMap<ReadRoute, number> {
    return this.#routes;
  }

  /** read runs fn on a replica that satisfies options.minLsn, or on the primary. */
  async read<T>(fn: (db: Database) => Promise<T>, options: ReadOptions = {}): Promise<ReadResult<T>> {
    const result = await this.#read(fn, options);
    this.#routes.set(result.route, (this.#routes.get(result.route) ?? 0) + 1);
    return result;
  }

  async #read<T>(fn: (db: Database) => Promise<T>, options: ReadOptions): Promise<ReadResult<T>> {
    const { minLsn, wantLsn = false, signal } = options;
    const choice = await this.#choose(minLsn, signal);
    if (choice.replica !== undefined) {
      const replica = choice.replica;
      try {
        const value = await fn(replica.db);
        const result: ReadResult<T> = { value, route: choice.route };
        if (wantLsn) {
          const lsn = await replica.sampler.sample(signal);
          replica.observe(lsn);
          result.lsn = minLsn !== undefined && minLsn > lsn ? minLsn : lsn;
        }
        return result;
      } catch (error) {
        if (!replicaFailure(error)) throw error;
        if (error instanceof DatabaseUnavailableError) this.#markDown(replica, "read failed: unreachable");
        // fall through to the primary
        return this.#onPrimary(fn, "primary-replica-failed", wantLsn, minLsn, signal);
      }
    }
    return this.#onPrimary(fn, choice.route, wantLsn, minLsn, signal);
  }

  stop(): void {
    this.#stopped = true;
    this.#probeController.abort();
    clearTimeout(this.#timer);
    for (const replica of this.#replicas) replica.failWaiters();
  }

  async #onPrimary<T>(
    fn: (db: Database) => Promise<T>,
    route: ReadRoute,
    wantLsn: boolean,
    minLsn: Lsn | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ReadResult<T>> {
    const value = await fn(this.primary);
    const result: ReadResult<T> = { value, route };
    if (wantLsn) {
      const lsn = await this.#primarySampler.sample(signal);
      this.#record(lsn);
      result.lsn = minLsn !== undefined && minLsn > lsn ? minLsn : lsn;
    }
    return result;
  }

  async #choose(
    minLsn: Lsn | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ replica?: Replica; route: ReadRoute }> {
    const healthy = this.#replicas.filter((r) => r.healthy);
    if (healthy.length === 0) return { route: "primary-no-replica" };
    const start = this.#next++ % healthy.length;
    const rotated = [...healthy.slice(start), ...healthy.slice(0, start)];
    if (minLsn === undefined) return { replica: rotated[0]!, route: "replica" };
    const fresh = rotated.find((r) => r.replayLsn !== undefined && r.replayLsn >= minLsn);
    if (fresh !== undefined) return { replica: fresh, route: "replica" };
    // Wait on the replica closest to the position; others may be down.
    const closest = rotated.reduce((a, b) => ((b.replayLsn ?? 0n) > (a.replayLsn ?? 0n) ? b : a));
    if (await closest.waitFor(minLsn, this.#options.waitMs, signal)) {
      return { replica: closest, route: "replica-waited" };
    }
    if (signal?.aborted) throw new QueryAbortedError({ cause: signal.reason });
    return { route: "primary-stale" };
  }

  #markDown(replica: Replica, reason: string): void {
    replica.lagSeconds = undefined;
    if (!replica.healthy) return;
    replica.healthy = false;
    replica.failWaiters();
    this.#options.onReplicaStateChange?.(replica.name, false, reason);
  }

  #record(lsn: Lsn): void {
    const now = Date.now();
    const last = this.#history.at(-1);
    if (last !== undefined && lsn <= last.lsn) return;
    this.#history.push({ at: now, lsn });
    while (this.#history.length > 1 && this.#history[0]!.at < now - HISTORY_MS) this.#history.shift();
  }

  /** lagMs: how long ago the primary first had WAL past replay (0 when the replica has all of it). */
  #lagMs(replay: Lsn, now: number): number {
    const firstAhead = this.#history.find((sample) => sample.lsn > replay);
    return firstAhead === undefined ? 0 : now - firstAhead.at;
  }

  async #loop(): Promise<void> {
    await this.#probeRound();
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#loop(), this.#options.probeIntervalMs ?? 500);
    this.#timer.unref();
  }

  async #probeRound(): Promise<void> {
    const signal = AbortSignal.any([this.#probeController.signal, AbortSignal.timeout(1_000)]);
    try {
      this.#record(await this.#primarySampler.sample(signal));
    } catch {
      // Primary down: the replicas' lag cannot grow while nothing is written.
    }
    await Promise.all(this.#replicas.map((replica) => this.#probeReplica(replica, signal)));
  }

  async #probeReplica(replica: Replica, signal: AbortSignal): Promise<void> {
    try {
      const [row] = await replica.db.query<{ standby: boolean; replay: string | null }>(
        "SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replay",
        [],
        { signal },
      );
      if (this.#stopped) return;
      if (row === undefined || !row.standby || row.replay === null) {
        this.#markDown(replica, "not a standby (promoted?)");
        return;
      }
      const replay = parseLsn(row.replay)!;
      replica.observe(replay);
      const lagMs = this.#lagMs(replay, Date.now());
      replica.lagSeconds = lagMs / 1000;
      const fit = lagMs <= this.#options.maxLagMs;
      if (fit && !replica.healthy) {
        replica.healthy = true;
        this.#options.onReplicaStateChange?.(replica.name, true, "caught up");
      } else if (!fit && replica.healthy) {
        replica.healthy = false;
        replica.failWaiters();
        this.#options.onReplicaStateChange?.(replica.name, false, `lag ${lagMs} ms > ${this.#options.maxLagMs} ms`);
      }
    } catch {
      if (!this.#stopped) this.#markDown(replica, "probe failed");
    }
  }
}

// 40001: a standby cancels queries that conflict with replay ("canceling
// statement due to conflict with recovery"); the primary has no such conflict.
function replicaFailure(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError || error instanceof PoolExhaustedError) return true;
  const cause = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return cause === "40001";
}

/** replicaName: host:port of a connection string, for logs and metrics (never the password). */
export function replicaName(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.hostname}:${url.port || "5432"}`;
  } catch {
    return "replica";
  }
}
