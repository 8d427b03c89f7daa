/**
 * Includes: the documents of other collections that a query's documents point
 * to, loaded in the same statement as the query.
 *
 * @module
 */
import { joinSql, sql, type SqlFragment, trusted } from "../db/sql.ts";
import type { CollectionInfo } from "../schema/collection.ts";
import { documentSql, orderBySql, type OrderKey, type QueryState, whereSql } from "./query_sql.ts";

/** The one row an include query returns. */
export type IncludedRow = { docs: unknown[] } & Record<string, unknown>;

const UUID_TEXT = "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'";

/**
 * The statement: the query as a CTE, its documents aggregated in order, and
 * per include the related documents as an object id → document.
 *
 * SQL: `with main as (select …, row_number() over (order by …) as ord …)
 * select (select jsonb_agg(m.doc order by m.ord) from main m) as docs,
 * (select jsonb_object_agg(i.id, i.doc) from "s"."customers" i where i.id in (…)) as inc0`.
 *
 * @param state The query.
 * @param info Its collection.
 * @param infos The included collections, in include order.
 * @param keys The ordering keys.
 * @param page The limit/offset clause.
 * @returns The statement.
 */
export function includeSql(
  state: QueryState,
  info: CollectionInfo,
  infos: readonly CollectionInfo[],
  keys: readonly OrderKey[],
  page: SqlFragment,
): SqlFragment {
  const order = orderBySql(keys);
  const related = state.includes.map((include, i) => {
    const value = sql`m.source #> ${include.path.segments}::text[]`;
    const ids = sql`select case when e.v ~* ${trusted(UUID_TEXT)} then e.v::uuid end
        from main m cross join lateral jsonb_array_elements_text(case jsonb_typeof(${value})
          when 'array' then ${value} when 'string' then jsonb_build_array(${value})
          else '[]'::jsonb end) as e(v)`;
    return sql`coalesce((select jsonb_object_agg(i.id, i.doc) from ${trusted(infos[i]!.table)} i
        where i.deleted_at is null and i.id in (${ids})), '{}'::jsonb) as ${trusted(`inc${i}`)}`;
  });
  return sql`with main as (
      select ${documentSql(state)} as doc, d.doc as source, row_number() over (${order}) as ord
        from ${trusted(info.table)} d where ${whereSql(state, info)} ${order}${page})
    select coalesce((select jsonb_agg(m.doc order by m.ord) from main m), '[]'::jsonb) as docs,
      ${joinSql(related)}`;
}

/**
 * Reads an include statement's row: fills each include's map and returns the documents.
 *
 * @param rows The statement's rows (one).
 * @param state The query (its includes carry the maps).
 * @returns The documents.
 */
export function readIncluded<T>(rows: readonly IncludedRow[], state: QueryState): T[] {
  const row = rows[0]!;
  state.includes.forEach((include, i) => {
    const found = row[`inc${i}`] as Record<string, unknown>;
    for (const [id, doc] of Object.entries(found)) include.into?.set(id, doc);
  });
  return row.docs as T[];
}
