/**
 * Collections on first use: the first operation on a collection in a store
 * runs `rillflow_ensure_collection` once (race-safe, creates the table when
 * missing) and caches what queries need to know of it.
 *
 * @module
 */
import type { Executor } from "../db/executor.ts";
import { qualify, quoteIdent } from "../db/identifiers.ts";
import { isRillflowError } from "../errors.ts";
import { type JsonPath, pathFromSegments, pathKey } from "./json_path.ts";
import type { DuplicatedFieldType } from "./schema_config.ts";

/**
 * What collection lookups need of a store: its database, its schema and how
 * it names its tables. A store's context is one; the contract lives here so
 * that this layer needs nothing from the layers above it.
 */
export interface CollectionContext {
  /** The database. */
  readonly executor: Executor;
  /** The schema holding the store's tables. */
  readonly schema: string;
  /** The quoted, schema-qualified name of a table of this store. */
  readonly table: (name: string) => string;
}

/** A duplicated field that queries may use (backfill finished). */
export interface ReadyField {
  /** The column. */
  readonly column: string;
  /** The JSON path it copies. */
  readonly path: JsonPath;
  /** Its SQL type. */
  readonly type: DuplicatedFieldType;
  /** Its transform template, or null. */
  readonly transform: string | null;
}

/** What a store knows of a collection. */
export interface CollectionInfo {
  /** The collection name. */
  readonly name: string;
  /** The schema holding its table. */
  readonly schema: string;
  /** Its quoted, schema-qualified table. */
  readonly table: string;
  /** The text search configuration of its `search_vector` column. */
  readonly searchLanguage: string;
  /** Its quoted, schema-qualified history table, or null when it keeps no history. */
  readonly historyTable: string | null;
  /** Ready duplicated fields by {@linkcode pathKey}. */
  readonly fields: ReadonlyMap<string, ReadyField>;
}

interface EnsureResult {
  searchLanguage: string;
  historyTable: string | null;
  fields: Array<{
    column: string;
    path: string[];
    kinds: string;
    type: DuplicatedFieldType;
    transform: string | null;
  }>;
}

interface SchemaCache {
  pending: Map<string, Promise<CollectionInfo>>;
  known: Map<string, CollectionInfo>;
}

const caches = new WeakMap<Executor, Map<string, SchemaCache>>();

function cacheFor(executor: Executor, schema: string): SchemaCache {
  let bySchema = caches.get(executor);
  if (!bySchema) caches.set(executor, bySchema = new Map());
  let cache = bySchema.get(schema);
  if (!cache) bySchema.set(schema, cache = { pending: new Map(), known: new Map() });
  return cache;
}

function toInfo(schema: string, name: string, result: EnsureResult): CollectionInfo {
  const fields = new Map<string, ReadyField>();
  for (const field of result.fields) {
    const path = pathFromSegments(field.path, field.kinds);
    fields.set(pathKey(path), { ...field, path });
  }
  return {
    name,
    schema,
    table: qualify(schema, name),
    searchLanguage: result.searchLanguage,
    historyTable: result.historyTable === null ? null : qualify(schema, result.historyTable),
    fields,
  };
}

/**
 * Makes sure a collection's table exists and returns what the store knows of it.
 * The first call per store and collection costs one round trip; later calls none.
 *
 * @param context The store's context.
 * @param name A validated collection name.
 * @returns The collection's info.
 */
export function ensureCollection(
  context: CollectionContext,
  name: string,
): Promise<CollectionInfo> {
  return ensureIn(context.executor, context.schema, name);
}

/**
 * {@linkcode ensureCollection} for a schema given by name.
 *
 * @param executor The database.
 * @param schema The store's schema.
 * @param name A validated collection name.
 * @returns The collection's info.
 */
export function ensureIn(
  executor: Executor,
  schema: string,
  name: string,
): Promise<CollectionInfo> {
  const cache = cacheFor(executor, schema);
  let pending = cache.pending.get(name);
  if (!pending) {
    pending = executor.query<{ info: EnsureResult }>(
      `select ${quoteIdent(schema, "schema")}.rillflow_ensure_collection($1) as info`,
      [name],
    ).then(([row]) => {
      const info = toInfo(schema, name, row!.info);
      cache.known.set(name, info);
      return info;
    });
    cache.pending.set(name, pending);
    pending.catch(() => cache.pending.delete(name));
  }
  return pending;
}

/**
 * What the store knows of a collection without asking the database: the
 * cached info, or defaults (no duplicated fields) before first use.
 *
 * @param context The store's context.
 * @param name A validated collection name.
 * @returns The known or default info.
 */
export function knownCollection(context: CollectionContext, name: string): CollectionInfo {
  return cacheFor(context.executor, context.schema).known.get(name) ??
    {
      name,
      schema: context.schema,
      table: context.table(name),
      searchLanguage: "english",
      historyTable: null,
      fields: new Map(),
    };
}

/**
 * Forgets what a store knows of its collections, after schema changes.
 *
 * @param executor The database.
 * @param schema The schema whose collections changed.
 */
export function forgetCollections(executor: Executor, schema: string): void {
  caches.get(executor)?.delete(schema);
}

/**
 * Runs work on a collection, ensuring it first. When the table has gone
 * (dropped since it was cached), forgets the cache and tries once more.
 *
 * @param context The store's context.
 * @param name A validated collection name.
 * @param work The work, given the collection's info.
 * @returns What the work returned.
 */
export function onCollection<R>(
  context: CollectionContext,
  name: string,
  work: (info: CollectionInfo) => Promise<R>,
): Promise<R> {
  // Known collections skip the ensure promise: a hot get or put is one driver call.
  const known = cacheFor(context.executor, context.schema).known.get(name);
  const first = known ? work(known) : ensureCollection(context, name).then(work);
  return first.catch(async (error) => {
    if (!isRillflowError(error) || error.details.sqlState !== "42P01") throw error;
    forgetCollections(context.executor, context.schema);
    return await work(await ensureCollection(context, name));
  });
}

/**
 * Tells whether a collection exists, without creating it.
 *
 * @param context The store's context.
 * @param name A validated collection name.
 * @returns `true` when it is registered.
 */
export async function collectionExists(context: CollectionContext, name: string): Promise<boolean> {
  const [row] = await context.executor.query<{ found: boolean }>(
    `select exists (select 1 from ${
      context.table("rillflow_collections")
    } where name = $1) as found`,
    [name],
  );
  return row!.found;
}
