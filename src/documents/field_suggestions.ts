/**
 * Suggests duplicated fields from a sample of a collection's documents:
 * scalar paths present in most documents with one JSON type.
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import type { CollectionInfo } from "../schema/collection.ts";
import type { DuplicatedFieldType } from "../schema/schema_config.ts";

/** One suggested duplicated field. */
export interface FieldSuggestion {
  /** The dotted path. */
  readonly path: string;
  /** A column name derived from the path. */
  readonly column: string;
  /** The column type that fits every sampled value. */
  readonly type: DuplicatedFieldType;
  /** The share of sampled documents that have the path, 0 to 1. */
  readonly coverage: number;
  /** Distinct values in the sample. */
  readonly distinctValues: number;
}

interface PathStats {
  path: string[];
  type: string;
  n: number;
  distinct_values: number;
  all_integer: boolean;
  all_uuid: boolean;
  all_timestamp: boolean;
  total: number;
}

const SQL = (table: string) => `
  with recursive sample as (
    select doc from ${table} where deleted_at is null limit $1
  ), walk(path, value, depth) as (
    select array[e.key], e.value, 1 from sample s cross join lateral jsonb_each(s.doc) e
    union all
    select w.path || e.key, e.value, w.depth + 1
      from walk w cross join lateral jsonb_each(
        case when jsonb_typeof(w.value) = 'object' then w.value else '{}'::jsonb end) e
     where w.depth < 4
  )
  select path, jsonb_typeof(value) as type, count(*)::int as n,
         count(distinct value)::int as distinct_values,
         bool_and(case when jsonb_typeof(value) = 'number'
                       then (value #>> '{}')::numeric % 1 = 0 else false end) as all_integer,
         bool_and(value #>> '{}' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') as all_uuid,
         bool_and(value #>> '{}' ~ '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}') as all_timestamp,
         (select count(*)::int from sample) as total
    from walk where jsonb_typeof(value) in ('string', 'number', 'boolean')
   group by path, jsonb_typeof(value)`;

function typeFor(stats: PathStats): DuplicatedFieldType {
  if (stats.type === "boolean") return "boolean";
  if (stats.type === "number") return stats.all_integer ? "bigint" : "numeric";
  if (stats.all_uuid) return "uuid";
  return stats.all_timestamp ? "timestamptz" : "text";
}

function columnFor(path: string[]): string {
  const name = path.join("_").replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase()
    .replace(/[^a-z0-9_]+/g, "_").replace(/^[^a-z_]+/, "").slice(0, 63);
  return name || "field";
}

/**
 * Samples a collection and suggests paths worth duplicating: scalars of one
 * JSON type present in at least half of the sample, not duplicated yet,
 * most common and most selective first.
 *
 * @param db Where to read.
 * @param info The collection.
 * @param sampleSize How many documents to read (default 1,000).
 * @returns The suggestions.
 */
export async function suggestDuplicatedFields(
  db: Queryable,
  info: CollectionInfo,
  sampleSize = 1_000,
): Promise<FieldSuggestion[]> {
  const rows = await db.query<PathStats>(SQL(info.table), [sampleSize]);
  const typesPerPath = new Map<string, number>();
  for (const row of rows) {
    const key = row.path.join("\0");
    typesPerPath.set(key, (typesPerPath.get(key) ?? 0) + 1);
  }
  const duplicated = new Set([...info.fields.values()].map((f) => f.path.segments.join("\0")));
  return rows
    .filter((row) =>
      row.n * 2 >= row.total && typesPerPath.get(row.path.join("\0")) === 1 &&
      !duplicated.has(row.path.join("\0")) && row.path.every((s) => !s.includes("."))
    )
    .map((row) => ({
      path: row.path.join("."),
      column: columnFor(row.path),
      type: typeFor(row),
      coverage: row.n / row.total,
      distinctValues: row.distinct_values,
    }))
    .sort((a, b) => b.coverage - a.coverage || b.distinctValues - a.distinctValues);
}
