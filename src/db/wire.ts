/**
 * A PostgreSQL connection on Deno's own TCP socket: the store's hot
 * connection (`src/db/postgres_js.ts`). It speaks just what one statement at
 * a time outside a transaction needs of the extended protocol: each
 * statement is prepared once (Parse, Describe), then run with one Bind,
 * Execute and Sync in one write, every value in text format.
 *
 * Why: postgres.js runs on Deno's Node compatibility streams, which cost
 * ≈ 20 µs of CPU and ≈ 40 µs of wall time per round trip more than a
 * `Deno.Conn` (bench/README.md, seventh session) — a fifth of a one-event
 * append with synchronous commit on this machine's disks.
 *
 * Rows come back exactly as the store's postgres.js instances return them
 * (`wire_types.ts`); a statement with a column or parameter postgres.js would
 * treat otherwise, parameters other than strings, numbers, null and arrays of
 * those, a server that asks for a password or TLS: all of these are left to
 * postgres.js (`query` returns `undefined` or runs `fallback`).
 *
 * @module
 */
import { type Parser, plainParams, type Serializer, unsupported, WireTypes } from "./wire_types.ts";
import { Buffer } from "node:buffer";
import { connectionClosed, serverError, Writer } from "./wire_messages.ts";

/** Where to connect: what a `postgres://` URL names. */
export interface WireTarget {
  readonly hostname: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
}

/**
 * The target of a URL when the native connection can serve it: a TCP host,
 * no password (the server is then trusted to ask for none) and no TLS.
 *
 * @param url A `postgres://` URL.
 * @returns The target, or `null` when postgres.js must serve it alone.
 */
export function wireTarget(url: string): WireTarget | null {
  const parsed = new URL(url);
  const sslmode = parsed.searchParams.get("sslmode");
  if (parsed.password || (sslmode !== null && sslmode !== "disable")) return null;
  if ([...parsed.searchParams.keys()].some((key) => key !== "sslmode")) return null;
  const hostname = parsed.hostname.replace(/^\[|\]$/g, "") || "localhost";
  const user = decodeURIComponent(parsed.username) || Deno.env.get("PGUSER") || "postgres";
  const database = decodeURIComponent(parsed.pathname.slice(1)) || user;
  return { hostname, port: Number(parsed.port || "5432"), user, database };
}

/** A prepared statement: its name, parameter serialisers and columns. */
interface Prepared {
  readonly name: string;
  readonly serializers: readonly Serializer[];
  readonly columns: readonly { readonly name: string; readonly parse: Parser | undefined }[];
}

/** What the pending request is waiting for. */
interface Pending {
  readonly resolve: (rows: Record<string, unknown>[]) => void;
  readonly reject: (error: unknown) => void;
  readonly rows: Record<string, unknown>[];
  /** Columns to read DataRows with (none while preparing). */
  readonly columns: Prepared["columns"] | null;
  /** While preparing: the described parameter types and columns. */
  readonly described: { params: number[]; columns: { name: string; oid: number }[] } | null;
  error: Error | null;
}

/** The native connection's `application_name` (postgres.js's connections say `postgres.js`). */
export const APPLICATION_NAME = "rillflow";

/** Server routines whose error means a prepared statement must be prepared again. */
const STALE_ROUTINES = new Set([
  "FetchPreparedStatement",
  "RevalidateCachedQuery",
  "transformAssignedExpr",
]);

/** A receive buffer: `utf8Slice` reads a value faster than a `TextDecoder` call (≈ 40 %). */
type ReadBuffer = Buffer & { utf8Slice(start: number, end: number): string };

function readBuffer(size: number): ReadBuffer {
  return Buffer.allocUnsafe(size) as ReadBuffer;
}

/** One native connection; one statement at a time (see {@linkcode busy}). */
export class WireConnection {
  readonly #conn: Deno.TcpConn;
  readonly #types = new WireTypes();
  readonly #writer = new Writer();
  readonly #statements = new Map<string, Prepared | typeof unsupported>();
  #pending: Pending | null = null;
  /** From a statement's first message to its result (preparing and running it, one retry). */
  #inUse = false;
  /** Statements prepared so far (their names). */
  #named = 0;
  #closed = false;
  #ready = Promise.withResolvers<void>();

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#ready.promise.catch(() => {});
    this.#pump();
  }

  /**
   * Connects, authenticates (a server asking for a password is refused) and
   * reads the server's array types.
   *
   * @param target Where to connect.
   * @param timeoutMs How long connecting may take.
   * @returns The connection, or `null` when the server needs what it does not speak.
   */
  static async open(target: WireTarget, timeoutMs: number): Promise<WireConnection | null> {
    const conn = await Deno.connect({ hostname: target.hostname, port: target.port });
    conn.setNoDelay(true);
    const connection = new WireConnection(conn);
    const startup = connection.#writer.int32(0).int32(196608)
      .cstring("user").cstring(target.user).cstring("database").cstring(target.database)
      .cstring("client_encoding").cstring("UTF8")
      .cstring("application_name").cstring(APPLICATION_NAME).cstring("").take();
    new DataView(startup.buffer).setInt32(0, startup.length);
    const timer = setTimeout(() => connection.#fail(new Error("timed out")), timeoutMs);
    try {
      await connection.#write(startup);
      await connection.#ready.promise;
      const arrays = await connection.query<{ oid: number; typarray: number }>(
        `select b.oid, b.typarray from pg_catalog.pg_type a
           left join pg_catalog.pg_type b on b.oid = a.typelem
          where a.typcategory = 'A' group by b.oid, b.typarray order by b.oid`,
        [],
        () => Promise.reject(new Error("unsupported")),
      );
      connection.#types.addArrays(arrays!);
      return connection;
    } catch {
      connection.close();
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether a statement is running (the connection takes one at a time). */
  get busy(): boolean {
    return this.#inUse;
  }

  /** Whether the connection is gone (closed, or failed). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs one statement, returning its rows as postgres.js would.
   *
   * @param sql The statement, `$1…` placeholders.
   * @param params Its values.
   * @param fallback Runs the statement elsewhere when its types turn out unsupported (or the
   *   connection is taken when a stale statement is run again).
   * @param retried Whether this is the one retry of a stale statement.
   * @returns The rows; `undefined` (nothing sent) when these values or this statement are
   *   not served here, or the connection is busy or closed.
   */
  query<R>(
    sql: string,
    params: readonly unknown[],
    fallback: () => Promise<R[]>,
    retried = false,
  ): Promise<R[]> | undefined {
    const prepared = this.#statements.get(sql);
    if (this.#closed || this.#inUse || prepared === unsupported || !plainParams(params)) {
      return undefined;
    }
    this.#inUse = true;
    let running: Promise<Record<string, unknown>[] | undefined>;
    try {
      running = prepared
        ? this.#execute(prepared, params)
        : this.#prepare(sql).then((ready) =>
          ready === unsupported ? undefined : this.#execute(ready, params)
        );
    } catch (error) {
      this.#inUse = false;
      return Promise.reject(error);
    }
    return running.then(
      (rows) => {
        this.#inUse = false;
        return (rows as R[] | undefined) ?? fallback();
      },
      (error) => {
        this.#inUse = false;
        // A statement whose plan went stale (its table changed): prepared again, once, like
        // postgres.js does.
        if (retried || !STALE_ROUTINES.has((error as { routine?: string }).routine ?? "")) {
          throw error;
        }
        this.#statements.delete(sql);
        return this.query(sql, params, fallback, true) ?? fallback();
      },
    );
  }

  #request(
    columns: Prepared["columns"] | null,
    described: Pending["described"] = null,
  ): Promise<Record<string, unknown>[]> {
    if (this.#closed) return Promise.reject(connectionClosed());
    const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>[]>();
    this.#pending = { resolve, reject, rows: [], columns, described, error: null };
    return promise;
  }

  async #prepare(sql: string): Promise<Prepared | typeof unsupported> {
    const name = `rf${this.#named++}`;
    const w = this.#writer;
    w.begin("P").cstring(name).cstring(sql).int16(0).end();
    w.begin("D").cstring(`S${name}`).end().begin("S").end();
    const described = { params: [] as number[], columns: [] as { name: string; oid: number }[] };
    const done = this.#request(null, described);
    this.#send(w.take());
    await done;
    const serializers = described.params.map((oid) => this.#types.serializer(oid));
    const parsers = described.columns.map((column) => this.#types.parser(column.oid));
    if (serializers.includes(unsupported) || parsers.includes(unsupported)) {
      this.#statements.set(sql, unsupported);
      return unsupported;
    }
    const prepared: Prepared = {
      name,
      serializers: serializers as Serializer[],
      columns: described.columns.map((column, i) => ({
        name: column.name,
        parse: parsers[i] as Parser | undefined,
      })),
    };
    this.#statements.set(sql, prepared);
    return prepared;
  }

  #execute(prepared: Prepared, params: readonly unknown[]): Promise<Record<string, unknown>[]> {
    // Serialised first: a value a serialiser refuses (a RangeError) leaves nothing half-written.
    const values = params.map((value, i) =>
      value === null ? null : prepared.serializers[i]!(value)
    );
    const w = this.#writer;
    w.begin("B").cstring("").cstring(prepared.name).int16(0).int16(values.length);
    for (const value of values) w.value(value);
    w.int16(0).end().begin("E").cstring("").int32(0).end().begin("S").end();
    const done = this.#request(prepared.columns);
    this.#send(w.take());
    return done;
  }

  #send(bytes: Uint8Array): void {
    this.#write(bytes).catch((error) => this.#fail(error));
  }

  async #write(bytes: Uint8Array): Promise<void> {
    for (let offset = 0; offset < bytes.length;) {
      offset += await this.#conn.write(bytes.subarray(offset));
    }
  }

  /** Reads messages for as long as the connection lives. */
  async #pump(): Promise<void> {
    let buffer = readBuffer(64 * 1024);
    let view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    let start = 0;
    let end = 0;
    try {
      for (;;) {
        // Room for the message being read: its unread bytes move to the front, into a larger
        // buffer when it does not fit.
        const need = end - start >= 5 ? 1 + view.getUint32(start + 1) : 5;
        if (start + need > buffer.length) {
          if (need > buffer.length) {
            const next = readBuffer(need * 2);
            next.set(buffer.subarray(start, end));
            buffer = next;
            view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
          } else buffer.copyWithin(0, start, end);
          end -= start;
          start = 0;
        }
        const read = await this.#conn.read(buffer.subarray(end));
        if (read === null) throw connectionClosed();
        end += read;
        while (end - start >= 5) {
          const length = view.getUint32(start + 1);
          if (end - start < length + 1) break;
          this.#message(buffer[start]!, buffer, view, start + 5, start + 1 + length);
          start += length + 1;
        }
        if (start === end) start = end = 0;
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  #message(type: number, bytes: ReadBuffer, view: DataView, start: number, end: number): void {
    const pending = this.#pending;
    switch (type) {
      case 68: { // DataRow
        const columns = pending!.columns!;
        const row: Record<string, unknown> = {};
        let at = start + 2;
        for (let i = 0; i < columns.length; i++) {
          const length = view.getInt32(at);
          at += 4;
          const column = columns[i]!;
          if (length < 0) row[column.name] = null;
          else {
            const value = bytes.utf8Slice(at, at + length);
            row[column.name] = column.parse ? column.parse(value) : value;
            at += length;
          }
        }
        pending!.rows.push(row);
        return;
      }
      case 90: // ReadyForQuery
        this.#ready.resolve();
        if (!pending) return;
        this.#pending = null;
        if (pending.error) pending.reject(pending.error);
        else pending.resolve(pending.rows);
        return;
      case 69: { // ErrorResponse
        const error = serverError(bytes.subarray(start, end));
        if (pending) pending.error ??= error;
        else this.#fail(error);
        return;
      }
      case 116: { // ParameterDescription
        const count = view.getInt16(start);
        for (let i = 0; i < count; i++) {
          pending!.described!.params.push(view.getUint32(start + 2 + 4 * i));
        }
        return;
      }
      case 84: { // RowDescription
        const count = view.getInt16(start);
        let at = start + 2;
        for (let i = 0; i < count; i++) {
          const nameEnd = bytes.indexOf(0, at);
          const name = bytes.utf8Slice(at, nameEnd);
          pending!.described!.columns.push({ name, oid: view.getUint32(nameEnd + 7) });
          at = nameEnd + 19;
        }
        return;
      }
      case 82: // Authentication: only AuthenticationOk is spoken here.
        if (view.getInt32(start) !== 0) this.#fail(new Error("authentication requested"));
        return;
      default: // ParseComplete, BindComplete, CommandComplete, NoData, notices, parameters…
        return;
    }
  }

  /** Fails the pending statement and closes the connection. */
  #fail(cause: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = (cause as { code?: unknown })?.code ? cause : connectionClosed(cause);
    this.#ready.reject(error);
    const pending = this.#pending;
    this.#pending = null;
    pending?.reject(pending.error ?? error);
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /** Closes the connection (a running statement fails). */
  close(): void {
    this.#fail(connectionClosed());
  }
}
