/**
 * Ready-made projections for the common read-model shapes: a view that
 * counts and sums events per key, and a multi-stream projection that folds
 * events from many streams into one JSON state per key. Both create their
 * table in `setup` and empty it in `reset`; tables live in the store's schema.
 *
 * @module
 */
import { quoteIdent } from "../db/identifiers.ts";
import type { Tx } from "../db/executor.ts";
import type { EventEnvelope } from "../events/envelope.ts";
import type { Projection } from "../events/projection.ts";
import { contextOf, type StoreRef } from "../_context.ts";

/** A value taken from an event: a dot path into `data` (`"customer.id"`) or a function. */
export type EventField<V> = string | ((event: EventEnvelope) => V | null | undefined);

/** A projection that owns one table. */
export interface TableProjection extends Projection {
  /** The table's name (unqualified, in the store's schema). */
  readonly table: string;
  /** Creates the table when missing. */
  setup(tx: Tx): Promise<void>;
  /** Deletes every row (before a rebuild). */
  reset(tx: Tx): Promise<void>;
}

function readField<V>(event: EventEnvelope, field: EventField<V>): V | null | undefined {
  if (typeof field === "function") return field(event);
  let value: unknown = event.data;
  for (const part of field.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value as V | null | undefined;
}

function assertField(field: unknown, what: string): void {
  if (typeof field === "function") return;
  if (typeof field !== "string" || field === "" || field.split(".").some((part) => part === "")) {
    throw new TypeError(`${what} must be a dot path like "customer.id" or a function`);
  }
}

/** A row of a {@linkcode viewProjection}'s table: the key and its count and sum columns. */
export interface ViewRow {
  /** The grouping key. */
  readonly key: string;
  /** The count and sum columns, as numbers. */
  readonly [column: string]: string | number;
}

/** A {@linkcode viewProjection}: its table, plus a reader. */
export interface ViewProjection extends TableProjection {
  /**
   * Reads the view, ordered by key (counts and sums as numbers).
   *
   * @param store The store whose schema holds the table.
   * @returns The rows.
   */
  read(store: StoreRef): Promise<ViewRow[]>;
}

/** A state of a {@linkcode multiStreamProjection}. */
export interface KeyedState<S> {
  /** The key. */
  id: string;
  /** The folded state. */
  state: S;
  /** How many events were folded into it. */
  version: number;
}

/** A {@linkcode multiStreamProjection}: its table, plus readers. */
export interface MultiStreamProjection<S> extends TableProjection {
  /**
   * Reads one key's state.
   *
   * @param store The store whose schema holds the table.
   * @param id The key.
   * @returns The state, or `null` when no event carried this key.
   */
  get(store: StoreRef, id: string): Promise<KeyedState<S> | null>;
  /**
   * Reads every state, ordered by key.
   *
   * @param store The store whose schema holds the table.
   * @returns The states.
   */
  read(store: StoreRef): Promise<KeyedState<S>[]>;
}

/** Options of {@linkcode viewProjection}. */
export interface ViewProjectionOptions {
  /** The table, created as `(key text primary key, <count> bigint, <sums> numeric…)`. */
  table: string;
  /** Only these event types. */
  eventTypes?: string[];
  /** The grouping key; events without one are skipped. */
  key: EventField<string | number>;
  /** The column counting events per key (default `"count"`; `false` for none). */
  count?: string | false;
  /** Columns summing a number per key: column → field. Missing values add 0. */
  sums?: Record<string, EventField<number>>;
}

/**
 * A view projection: groups events by a key and counts and sums them into a table.
 *
 * SQL per event: `insert into <table> (key, count, <sum…>) values ($1, 1, $2…) on conflict (key)
 * do update set count = <table>.count + excluded.count, <sum> = <table>.<sum> + excluded.<sum>`.
 *
 * @example Orders and revenue per customer
 * ```ts
 * import { viewProjection } from "@rillflow/rillflow";
 *
 * const revenue = viewProjection({
 *   table: "customer_revenue",
 *   eventTypes: ["OrderPlaced"],
 *   key: "customerId",
 *   count: "orders",
 *   sums: { total: "amount" },
 * });
 * // store.projections().register("customer_revenue", revenue);
 * ```
 *
 * @param options Table, key, count and sum columns.
 * @returns The projection.
 * @throws {TypeError} For invalid table or column names or fields.
 */
export function viewProjection(options: ViewProjectionOptions): ViewProjection {
  const table = quoteIdent(options.table, "table");
  assertField(options.key, "key");
  const count = options.count === false ? null : quoteIdent(options.count ?? "count", "column");
  const sums = Object.entries(options.sums ?? {}).map(([column, field]) => {
    assertField(field, `sums.${column}`);
    return { column: quoteIdent(column, "column"), field };
  });
  const columns = [...(count ? [count] : []), ...sums.map((s) => s.column)];
  if (columns.some((c) => c === '"key"')) throw new TypeError('"key" is the key column\'s name');
  const upsert = `insert into ${table} ("key"${columns.map((c) => `, ${c}`).join("")})
    values ($1${count ? ", 1" : ""}${sums.map((_, i) => `, $${i + 2}::numeric`).join("")})
    on conflict ("key") do ${
    columns.length === 0
      ? "nothing"
      : `update set ${columns.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(", ")}`
  }`;
  return {
    table: options.table,
    eventTypes: options.eventTypes,
    async setup(tx) {
      await tx.query(
        `create table if not exists ${table} ("key" text primary key${
          count ? `, ${count} bigint not null default 0` : ""
        }${sums.map((s) => `, ${s.column} numeric not null default 0`).join("")})`,
      );
    },
    async reset(tx) {
      await tx.query(`delete from ${table}`);
    },
    async apply(event, tx) {
      const key = readField(event, options.key);
      if (key === null || key === undefined) return;
      const values = sums.map((s) => {
        const value = readField(event, s.field) ?? 0;
        if (typeof value !== "number" || !Number.isFinite(value)) {
          throw new TypeError(`Event ${event.globalSeq}: ${s.column} is not a finite number`);
        }
        return String(value);
      });
      await tx.query(upsert, [String(key), ...values]);
    },
    async read(store) {
      const { executor, table: qualified } = contextOf(store);
      const rows = await executor.query<Record<string, string | number>>(
        `select * from ${qualified(options.table)} order by "key"`,
      );
      return rows.map((row) =>
        Object.fromEntries(
          Object.entries(row).map(([k, v]) => [k, k === "key" ? v : Number(v)]),
        ) as ViewRow
      );
    },
  };
}

/** Options of {@linkcode multiStreamProjection}. */
export interface MultiStreamProjectionOptions<S> {
  /** The table, created as `(id text primary key, state jsonb, version int, last_global_seq bigint, updated_at)`. */
  table: string;
  /** Only these event types. */
  eventTypes?: string[];
  /** The id of the state an event belongs to (a field of the event); events without one are skipped. */
  key: EventField<string | number>;
  /** The state of an id no event has touched yet. */
  initial: () => S;
  /** Folds one event into the state (return the new state). */
  evolve: (state: S, event: EventEnvelope) => S;
}

/**
 * A multi-stream projection: events from any stream that carry the same key
 * (e.g. `customerId`) fold into one JSON state per key.
 *
 * SQL per event: `select state from <table> where id = $1`, then
 * `insert … on conflict (id) do update set state = excluded.state, version = version + 1`.
 *
 * @example A customer summary built from order and payment streams
 * ```ts
 * import { multiStreamProjection } from "@rillflow/rillflow";
 *
 * const summaries = multiStreamProjection({
 *   table: "customer_summary",
 *   eventTypes: ["OrderPlaced", "PaymentReceived"],
 *   key: "customerId",
 *   initial: () => ({ orders: 0, paid: 0 }),
 *   evolve: (state, event) =>
 *     event.type === "OrderPlaced"
 *       ? { ...state, orders: state.orders + 1 }
 *       : { ...state, paid: state.paid + (event.data as { amount: number }).amount },
 * });
 * ```
 *
 * @param options Table, key, initial state and fold.
 * @returns The projection.
 * @throws {TypeError} For an invalid table name, key or missing functions.
 */
export function multiStreamProjection<S>(
  options: MultiStreamProjectionOptions<S>,
): MultiStreamProjection<S> {
  const table = quoteIdent(options.table, "table");
  assertField(options.key, "key");
  if (typeof options.initial !== "function" || typeof options.evolve !== "function") {
    throw new TypeError("A multi-stream projection needs initial() and evolve(state, event)");
  }
  return {
    table: options.table,
    eventTypes: options.eventTypes,
    async setup(tx) {
      await tx.query(
        `create table if not exists ${table} (id text primary key, state jsonb not null,
           version integer not null, last_global_seq bigint not null,
           updated_at timestamptz not null default now())`,
      );
    },
    async reset(tx) {
      await tx.query(`delete from ${table}`);
    },
    async apply(event, tx) {
      const key = readField(event, options.key);
      if (key === null || key === undefined) return;
      const id = String(key);
      const [row] = await tx.query<{ state: S }>(
        `select state from ${table} where id = $1 for update`,
        [id],
      );
      const state = options.evolve(row ? row.state : options.initial(), event);
      await tx.query(
        `insert into ${table} as t (id, state, version, last_global_seq) values ($1, $2::jsonb, 1, $3)
         on conflict (id) do update set state = excluded.state, version = t.version + 1,
           last_global_seq = excluded.last_global_seq, updated_at = now()`,
        [id, JSON.stringify(state), event.globalSeq],
      );
    },
    async get(store, id) {
      const { executor, table: qualified } = contextOf(store);
      const [row] = await executor.query<KeyedState<S>>(
        `select id, state, version from ${qualified(options.table)} where id = $1`,
        [id],
      );
      return row ?? null;
    },
    read(store) {
      const { executor, table: qualified } = contextOf(store);
      return executor.query<KeyedState<S>>(
        `select id, state, version from ${qualified(options.table)} order by id`,
      );
    },
  };
}
