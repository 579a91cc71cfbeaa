import net from "node:net";
import pg from "pg";
import {
  classifyValueError,
  DatabaseUnavailableError,
  PoolExhaustedError,
  QueryAbortedError,
  QueryTimeoutError,
  isUnavailable,
} from "./errors.js";
import { parseTimestamptzMicros } from "./time.js";
import { tracePoolWait, traceStatement } from "./tracing.js";

/** DatabaseConfig: how to reach PostgreSQL and how much of it to use. */
export interface DatabaseConfig {
  connectionString: string;
  /** Connections in the pool. PostgreSQL does best with few: start near cores x 2. */
  poolSize: number;
  /** Longest a query waits for a free connection before PoolExhaustedError. */
  acquireTimeoutMs: number;
  /** Most queries waiting for a connection; beyond it, refuse at once. */
  maxWaiting: number;
  /** Server-side statement_timeout: PostgreSQL stops any statement after this. */
  statementTimeoutMs: number;
  applicationName?: string;
}

export interface QueryOptions {
  /** When it aborts, the running statement is cancelled in PostgreSQL, not only abandoned. */
  signal?: AbortSignal | undefined;
}

/**
 * NamedStatement is a statement each connection parses and plans once
 * (PostgreSQL's named prepared statements), for the reads served on every
 * call: unnamed, a ListTrips page spent about as much PostgreSQL CPU on
 * parsing and planning as on running. After five executions PostgreSQL may
 * keep one generic plan for all parameter values, so a named statement's SQL
 * must plan well without knowing them (no `$n IS NULL OR ...`): plan tests
 * check its generic plan.
 */
export interface NamedStatement {
  readonly name: string;
  readonly text: string;
}

const statementTexts = new Map<string, string>();

/** namedStatement names a statement. A connection knows a name by its first text: two texts may not share one. */
export function namedStatement(name: string, text: string): NamedStatement {
  const known = statementTexts.get(name);
  if (known !== undefined && known !== text) throw new Error(`statement name ${name} is taken by another statement`);
  statementTexts.set(name, text);
  return { name, text };
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

// Parse int8 (COUNT, SUM of bigint, ids, money) as BigInt and timestamptz as
// bigint microseconds, once, for every query of this pool.
const INT8_OID = 20;
const TIMESTAMPTZ_OID = 1184;
const typeParsers = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    if (oid === INT8_OID) return (value: string) => BigInt(value);
    if (oid === TIMESTAMPTZ_OID) return parseTimestamptzMicros;
    return pg.types.getTypeParser(oid, format as "text");
  },
} as pg.CustomTypesConfig;

/**
 * Database owns the pg Pool. Every query of the service goes through it, so
 * waiting is bounded, aborted calls cancel their statement in PostgreSQL and
 * failures arrive as the typed errors of ./errors.ts.
 */
export class Database {
  readonly #pool: pg.Pool;
  readonly #maxWaiting: number;
  #connectionErrors = 0;
  #discardedAfterCancel = 0;

  constructor(config: DatabaseConfig) {
    this.#maxWaiting = config.maxWaiting;
    this.#pool = new pg.Pool({
      connectionString: config.connectionString,
      max: config.poolSize,
      connectionTimeoutMillis: config.acquireTimeoutMs,
      idleTimeoutMillis: 30_000,
      statement_timeout: config.statementTimeoutMs,
      application_name: config.applicationName ?? "driver-analytics",
      // Our timestamp parser relies on this exact output format.
      options: "-c TimeZone=UTC -c DateStyle=ISO",
      types: typeParsers,
    });
    // An idle connection that dies (database restart) must not crash the process.
    this.#pool.on("error", () => {
      this.#connectionErrors++;
    });
  }

  /** poolStats: connections open, idle, and queries waiting for one. */
  poolStats(): PoolStats {
    return {
      total: this.#pool.totalCount,
      idle: this.#pool.idleCount,
      waiting: this.#pool.waitingCount,
    };
  }

  /** connectionErrors counts connections lost since start, idle or checked out (e.g. database restarts). */
  get connectionErrors(): number {
    return this.#connectionErrors;
  }

  /**
   * connectionsDiscardedAfterCancel counts connections closed instead of
   * returned to the pool because a CancelRequest was sent for them: whether
   * the cancel stopped the statement or arrived after it finished, it must
   * not land on the next caller's statement.
   */
  get connectionsDiscardedAfterCancel(): number {
    return this.#discardedAfterCancel;
  }

  /** query runs one parameterized statement and returns its rows. */
  async query<Row extends object>(
    statement: string | NamedStatement,
    values: readonly unknown[],
    options: QueryOptions = {},
  ): Promise<Row[]> {
    return this.withClient((client, fence) => runCancellable<Row>(client, statement, values, options.signal, fence), options);
  }

  /**
   * transaction runs fn inside BEGIN/COMMIT on one connection, rolling back on
   * any error. fn must issue its queries through the client it is given.
   */
  async transaction<T>(
    fn: (tx: Transaction) => Promise<T>,
    options: QueryOptions = {},
  ): Promise<T> {
    return this.withClient(async (client, fence) => {
      const tx: Transaction = {
        query: <Row extends object>(text: string, values: readonly unknown[]) =>
          runCancellable<Row>(client, text, values, options.signal, fence),
      };
      await runCancellable(client, "BEGIN", [], options.signal, fence);
      try {
        const result = await fn(tx);
        await runCancellable(client, "COMMIT", [], options.signal, fence);
        return result;
      } catch (error) {
        // A failed ROLLBACK means the connection is broken; withClient discards it.
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    }, options);
  }

  /** close waits for checked-out connections to return, then closes them all. */
  async close(): Promise<void> {
    await this.#pool.end();
  }

  private async withClient<T>(
    fn: (client: pg.PoolClient, fence: CancelFence) => Promise<T>,
    options: QueryOptions,
  ): Promise<T> {
    const { signal } = options;
    if (signal?.aborted) throw new QueryAbortedError({ cause: signal.reason });
    if (this.#pool.waitingCount >= this.#maxWaiting) {
      throw new PoolExhaustedError("queue-full");
    }
    const client = await tracePoolWait(() => this.acquire(signal), () => this.#pool.waitingCount);
    let broken: Error | undefined;
    // pg-pool listens for errors on idle clients only: a checked-out client
    // that PostgreSQL drops between statements (a restart: FATAL 57P01)
    // emits 'error' with no listener, which would crash the process.
    const onError = (error: Error) => {
      broken = error;
      this.#connectionErrors++;
    };
    client.on("error", onError);
    const fence: CancelFence = { cancelSent: false };
    try {
      return await fn(client, fence);
    } catch (error) {
      // A cancelled or failed connection is not handed to the next caller:
      // a late CancelRequest could otherwise hit that caller's query.
      if (error instanceof QueryAbortedError || isUnavailable(error)) {
        broken = error instanceof Error ? error : new Error(String(error));
      }
      throw classify(error);
    } finally {
      client.off("error", onError);
      // A CancelRequest travels on a connection of its own and reaches the
      // backend whenever it does: if the statement finished first, it would
      // cancel the next caller's statement on this connection. Close it.
      if (fence.cancelSent && broken === undefined) broken = new Error("a cancel request was sent for this connection");
      if (fence.cancelSent) this.#discardedAfterCancel++;
      client.release(broken);
    }
  }

  private async acquire(signal: AbortSignal | undefined): Promise<pg.PoolClient> {
    const pending = this.#pool.connect().catch((error: unknown) => {
      throw classifyConnectError(error);
    });
    if (signal === undefined) return pending;
    return new Promise<pg.PoolClient>((resolve, reject) => {
      const onAbort = () => {
        reject(new QueryAbortedError({ cause: signal.reason }));
        // The connection may still arrive; give it straight back.
        pending.then((client) => client.release(), () => undefined);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      pending.then(
        (client) => {
          signal.removeEventListener("abort", onAbort);
          if (signal.aborted) return; // onAbort already released it
          resolve(client);
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  }
}

/** Transaction is the query surface handed to a transaction callback. */
export interface Transaction {
  query<Row extends object>(text: string, values: readonly unknown[]): Promise<Row[]>;
}

/** CancelFence records that a CancelRequest was sent for a checked-out connection. */
interface CancelFence {
  cancelSent: boolean;
}

async function runCancellable<Row extends object>(
  client: pg.PoolClient,
  statement: string | NamedStatement,
  values: readonly unknown[],
  signal: AbortSignal | undefined,
  fence: CancelFence,
): Promise<Row[]> {
  if (signal?.aborted) throw new QueryAbortedError({ cause: signal.reason });
  let aborted = false;
  const onAbort = () => {
    aborted = true;
    fence.cancelSent = true;
    sendCancelRequest(client);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const config: pg.QueryConfig =
      typeof statement === "string"
        ? { text: statement, values: values as unknown[] }
        : { name: statement.name, text: statement.text, values: values as unknown[] };
    const result = await traceStatement(config.text, () => client.query<Row>(config));
    return result.rows;
  } catch (error) {
    if (aborted) throw new QueryAbortedError({ cause: error });
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

// PostgreSQL's CancelRequest: a new connection carrying the backend's pid and
// secret key. pg exposes no public API for it, so we speak it directly.
const CANCEL_REQUEST_CODE = 80877102;

function sendCancelRequest(client: pg.PoolClient): void {
  const { processID, secretKey, host, port } = client as pg.PoolClient & {
    processID: number | null;
    secretKey: number | null;
    host: string;
    port: number;
  };
  if (processID === null || secretKey === null) return;
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  const socket = host.startsWith("/")
    ? net.connect(`${host}/.s.PGSQL.${port}`)
    : net.connect(port, host);
  socket.setTimeout(5_000, () => socket.destroy());
  socket.on("error", () => undefined); // best effort; statement_timeout is the backstop
  socket.end(packet);
}

function classifyConnectError(error: unknown): Error {
  if (error instanceof Error && /timeout exceeded when trying to connect/i.test(error.message)) {
    return new PoolExhaustedError("wait-timeout", { cause: error });
  }
  const classified = classify(error);
  return classified instanceof Error ? classified : new Error(String(classified));
}

function classify(error: unknown): unknown {
  if (
    error instanceof QueryAbortedError ||
    error instanceof PoolExhaustedError ||
    error instanceof DatabaseUnavailableError ||
    error instanceof QueryTimeoutError
  ) {
    return error;
  }
  if (error instanceof Error && (error as { code?: unknown }).code === "57014") {
    return new QueryTimeoutError({ cause: error });
  }
  if (isUnavailable(error)) return new DatabaseUnavailableError({ cause: error });
  return classifyValueError(error);
}
