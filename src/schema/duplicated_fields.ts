/**
 * Applying a {@linkcode SchemaConfig}: collections, duplicated fields (column,
 * sync trigger, index, batched backfill), search language and history. Also
 * listing registered fields and suggesting new ones from a sample.
 *
 * @module
 */
import type { Executor } from "../db/executor.ts";
import { qualify, quoteIdent } from "../db/identifiers.ts";
import type { CollectionConfig, DuplicatedField, SchemaConfig } from "./schema_config.ts";
import { ensureIn, forgetCollections } from "./collection.ts";

/** Progress of a backfill, reported after each batch. */
export interface BackfillProgress {
  /** The collection. */
  readonly collection: string;
  /** Rows recomputed so far. */
  readonly rows: number;
}

/** Options of {@linkcode applySchemaConfig} and {@linkcode backfillDuplicatedFields}. */
export interface BackfillOptions {
  /** Rows per batch (each batch is its own transaction); 5,000 by default. */
  batchSize?: number;
  /** Called after each batch. */
  onProgress?: (progress: BackfillProgress) => void;
}

function fn(schema: string, name: string): string {
  return qualify(schema, name);
}

async function registerField(
  executor: { query: Executor["query"] },
  schema: string,
  collection: string,
  field: DuplicatedField,
): Promise<void> {
  await executor.query(
    `insert into ${fn(schema, "rillflow_duplicated_fields")} as f
       (collection, column_name, json_path, path_kinds, data_type, indexed, transform)
     values ($1, $2, $3::text[], $4, $5, $6, $7)
     on conflict (collection, column_name) do update set
       json_path = excluded.json_path, path_kinds = excluded.path_kinds,
       data_type = excluded.data_type, indexed = excluded.indexed, transform = excluded.transform,
       state = case when (f.json_path, f.path_kinds, f.data_type, f.transform)
                         is not distinct from
                         (excluded.json_path, excluded.path_kinds, excluded.data_type, excluded.transform)
                    then f.state else 'pending' end,
       updated_at = now()`,
    [
      collection,
      field.column,
      field.path.segments,
      field.path.kinds,
      field.type,
      field.indexed,
      field.transform,
    ],
  );
}

async function applyCollection(executor: Executor, schema: string, c: CollectionConfig) {
  await executor.transaction(async (tx) => {
    await tx.query("select pg_advisory_xact_lock(hashtextextended($1, 0))", [
      `rillflow:collection:${schema}:${c.name}`,
    ]);
    await tx.query(`select ${fn(schema, "rillflow_ensure_collection")}($1)`, [c.name]);
    if (c.searchLanguage) {
      await tx.query(`select ${fn(schema, "rillflow_set_search_language")}($1, $2)`, [
        c.name,
        c.searchLanguage,
      ]);
    }
    if (c.history) await tx.query(`select ${fn(schema, "rillflow_enable_history")}($1)`, [c.name]);
    for (const field of c.fields) await registerField(tx, schema, c.name, field);
    if (c.fields.length > 0) {
      await tx.query(`select ${fn(schema, "rillflow_apply_duplicated_fields")}($1)`, [c.name]);
    }
  });
}

/**
 * Applies a config: for each collection, one transaction creates what is
 * missing, then pending duplicated fields are backfilled in batches and
 * marked ready (from then on queries use their columns).
 *
 * @param executor The database.
 * @param schema The store's schema.
 * @param config The config.
 * @param options Batch size and progress callback.
 */
export async function applySchemaConfig(
  executor: Executor,
  schema: string,
  config: SchemaConfig,
  options: BackfillOptions = {},
): Promise<void> {
  try {
    for (const collection of config.collections) {
      await applyCollection(executor, schema, collection);
      if (collection.fields.length > 0) {
        await backfillDuplicatedFields(executor, schema, collection.name, options);
      }
    }
  } finally {
    forgetCollections(executor, schema);
  }
  // Reload what queries need to know, so they use the new columns at once.
  for (const collection of config.collections) await ensureIn(executor, schema, collection.name);
}

/**
 * Recomputes the duplicated columns of a collection's rows in batches (each
 * its own transaction, so writers are never blocked for long), then marks its
 * pending fields ready. Safe to run again after an interruption.
 *
 * @param executor The database.
 * @param schema The store's schema.
 * @param collection The collection.
 * @param options Batch size and progress callback.
 * @returns The rows recomputed (0 when no field was pending).
 */
export async function backfillDuplicatedFields(
  executor: Executor,
  schema: string,
  collection: string,
  options: BackfillOptions = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 5_000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const registry = fn(schema, "rillflow_duplicated_fields");
  const [pending] = await executor.query<{ started: Date; n: number }>(
    `select now() as started, count(*)::int as n from ${registry}
      where collection = $1 and state = 'pending'`,
    [collection],
  );
  if (!pending || pending.n === 0) return 0;
  let after: string | null = null;
  let rows = 0;
  for (;;) {
    const [batch]: { last_id: string | null; touched: number }[] = await executor.query(
      `select last_id, touched from ${
        fn(schema, "rillflow_backfill_duplicated_fields")
      }($1, $2, $3)`,
      [collection, after, batchSize],
    );
    if (!batch?.last_id) break;
    after = batch.last_id;
    rows += batch.touched;
    options.onProgress?.({ collection, rows });
  }
  await executor.query(
    `update ${registry} set state = 'ready'
      where collection = $1 and state = 'pending' and updated_at <= $2`,
    [collection, pending.started],
  );
  forgetCollections(executor, schema);
  return rows;
}

/** A registered duplicated field. */
export interface DuplicatedFieldInfo {
  /** The collection. */
  readonly collection: string;
  /** The column. */
  readonly column: string;
  /** The dotted JSON path. */
  readonly path: string;
  /** The column type. */
  readonly type: string;
  /** Whether it is indexed. */
  readonly indexed: boolean;
  /** The transform template, or null. */
  readonly transform: string | null;
  /** `ready` once backfilled (queries use it), else `pending`. */
  readonly state: "ready" | "pending";
}

/**
 * Lists the registered duplicated fields.
 *
 * @param executor The database.
 * @param schema The store's schema.
 * @param collection Only this collection's, when given.
 * @returns The fields, by collection and column.
 */
export async function listDuplicatedFields(
  executor: Executor,
  schema: string,
  collection?: string,
): Promise<DuplicatedFieldInfo[]> {
  const rows = await executor.query<DuplicatedFieldInfo & { segments: string[]; kinds: string }>(
    `select collection, column_name as column, json_path as segments, path_kinds as kinds,
            data_type as type, indexed, transform, state
       from ${fn(schema, "rillflow_duplicated_fields")}
      where $1::text is null or collection = $1 order by collection, column_name`,
    [collection ?? null],
  );
  return rows.map(({ segments, kinds, ...rest }) => ({
    ...rest,
    path: segments.map((s, i) => kinds[i] === "i" ? `[${s}]` : (i > 0 ? "." : "") + s).join(""),
  }));
}

/**
 * The catalog objects duplicated fields add (`table.column` and index names),
 * which drift detection must not report as extra.
 *
 * @param executor The database.
 * @param schema The store's schema.
 * @returns The objects; empty before the migration that creates the registry.
 */
export async function duplicatedFieldObjects(
  executor: Executor,
  schema: string,
): Promise<string[]> {
  const registry = fn(schema, "rillflow_duplicated_fields");
  const [found] = await executor.query<{ ok: boolean }>(
    "select to_regclass($1) is not null as ok",
    [registry],
  );
  if (!found?.ok) return [];
  const rows = await executor.query<{ column: string; index: string }>(
    `select collection || '.' || column_name as column,
            ${
      quoteIdent(schema)
    }.rillflow_object_name(array[collection, column_name, 'idx']) as index
       from ${registry}`,
  );
  return rows.flatMap((row) => [row.column, row.index]);
}
