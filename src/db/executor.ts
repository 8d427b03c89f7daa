/**
 * The one database interface everything above `src/db/` is written against
 * (the URL dispatcher that picks an adapter is `open.ts`).
 *
 * @module
 */
import type { SqlTag } from "./sql.ts";
import { SqlFragment } from "./sql.ts";

/** Something that runs a parameterised statement and returns its rows. */
export interface Queryable {
  /**
   * Runs one statement with bound parameters.
   *
   * @param text SQL text with `$1…$n` placeholders.
   * @param params The parameter values (plain objects are sent as JSON).
   * @returns The result rows.
   */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
}

/**
 * The transaction handle given to projection handlers and other callbacks:
 * `query(text, params)` and a `sql` tag that binds every `${value}`.
 * The same type for both database adapters.
 */
export interface Tx {
  /**
   * Runs one statement with bound parameters in this transaction.
   *
   * @param text SQL text with `$1…$n` placeholders.
   * @param params The parameter values (plain objects are sent as JSON).
   * @returns The result rows.
   */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs the tagged query and returns its rows; every `${value}` is a bound parameter. */
  readonly sql: SqlTag;
}

/** The transaction handle Rillflow's own code uses: a {@linkcode Tx} plus trusted scripts and COPY. */
export interface InternalTx extends Tx {
  /** Runs trusted, possibly multi-statement SQL text (migration files) with no parameters. */
  script(text: string): Promise<void>;
  /**
   * Loads rows with `COPY … FROM STDIN` in text format.
   *
   * @param table Schema-qualified, quoted table name.
   * @param columns Quoted column names.
   * @param data Rows in PostgreSQL's COPY text format.
   */
  copyIn(table: string, columns: readonly string[], data: string): Promise<void>;
  /**
   * Runs `fn` under a savepoint: when it throws (a SQL error included), the
   * transaction is rolled back to the savepoint, stays usable, and the error
   * is rethrown. Statements inside must use the handle `fn` receives.
   *
   * @param fn The work.
   * @returns What `fn` returned.
   */
  savepoint<T>(fn: (tx: InternalTx) => Promise<T>): Promise<T>;
}

/** Options for {@linkcode Executor.transaction}. */
export interface TransactionOptions {
  /** Sets `search_path` for this transaction only (`set_config(…, true)`). */
  searchPath?: string;
  /** The isolation level; READ COMMITTED by default. */
  isolation?: "read committed" | "repeatable read" | "serializable";
}

/** A LISTEN registration. */
export interface Listener {
  /** Stops listening. */
  unlisten(): Promise<void>;
}

/** A connection reserved for one caller (session-level advisory locks). */
export interface DedicatedConnection extends Queryable {
  /** Returns the connection to the pool. */
  release(): Promise<void>;
}

/** The database interface with a postgres.js and a PGlite implementation. */
export interface Executor extends Queryable {
  /** Which adapter this is. */
  readonly kind: "postgres" | "pglite";
  /** Where it points, without credentials (`postgres://host:5432/db`, `pglite://memory`). */
  readonly description: string;
  /** How many connections may be open at once. */
  readonly maxConnections: number;
  /**
   * Runs `fn` in one transaction, committing when it resolves and rolling back when it throws.
   *
   * @param fn The work; it must use the given handle, not the executor.
   * @param options search_path and isolation level.
   * @returns What `fn` returned.
   */
  transaction<T>(fn: (tx: InternalTx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Subscribes to a NOTIFY channel.
   *
   * @param channel A validated channel name.
   * @param onPayload Called with each notification's payload.
   * @param onReconnect Called after the listening connection was re-established.
   * @returns A handle to stop listening.
   */
  listen(
    channel: string,
    onPayload: (payload: string) => void,
    onReconnect?: () => void,
  ): Promise<Listener>;
  /** Reserves one connection until released (for session-level advisory locks). */
  dedicated(): Promise<DedicatedConnection>;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** Connection options shared by both adapters. */
export interface ConnectOptions {
  /** Pool size for servers (ignored by PGlite, which has one connection). */
  maxConnections?: number;
  /** How long connecting may take before `CONNECTION_ERROR`. */
  connectTimeoutMs?: number;
  /**
   * What sits between Rillflow and the server (postgres.js only). `"transaction"`: a pooler
   * in transaction mode (PgBouncer `pool_mode = transaction`), so statements are sent
   * unnamed (no server-side prepared statements) and what needs a session of its own
   * (LISTEN, dedicated connections) goes to `directUrl`. `"none"` by default.
   */
  pooler?: "none" | "transaction";
  /**
   * A `postgres://` URL straight to the server, bypassing the pooler, for what needs a
   * session of its own: LISTEN and dedicated connections. Without it they use the main URL,
   * or under `pooler: "transaction"` fail with `INVALID_INPUT` naming this option.
   */
  directUrl?: string;
}

/**
 * Prepares parameter values for a driver: plain objects are sent as JSON text.
 *
 * @param params The caller's values.
 * @returns Values both drivers serialise the same way.
 */
export function normalizeParams(params: readonly unknown[] | undefined): unknown[] {
  if (!params) return [];
  let normalized: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    const value = params[i];
    if (
      value !== null && typeof value === "object" && !Array.isArray(value) &&
      !(value instanceof Date) && !(value instanceof Uint8Array)
    ) {
      normalized ??= [...params];
      normalized[i] = JSON.stringify(value);
    }
  }
  // Most statements pass only scalars and arrays: no copy then.
  return normalized ?? params as unknown[];
}

/**
 * Builds the `sql` tag of a {@linkcode Tx} from its `query` method.
 *
 * @param run The handle's query function.
 * @returns A tag that compiles the template and runs it.
 */
export function sqlTagFor(run: Queryable["query"]): SqlTag {
  return (strings, ...values) => {
    const { text, params } = new SqlFragment(strings, values).compile();
    return run(text, params);
  };
}
