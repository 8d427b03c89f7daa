/**
 * {@linkcode DocumentQuery}: an immutable query builder over one collection.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { sql, type SqlFragment, trusted } from "../db/sql.ts";
import { validateIdentifier } from "../db/identifiers.ts";
import { RillflowError } from "../errors.ts";
import { validateCollectionName } from "../schema/collection_name.ts";
import {
  type CollectionInfo,
  ensureCollection,
  knownCollection,
  onCollection,
} from "../schema/collection.ts";
import { parsePath } from "../schema/json_path.ts";
import { Predicate } from "./predicate.ts";
import {
  DIRECTIONS,
  documentSql,
  orderBySql,
  orderKeys,
  pageSql,
  type QueryState,
  whereSql,
} from "./query_sql.ts";
import { type IncludedRow, includeSql, readIncluded } from "./includes.ts";
import { streamQuery } from "./stream.ts";

/** A prepared fetch: its SQL and how to turn rows into results. */
export interface FetchPlan<T> {
  /** The statement. */
  readonly fragment: SqlFragment;
  /** Turns the statement's rows into documents (and fills include maps). */
  decode(rows: readonly Record<string, unknown>[]): T[];
}

function nonNegative(n: unknown, what: string): number {
  if (!Number.isSafeInteger(n) || (n as number) < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${String(n)}`);
  }
  return n as number;
}

let prepareOf: <T>(query: DocumentQuery<T>) => Promise<FetchPlan<T>>;

/**
 * An immutable query over a collection: each call returns a new query.
 *
 * @example Page through active customers over 25
 * ```ts
 * import { Predicate, Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory");
 * const q = store.docs<{ email: string; age: number }>("customers").query()
 *   .filter(Predicate.eq("status", "active")).filter(Predicate.gt("age", 25))
 *   .orderBy("email").page(1, 25);
 * console.log(q.toSql().text);
 * // select d.doc as doc from "public"."customers" d where d.deleted_at is null
 * //   and d.doc @> $1::jsonb
 * //   and (jsonb_typeof(d.doc #> $2::text[]) = 'number' and d.doc #> $3::text[] > $4::jsonb)
 * //   order by d.doc #> $5::text[] asc, d.id asc limit $6
 * console.log(await q.fetchAll()); // []
 * ```
 */
export class DocumentQuery<T> {
  readonly #context: StoreContext;
  readonly #state: QueryState;

  /**
   * Created by `store.docs(name).query()`.
   *
   * @param context The store's context.
   * @param state The query's state (a collection name for a new query).
   */
  constructor(context: StoreContext, state: QueryState | string) {
    this.#context = context;
    this.#state = typeof state === "string"
      ? {
        collection: validateCollectionName(state),
        filters: [],
        orders: [],
        limit: null,
        offset: 0,
        fields: null,
        deleted: "exclude",
        search: null,
        includes: [],
      }
      : state;
  }

  #with<R = T>(change: Partial<QueryState>): DocumentQuery<R> {
    return new DocumentQuery<R>(this.#context, Object.freeze({ ...this.#state, ...change }));
  }

  /**
   * Adds a condition (conditions are combined with `and`).
   *
   * @param predicate The condition.
   * @returns A new query.
   */
  filter(predicate: Predicate): DocumentQuery<T> {
    if (!(predicate instanceof Predicate)) throw new TypeError("filter() needs a Predicate");
    return this.#with({ filters: [...this.#state.filters, predicate] });
  }

  /**
   * Adds an ordering key. Numbers sort as numbers, strings as strings; missing
   * fields sort last ascending, first descending. The id is always the last key.
   * SQL: `order by d.doc #> $1::text[] asc, d.id asc`.
   *
   * @param path A dotted path.
   * @param direction `asc` (default) or `desc`.
   * @returns A new query.
   */
  orderBy(path: string, direction: "asc" | "desc" = "asc"): DocumentQuery<T> {
    if (!Object.hasOwn(DIRECTIONS, direction)) {
      throw new TypeError(
        `Invalid sort direction ${JSON.stringify(direction)}: use "asc" or "desc"`,
      );
    }
    return this.#with({ orders: [...this.#state.orders, { path: parsePath(path), direction }] });
  }

  /**
   * Returns at most `n` documents.
   *
   * @param n The limit.
   * @returns A new query.
   */
  limit(n: number): DocumentQuery<T> {
    return this.#with({ limit: nonNegative(n, "limit") });
  }

  /**
   * Skips the first `n` documents.
   *
   * @param n The offset.
   * @returns A new query.
   */
  offset(n: number): DocumentQuery<T> {
    return this.#with({ offset: nonNegative(n, "offset") });
  }

  /**
   * Returns page `page` (from 1) of `pageSize` documents.
   *
   * @param page The page number, from 1.
   * @param pageSize Documents per page.
   * @returns A new query.
   */
  page(page: number, pageSize: number): DocumentQuery<T> {
    if (!Number.isSafeInteger(page) || page < 1) {
      throw new RangeError(`page must be a positive integer, got ${page}`);
    }
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      throw new RangeError(`pageSize must be a positive integer, got ${pageSize}`);
    }
    return this.#with({ limit: pageSize, offset: (page - 1) * pageSize });
  }

  /**
   * Returns objects of selected fields instead of whole documents (missing fields are null).
   * SQL: `jsonb_build_object($1::text, d.doc #> $2::text[], …)`.
   *
   * @param fields Output name → dotted path.
   * @returns A new query.
   */
  selectFields(fields: Record<string, string>): DocumentQuery<Record<string, unknown>> {
    if (fields === null || typeof fields !== "object" || Object.keys(fields).length === 0) {
      throw new TypeError("selectFields() needs an object of at least one alias → path");
    }
    return this.#with({
      fields: Object.entries(fields).map(([alias, path]) => [alias, parsePath(path)] as const),
    });
  }

  /**
   * Includes soft-deleted documents.
   *
   * @returns A new query.
   */
  includeDeleted(): DocumentQuery<T> {
    return this.#with({ deleted: "include" });
  }

  /**
   * Returns only soft-deleted documents.
   *
   * @returns A new query.
   */
  onlyDeleted(): DocumentQuery<T> {
    return this.#with({ deleted: "only" });
  }

  /**
   * Full-text search over the documents' string values, ranked best first
   * (unless ordered otherwise). Uses the collection's `search_vector` column and
   * its GIN index when `language` is the collection's (`english` by default).
   * SQL: `d.search_vector @@ websearch_to_tsquery($1::regconfig, $2::text)`.
   *
   * @param text Words, "quoted phrases", `or`, `-excluded` (web search syntax).
   * @param options The text search configuration.
   * @returns A new query.
   */
  search(text: string, options: { language?: string } = {}): DocumentQuery<T> {
    if (typeof text !== "string") throw new TypeError("search() needs a string");
    const language = options.language === undefined
      ? null
      : validateIdentifier(options.language, "text search language");
    return this.#with({ search: { text, language } });
  }

  /**
   * Loads the documents of another collection that these documents point to
   * (by id, or an array of ids, at `foreignKeyPath`), in the same round trip.
   *
   * @param collection The related collection.
   * @param foreignKeyPath The dotted path holding the related id(s).
   * @param into A map filled with id → related document on each fetch; without it,
   *   read them with {@linkcode DocumentQuery.fetchWithIncluded}.
   * @returns A new query.
   */
  include<R = unknown>(
    collection: string,
    foreignKeyPath: string,
    into?: Map<string, R>,
  ): DocumentQuery<T> {
    if (into !== undefined && !(into instanceof Map)) {
      throw new TypeError("include() into must be a Map");
    }
    const include = {
      collection: validateCollectionName(collection),
      path: parsePath(foreignKeyPath),
      into: (into ?? null) as Map<string, unknown> | null,
    };
    return this.#with({ includes: [...this.#state.includes, include] });
  }

  /**
   * The statement {@linkcode DocumentQuery.fetchAll} runs, for inspection. It
   * reflects the duplicated fields the store knows of (after first use or sync).
   *
   * @returns The SQL text and its parameters.
   */
  toSql(): { text: string; params: unknown[] } {
    const context = this.#context;
    const info = knownCollection(context, this.#state.collection);
    const infos = this.#state.includes.map((i) => knownCollection(context, i.collection));
    return this.#plan(info, infos).fragment.compile();
  }

  /**
   * Runs the query.
   *
   * @returns The matching documents.
   */
  fetchAll(): Promise<T[]> {
    return this.#fetch(this.#state);
  }

  /**
   * Runs the query and returns the included documents too.
   *
   * @returns The documents, and per included collection a map of id → document.
   */
  async fetchWithIncluded(): Promise<
    { docs: T[]; included: Record<string, Map<string, unknown>> }
  > {
    const included: Record<string, Map<string, unknown>> = {};
    const includes = this.#state.includes.map((i) => ({
      ...i,
      into: i.into ?? (included[i.collection] ??= new Map()),
    }));
    for (const i of includes) included[i.collection] ??= i.into;
    const docs = await this.#fetch({ ...this.#state, includes });
    return { docs, included };
  }

  /**
   * Runs the query and returns its only document.
   *
   * @returns The document.
   * @throws {RillflowError} `DOCUMENT_NOT_FOUND` when none matches, `INVALID_INPUT` when several do.
   */
  async fetchOne(): Promise<T> {
    const limit = Math.min(this.#state.limit ?? 2, 2);
    const docs = await this.#fetch({ ...this.#state, limit });
    if (docs.length === 1) return docs[0]!;
    const collection = this.#state.collection;
    throw docs.length === 0
      ? new RillflowError("DOCUMENT_NOT_FOUND", `fetchOne() found no document in "${collection}"`, {
        details: { collection },
      })
      : new RillflowError(
        "INVALID_INPUT",
        `fetchOne() expected exactly one document in "${collection}" but found more`,
        { details: { collection } },
      );
  }

  /**
   * Runs the query and returns its first document.
   *
   * @returns The first document, or null when none matches.
   */
  async fetchFirst(): Promise<T | null> {
    const docs = await this.#fetch({ ...this.#state, limit: Math.min(this.#state.limit ?? 1, 1) });
    return docs[0] ?? null;
  }

  /**
   * Counts the matching documents (within limit and offset, when set).
   * SQL: `select count(*)::int as n from … where …`.
   *
   * @returns The count.
   */
  count(): Promise<number> {
    return onCollection(this.#context, this.#state.collection, async (info) => {
      const where = whereSql(this.#state, info);
      const paged = this.#state.limit !== null || this.#state.offset > 0;
      const inner = sql`select 1 from ${trusted(info.table)} d where ${where}`;
      const query = paged
        ? sql`select count(*)::int as n from (${inner} ${pageSql(this.#state)}) as s`
        : sql`select count(*)::int as n from ${trusted(info.table)} d where ${where}`;
      const { text, params } = query.compile();
      const [row] = await this.#context.executor.query<{ n: number }>(text, params);
      return row!.n;
    });
  }

  /**
   * Tells whether any document matches.
   * SQL: `select exists (select 1 from … where …) as found`.
   *
   * @returns `true` when at least one matches.
   */
  exists(): Promise<boolean> {
    return onCollection(this.#context, this.#state.collection, async (info) => {
      const { text, params } = sql`select exists (select 1 from ${trusted(info.table)} d where ${
        whereSql(this.#state, info)
      } ${pageSql(this.#state)}) as found`.compile();
      const [row] = await this.#context.executor.query<{ found: boolean }>(text, params);
      return row!.found;
    });
  }

  /**
   * Streams the results in batches, each fetched after the last row of the
   * previous one (keyset pagination: no offset scans, stable under inserts).
   *
   * @param options Documents per round trip (default 500).
   * @returns The documents, in order.
   * @throws {TypeError} When the query has includes (fetch pages instead).
   */
  iterate(options: { batchSize?: number } = {}): AsyncGenerator<T> {
    return streamQuery<T>(this.#context, this.#state, options.batchSize ?? 500);
  }

  /** Streams the results in batches of 500; see {@linkcode DocumentQuery.iterate}. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.iterate()[Symbol.asyncIterator]();
  }

  #fetch(state: QueryState): Promise<T[]> {
    const query = state === this.#state ? this : this.#with<T>(state);
    return onCollection(this.#context, state.collection, async (info) => {
      const plan = state.includes.length === 0 ? query.#plan(info, []) : await query.#prepare();
      const { text, params } = plan.fragment.compile();
      return plan.decode(await this.#context.executor.query(text, params));
    });
  }

  async #prepare(): Promise<FetchPlan<T>> {
    const context = this.#context;
    const info = await ensureCollection(context, this.#state.collection);
    const infos = await Promise.all(
      this.#state.includes.map((i) => ensureCollection(context, i.collection)),
    );
    return this.#plan(info, infos);
  }

  #plan(info: CollectionInfo, infos: CollectionInfo[]): FetchPlan<T> {
    const state = this.#state;
    const keys = orderKeys(state, info);
    const select = sql`select ${documentSql(state)} as doc from ${trusted(info.table)} d where ${
      whereSql(state, info)
    } ${orderBySql(keys)}${pageSql(state)}`;
    if (state.includes.length === 0) {
      return { fragment: select, decode: (rows) => rows.map((row) => row.doc as T) };
    }
    return {
      fragment: includeSql(state, info, infos, keys, pageSql(state)),
      decode: (rows) => readIncluded<T>(rows as IncludedRow[], state),
    };
  }

  static {
    prepareOf = (query) => query.#prepare();
  }
}

/**
 * The fetch plan of a query, its collections ensured (for compiled queries).
 *
 * @param query The query.
 * @returns The plan.
 */
export function prepareFetch<T>(query: DocumentQuery<T>): Promise<FetchPlan<T>> {
  return prepareOf(query);
}
