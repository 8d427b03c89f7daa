/**
 * Reads the catalog of one schema (tables, columns, indexes) and compares two
 * readings, for drift detection.
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";

/** The shape of one schema as the catalog reports it. */
export interface CatalogSnapshot {
  /** table → column → type (with `not null` when set). */
  readonly tables: Map<string, Map<string, string>>;
  /** index name → definition with the schema name removed. */
  readonly indexes: Map<string, string>;
}

/** One difference between the expected and the actual catalog. */
export interface CatalogDifference {
  /** What kind of difference. */
  readonly kind:
    | "missing-table"
    | "missing-column"
    | "extra-column"
    | "column-type"
    | "missing-index"
    | "extra-index"
    | "index-definition";
  /** The table, column or index concerned (`table.column` for columns). */
  readonly object: string;
  /** What was expected and what was found. */
  readonly detail: string;
}

/**
 * Reads the tables, columns and indexes of a schema.
 *
 * @param db Where to read.
 * @param schema The schema.
 * @returns The snapshot.
 */
export async function readCatalog(db: Queryable, schema: string): Promise<CatalogSnapshot> {
  const columns = await db.query<{ table_name: string; column_name: string; type: string }>(
    `select c.relname as table_name, a.attname as column_name,
            format_type(a.atttypid, a.atttypmod) || case when a.attnotnull then ' not null' else '' end as type
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid
      where n.nspname = $1 and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
      order by 1, a.attnum`,
    [schema],
  );
  const tables = new Map<string, Map<string, string>>();
  for (const row of columns) {
    if (!tables.has(row.table_name)) tables.set(row.table_name, new Map());
    tables.get(row.table_name)!.set(row.column_name, row.type);
  }
  const indexRows = await db.query<{ indexname: string; indexdef: string }>(
    `select indexname, indexdef from pg_indexes where schemaname = $1 order by 1`,
    [schema],
  );
  const indexes = new Map<string, string>();
  for (const row of indexRows) {
    indexes.set(row.indexname, row.indexdef.split(` ${quoteIfNeeded(schema)}.`).join(" "));
  }
  return { tables, indexes };
}

function quoteIfNeeded(schema: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(schema) ? schema : `"${schema}"`;
}

/**
 * Lists how `actual` departs from `expected`, looking only at the tables and
 * indexes that `expected` has (other tables, such as collections created at
 * run time, are the application's own).
 *
 * @param expected The catalog the migrations produce.
 * @param actual The catalog found.
 * @param ignore Objects (`table.column` or index names) allowed to be extra.
 * @returns The differences, empty when the schema matches.
 */
export function diffCatalogs(
  expected: CatalogSnapshot,
  actual: CatalogSnapshot,
  ignore: ReadonlySet<string> = new Set(),
): CatalogDifference[] {
  const out: CatalogDifference[] = [];
  for (const [table, columns] of expected.tables) {
    const found = actual.tables.get(table);
    if (!found) {
      out.push({ kind: "missing-table", object: table, detail: "table does not exist" });
      continue;
    }
    for (const [column, type] of columns) {
      const actualType = found.get(column);
      if (actualType === undefined) {
        out.push({
          kind: "missing-column",
          object: `${table}.${column}`,
          detail: `expected ${type}`,
        });
      } else if (actualType !== type) {
        out.push({
          kind: "column-type",
          object: `${table}.${column}`,
          detail: `expected ${type}, found ${actualType}`,
        });
      }
    }
    for (const [column, type] of found) {
      if (!columns.has(column) && !ignore.has(`${table}.${column}`)) {
        out.push({ kind: "extra-column", object: `${table}.${column}`, detail: `found ${type}` });
      }
    }
  }
  const expectedTables = new Set(expected.tables.keys());
  for (const [name, definition] of expected.indexes) {
    const found = actual.indexes.get(name);
    if (found === undefined) out.push({ kind: "missing-index", object: name, detail: definition });
    else if (found !== definition) {
      out.push({
        kind: "index-definition",
        object: name,
        detail: `expected ${definition}, found ${found}`,
      });
    }
  }
  for (const [name, definition] of actual.indexes) {
    const table = /\bON (?:ONLY )?"?([a-z0-9_]+)"?/i.exec(definition)?.[1];
    if (!expected.indexes.has(name) && table && expectedTables.has(table) && !ignore.has(name)) {
      out.push({ kind: "extra-index", object: name, detail: definition });
    }
  }
  return out;
}
