/**
 * The SQL of a document query: conditions, ordering keys, the select list,
 * and the keyset condition used to stream results in batches.
 *
 * @module
 */
import { joinSql, sql, type SqlFragment, trusted } from "../db/sql.ts";
import { quoteIdent } from "../db/identifiers.ts";
import type { CollectionInfo } from "../schema/collection.ts";
import { compilePredicate, fieldFor, jsonAt } from "./compile_predicate.ts";
import type { JsonPath } from "../schema/json_path.ts";
import type { Predicate } from "./predicate.ts";

/** Sort directions; the allowlist of `asc`/`desc` text. */
export const DIRECTIONS: Readonly<Record<string, string>> = Object.freeze({
  asc: "asc",
  desc: "desc",
});

/** The immutable state of a query. */
export interface QueryState {
  readonly collection: string;
  readonly filters: readonly Predicate[];
  readonly orders: readonly { readonly path: JsonPath; readonly direction: "asc" | "desc" }[];
  readonly limit: number | null;
  readonly offset: number;
  readonly fields: readonly (readonly [string, JsonPath])[] | null;
  readonly deleted: "exclude" | "include" | "only";
  readonly search: { readonly text: string; readonly language: string | null } | null;
  readonly includes: readonly {
    readonly collection: string;
    readonly path: JsonPath;
    readonly into: Map<string, unknown> | null;
  }[];
}

/** One ordering key: its expression, direction and the SQL type to bind a keyset value as. */
export interface OrderKey {
  readonly expression: SqlFragment;
  readonly direction: "asc" | "desc";
  readonly type: string;
}

function searchParts(state: QueryState, info: CollectionInfo) {
  const search = state.search!;
  const language = search.language ?? info.searchLanguage;
  const query = sql`websearch_to_tsquery(${language}::regconfig, ${search.text}::text)`;
  const vector = language === info.searchLanguage
    ? sql`d.search_vector`
    : sql`to_tsvector(${language}::regconfig, d.doc)`;
  return { query, vector };
}

/**
 * The WHERE conditions: deletion state, full-text search and filters.
 *
 * @param state The query.
 * @param info The collection.
 * @returns The conditions joined with `and`.
 */
export function whereSql(state: QueryState, info: CollectionInfo): SqlFragment {
  const conditions: SqlFragment[] = [];
  if (state.deleted !== "include") {
    conditions.push(
      sql`d.deleted_at ${trusted(state.deleted === "only" ? "is not null" : "is null")}`,
    );
  }
  if (state.search) {
    const { query, vector } = searchParts(state, info);
    conditions.push(sql`${vector} @@ ${query}`);
  }
  for (const filter of state.filters) conditions.push(compilePredicate(filter, info));
  return conditions.length === 0 ? sql`true` : joinSql(conditions, " and ");
}

/**
 * The ordering keys: the caller's, else the search rank, then the id (stable paging).
 *
 * @param state The query.
 * @param info The collection.
 * @returns The keys.
 */
export function orderKeys(state: QueryState, info: CollectionInfo): OrderKey[] {
  const keys: OrderKey[] = state.orders.map(({ path, direction }) => {
    const field = fieldFor(info, path);
    return field
      ? { expression: sql`d.${trusted(quoteIdent(field.column))}`, direction, type: field.type }
      : { expression: jsonAt(path), direction, type: "jsonb" };
  });
  if (keys.length === 0 && state.search) {
    const { query, vector } = searchParts(state, info);
    keys.push({ expression: sql`ts_rank(${vector}, ${query})`, direction: "desc", type: "real" });
  }
  keys.push({ expression: sql`d.id`, direction: "asc", type: "uuid" });
  return keys;
}

/**
 * `order by k1 asc, …, d.id asc`.
 *
 * @param keys The ordering keys.
 * @returns The clause.
 */
export function orderBySql(keys: readonly OrderKey[]): SqlFragment {
  return sql`order by ${
    joinSql(keys.map((k) => sql`${k.expression} ${trusted(DIRECTIONS[k.direction]!)}`))
  }`;
}

/**
 * The select list's document expression: the document or the selected fields.
 *
 * @param state The query.
 * @returns `d.doc` or `jsonb_build_object($1::text, d.doc #> $2::text[], …)`.
 */
export function documentSql(state: QueryState): SqlFragment {
  if (!state.fields) return sql`d.doc`;
  return sql`jsonb_build_object(${
    joinSql(state.fields.map(([alias, path]) => sql`${alias}::text, ${jsonAt(path)}`))
  })`;
}

/**
 * The keyset condition "after the row with these key values", for keys in
 * mixed directions with nulls (asc sorts nulls last, desc first).
 *
 * @param keys The ordering keys.
 * @param values The last row's key values as text (see {@linkcode keysSql}), in key order.
 * @returns The condition.
 */
export function afterSql(keys: readonly OrderKey[], values: readonly unknown[]): SqlFragment {
  // Each key becomes (key is null, key): both sort in the key's direction, and
  // equality is `is not distinct from`, so nulls compare like values.
  const parts: { expression: SqlFragment; value: SqlFragment; direction: "asc" | "desc" }[] = [];
  keys.forEach((key, i) => {
    const value = sql`${values[i]}::text::${trusted(key.type)}`;
    if (key.type !== "uuid") {
      parts.push({
        expression: sql`(${key.expression} is null)`,
        value: sql`(${value} is null)`,
        direction: key.direction,
      });
    }
    parts.push({ expression: key.expression, value, direction: key.direction });
  });
  const alternatives = parts.map((part, i) =>
    joinSql([
      ...parts.slice(0, i).map((p) => sql`${p.expression} is not distinct from ${p.value}`),
      sql`${part.expression} ${trusted(part.direction === "asc" ? ">" : "<")} ${part.value}`,
    ], " and ")
  );
  return sql`(${joinSql(alternatives.map((a) => sql`(${a})`), " or ")})`;
}

/**
 * The ordering keys as text columns `k0, k1, …` (text round-trips every type exactly,
 * and keeps JSON null apart from a missing field).
 *
 * @param keys The ordering keys.
 * @returns The select-list items.
 */
export function keysSql(keys: readonly OrderKey[]): SqlFragment {
  return joinSql(keys.map((k, i) => sql`(${k.expression})::text as ${trusted(`k${i}`)}`));
}

/**
 * ` limit $n offset $m`, each only when set.
 *
 * @param state The query.
 * @returns The clause (empty when neither is set).
 */
export function pageSql(state: QueryState): SqlFragment {
  const limit = state.limit === null ? sql`` : sql` limit ${state.limit}`;
  const offset = state.offset > 0 ? sql` offset ${state.offset}` : sql``;
  return sql`${limit}${offset}`;
}
