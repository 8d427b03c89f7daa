/**
 * The postgres.js adapter of {@linkcode Executor}.
 *
 * @module
 */
import postgres from "postgres";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type {
  ConnectOptions,
  DedicatedConnection,
  Executor,
  InternalTx,
  Listener,
  TransactionOptions,
} from "./executor.ts";
import { normalizeParams, sqlTagFor } from "./executor.ts";
import { mapDatabaseError } from "./_pg_errors.ts";
import { type ListenTarget, listenWithReconnect } from "./postgres_listener.ts";
import { RillflowError } from "../errors.ts";
import { noDelaySocket } from "./postgres_socket.ts";

type Sql = postgres.Sql;
// deno-lint-ignore no-explicit-any
type AnyParams = any[];

/** Describes a server URL for messages: host, port and database, never credentials. */
export function describeServerUrl(url: string): { host: string; database: string; text: string } {
  try {
    const parsed = new URL(url);
    const host = `${parsed.hostname || "localhost"}:${parsed.port || "5432"}`;
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, "")) ||
      decodeURIComponent(parsed.username) || "postgres";
    return { host, database, text: `postgres://${host}/${database}` };
  } catch {
    throw new RillflowError("CONNECTION_ERROR", "Malformed database URL", { retryable: false });
  }
}

/** Removes the password of `url` from a message, should a driver echo it. */
function redact(message: string, url: string): string {
  try {
    const password = new URL(url).password;
    if (password) {
      return message.split(password).join("***").split(decodeURIComponent(password)).join("***");
    }
  } catch { /* already validated */ }
  return message;
}

/** Wraps a driver call so every failure becomes a RillflowError. */
async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw mapDatabaseError(error);
  }
}

/**
 * Copies postgres.js's Result (an Array subclass with extra fields) into a
 * plain array. A loop, not `slice`: slicing a subclass constructs another
 * Result through `Symbol.species`, which costs more than the copy.
 */
function plainRows<R>(result: ArrayLike<unknown>): R[] {
  const rows = new Array<R>(result.length);
  for (let i = 0; i < result.length; i++) rows[i] = result[i] as R;
  return rows;
}

function failed(error: unknown): never {
  throw mapDatabaseError(error);
}

/**
 * Runs a statement on postgres.js and returns its rows as a plain array (not
 * postgres.js's Result); a failure, thrown or not, is mapped.
 */
function rowsOf<R>(
  run: Sql | postgres.TransactionSql | postgres.ReservedSql,
  text: string,
  params: readonly unknown[] | undefined,
): Promise<R[]> {
  try {
    return run.unsafe(text, normalizeParams(params) as AnyParams, { prepare: true })
      .then(plainRows<R>, failed);
  } catch (error) {
    return Promise.reject(error).then(plainRows<R>, failed);
  }
}

/** Is this thrown value something the driver raised (rather than the caller's own error)? */
function fromDriver(error: unknown): boolean {
  return error instanceof postgres.PostgresError ||
    (error instanceof Error && typeof (error as { code?: unknown }).code === "string" &&
      !(error instanceof RillflowError));
}

/**
 * The fate of a transaction's connection. postgres.js 3.4 crashes the process
 * (a TypeError in a deferred socket write) when a statement is sent on a
 * transaction whose connection has closed, and its transaction and savepoint
 * scopes send `rollback` after any error. So once a statement fails with a
 * connection error, nothing more is sent: our handles refuse, the scope
 * callbacks are left pending (a closed connection needs no rollback), and the
 * transaction fails with the connection error.
 */
class TxConnection {
  lost: RillflowError | null = null;
  readonly #failed = Promise.withResolvers<never>();
  /** Rejects with the connection error once the connection is lost. */
  readonly failed: Promise<never> = this.#failed.promise;

  constructor() {
    this.failed.catch(() => {});
  }

  /** Records a failure; a connection error marks the connection lost. */
  observe(error: unknown): void {
    if (!this.lost && error instanceof RillflowError && error.code === "CONNECTION_ERROR") {
      this.lost = error;
      this.#failed.reject(error);
    }
  }

  /** What a scope callback returns after the connection is lost: it never settles. */
  static stranded(): Promise<never> {
    return new Promise<never>(() => {});
  }
}

async function guarded<T>(connection: TxConnection, work: () => Promise<T>): Promise<T> {
  if (connection.lost) throw connection.lost;
  try {
    return await work();
  } catch (error) {
    connection.observe(error);
    throw error;
  }
}

function txHandle(t: postgres.TransactionSql, connection: TxConnection): InternalTx {
  const query = <R>(text: string, params?: readonly unknown[]) =>
    guarded(connection, () => rowsOf<R>(t, text, params));
  return {
    query,
    sql: sqlTagFor(query),
    script: (text) =>
      guarded(connection, () => mapped(async () => void await t.unsafe(text).simple())),
    copyIn: (table, columns, data) =>
      guarded(connection, () =>
        mapped(async () => {
          const query = t.unsafe(`copy ${table} (${columns.join(", ")}) from stdin`);
          // postgres.js 3.4.9 never settles a COPY's writable when the server rejects the rows
          // (porsager/postgres#1173): the error only reaches the query's reject, after the query
          // has resolved with the stream. Catch it there, or the transaction hangs forever.
          const failed = Promise.withResolvers<never>();
          failed.promise.catch(() => {});
          const pending = query as unknown as { reject: (error: unknown) => void };
          const reject = pending.reject;
          pending.reject = (error) => (failed.reject(error), reject(error));
          const writable = await query.writable();
          await Promise.race([pipeline(Readable.from([data]), writable), failed.promise]);
        })),
    // postgres.js fails a transaction whose scope saw any query error, even a caught one;
    // its savepoint scope confines such errors.
    savepoint: async <T>(fn: (tx: InternalTx) => Promise<T>) => {
      if (connection.lost) throw connection.lost;
      try {
        return await Promise.race([
          t.savepoint((s: postgres.TransactionSql) =>
            fn(txHandle(s, connection)).catch((error) => {
              if (connection.lost) return TxConnection.stranded();
              throw error;
            })
          ),
          connection.failed,
        ]) as T;
      } catch (error) {
        const failure = fromDriver(error) ? mapDatabaseError(error) : error;
        connection.observe(failure); // the SAVEPOINT statement's own failure, too
        throw failure;
      }
    },
  };
}

/** The postgres.js executor: one pool for statements, transactions and reserved connections. */
class PostgresExecutor implements Executor {
  readonly kind = "postgres" as const;

  /**
   * @param sql The pool for statements and transactions.
   * @param description Where it points, without credentials.
   * @param maxConnections The pool size.
   * @param session Where what needs a session of its own connects (LISTEN, dedicated
   *   connections), or null behind a transaction pooler without `directUrl`.
   */
  constructor(
    readonly sql: Sql,
    readonly description: string,
    readonly maxConnections: number,
    readonly session: SessionTarget | null,
  ) {}

  // An arrow bound to this instance: wrappers built with `Object.create(executor, …)` (views,
  // tests) call it with themselves as `this`.
  readonly query = <R = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<R[]> => rowsOf<R>(this.sql, text, params);

  async transaction<T>(
    fn: (tx: InternalTx) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    const mode = options.isolation ? `isolation level ${options.isolation}` : "";
    try {
      const connection = new TxConnection();
      const work = this.sql.begin(mode, async (t) => {
        const tx = txHandle(t, connection);
        if (options.searchPath !== undefined) {
          await tx.query("select set_config('search_path', $1, true)", [options.searchPath]);
        }
        try {
          const result = await fn(tx);
          return connection.lost ? TxConnection.stranded() : result;
        } catch (error) {
          if (connection.lost) return TxConnection.stranded();
          throw error;
        }
      });
      // postgres.js rejects `begin` as soon as the connection closes, while the callback may still
      // be running; when the callback then settles, postgres.js writes COMMIT or ROLLBACK to the
      // closed socket from a timer, which throws and ends the process. Marking the connection
      // lost here strands the callback's outcome instead (see TxConnection.stranded).
      work.catch((error: unknown) => {
        try {
          connection.observe(mapDatabaseError(error));
        } catch { /* the callback's own TypeError or RangeError: not a lost connection */ }
      });
      return await Promise.race([work, connection.failed]) as T;
    } catch (error) {
      throw fromDriver(error) ? mapDatabaseError(error) : error;
    }
  }

  /** Listeners still open, closed with the executor. */
  readonly #listeners = new Set<Listener>();

  async listen(
    channel: string,
    onPayload: (payload: string) => void,
    onReconnect?: () => void,
  ): Promise<Listener> {
    const inner = await listenWithReconnect(
      this.#sessionTarget("LISTEN"),
      channel,
      onPayload,
      onReconnect,
    );
    const listener: Listener = {
      unlisten: () => {
        this.#listeners.delete(listener);
        return inner.unlisten();
      },
    };
    this.#listeners.add(listener);
    return listener;
  }

  /** The session target for `feature`, or the error that names `directUrl`. */
  #sessionTarget(feature: string): SessionTarget {
    if (this.session) return this.session;
    throw new RillflowError(
      "INVALID_INPUT",
      `Cannot ${feature} through a transaction pooler (pooler: "transaction"): it needs a ` +
        "session of its own. Pass directUrl, a URL straight to PostgreSQL, to Store.connect " +
        "(the CLI: --direct-url or DIRECT_DATABASE_URL)",
      { retryable: false, details: { option: "directUrl", feature } },
    );
  }

  async dedicated(): Promise<DedicatedConnection> {
    const pool = this.#sessionTarget("reserve a dedicated connection").pool ?? this.sql;
    const reserved = await mapped(() => pool.reserve());
    return {
      query: <R>(text: string, params?: readonly unknown[]) => rowsOf<R>(reserved, text, params),
      release: () => Promise.resolve(reserved.release()),
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#listeners].map((listener) => listener.unlisten()));
    await Promise.all([this.sql.end({ timeout: 5 }), this.session?.pool?.end({ timeout: 5 })]);
  }
}

/** Where what needs a session connects: the listener's URL and the pool of dedicated connections. */
interface SessionTarget extends ListenTarget {
  /** The pool of `directUrl`, or null when sessions use the main pool. */
  readonly pool: Sql | null;
}

/**
 * Sends `select 1` on a new pool within the timeout; on failure ends the pool and throws.
 *
 * @param sql The pool.
 * @param url Its URL (for the message; the password never shows).
 * @param timeoutMs How long the check may take.
 * @param option The option naming the URL, for the message (`directUrl`), if not the main one.
 * @throws {RillflowError} `CONNECTION_ERROR` naming host and database.
 */
async function checkConnected(
  sql: Sql,
  url: string,
  timeoutMs: number,
  option?: string,
): Promise<void> {
  const where = describeServerUrl(url);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      // postgres.js's own connect_timeout does not fire for unreachable hosts under Deno.
      timer = setTimeout(
        () => reject(Object.assign(new Error("timed out"), { timedOut: true })),
        timeoutMs,
      );
    });
    await Promise.race([sql`select 1`, timeout]);
    // The first connection has read the server's array types into the pool's shared parsers.
    // postgres.js 3.4 would read them again on every new connection, in a promise nobody
    // handles: when that connection is lost and its reconnect refused, the rejection ends the
    // process (tests/faults/cut_fault.ts after daemon_fault.ts). Once is enough.
    sql.options.fetch_types = false;
  } catch (error) {
    sql.end({ timeout: 0 }).catch(() => {});
    const reason = (error as { timedOut?: boolean }).timedOut
      ? `no answer within ${timeoutMs} ms`
      : redact(error instanceof Error ? error.message : String(error), url);
    throw new RillflowError(
      "CONNECTION_ERROR",
      `Cannot connect to PostgreSQL at ${where.host}, database "${where.database}"` +
        `${option ? ` (${option})` : ""}: ${reason}`,
      {
        cause: error,
        details: { host: where.host, database: where.database, ...(option ? { option } : {}) },
      },
    );
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects to a PostgreSQL server and checks the connection within the timeout.
 *
 * Under `pooler: "transaction"` statements are sent unnamed: a transaction pooler hands
 * each transaction to whichever server connection is free, where a named prepared
 * statement of another connection does not exist (PgBouncer before 1.21 cannot track
 * them). LISTEN and dedicated connections need a session: they connect to `directUrl`
 * (checked here too), or without it fail with `INVALID_INPUT` when asked for.
 *
 * @param url A `postgres://` or `postgresql://` URL.
 * @param options Pool size, connect timeout, pooler and direct URL.
 * @returns A ready executor.
 * @throws {RillflowError} `CONNECTION_ERROR` naming host and database, never the password.
 */
export async function connectPostgres(url: string, options: ConnectOptions): Promise<Executor> {
  const where = describeServerUrl(url);
  const maxConnections = options.maxConnections ?? 10;
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const pooled = options.pooler === "transaction";
  const driverOptions = {
    connect_timeout: Math.max(1, Math.ceil(timeoutMs / 1000)),
    onnotice: () => {},
    // Parsed by postgres.js though missing from its types (see postgres_socket.ts).
    socket: noDelaySocket(timeoutMs),
    types: {
      // int8 (counts, positions) as JS numbers: positions stay below 2^53.
      bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: Number },
      // JSON parameters arrive as JSON text (see normalizeParams), as PGlite expects too.
      jsonb: {
        to: 3802,
        from: [114, 3802],
        serialize: (x: unknown) => typeof x === "string" ? x : JSON.stringify(x),
        parse: (x: string) => JSON.parse(x),
      },
    },
  };
  // `prepare: false` here overrides the `prepare: true` of every statement (rowsOf), and
  // also covers postgres.js's own BEGIN and COMMIT.
  const sql = postgres(url, { ...driverOptions, max: maxConnections, prepare: !pooled });
  await checkConnected(sql, url, timeoutMs);
  let session: SessionTarget | null = pooled
    ? null
    : { url, connectTimeoutMs: timeoutMs, pool: null };
  if (options.directUrl !== undefined) {
    const pool = postgres(options.directUrl, { ...driverOptions, max: maxConnections });
    try {
      await checkConnected(pool, options.directUrl, timeoutMs, "directUrl");
    } catch (error) {
      sql.end({ timeout: 0 }).catch(() => {});
      throw error;
    }
    session = { url: options.directUrl, connectTimeoutMs: timeoutMs, pool };
  }
  return new PostgresExecutor(sql, where.text, maxConnections, session);
}
