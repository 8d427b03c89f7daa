/**
 * Streaming a query's results in batches with keyset pagination: each batch
 * starts after the last row of the previous one, so no batch rescans an
 * ever-growing offset.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { sql, type SqlFragment, trusted } from "../db/sql.ts";
import { ensureCollection } from "../schema/collection.ts";
import {
  afterSql,
  documentSql,
  keysSql,
  orderBySql,
  orderKeys,
  type QueryState,
  whereSql,
} from "./query_sql.ts";

/**
 * Streams a query's documents in order, `batchSize` per round trip.
 *
 * @param context The store's context.
 * @param state The query.
 * @param batchSize Documents per round trip.
 * @returns The documents.
 * @throws {RangeError} For a batch size that is not a positive integer.
 * @throws {TypeError} When the query has includes (fetch pages instead).
 */
export async function* streamQuery<T>(
  context: StoreContext,
  state: QueryState,
  batchSize: number,
): AsyncGenerator<T> {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  if (state.includes.length > 0) {
    throw new TypeError("include() is not supported when iterating: fetch pages instead");
  }
  const info = await ensureCollection(context, state.collection);
  const keys = orderKeys(state, info);
  let remaining = state.limit ?? Infinity;
  let after: unknown[] | null = null;
  let offset = state.offset;
  while (remaining > 0) {
    const take = Math.min(batchSize, remaining);
    const where: SqlFragment = after
      ? sql`${whereSql(state, info)} and ${afterSql(keys, after)}`
      : whereSql(state, info);
    const { text, params } = sql`select ${documentSql(state)} as doc, ${keysSql(keys)} from ${
      trusted(info.table)
    } d where ${where} ${orderBySql(keys)} limit ${take} offset ${offset}`.compile();
    const rows: Record<string, unknown>[] = await context.executor.query(text, params);
    for (const row of rows) yield row.doc as T;
    if (rows.length < take) return;
    remaining -= rows.length;
    offset = 0;
    const last: Record<string, unknown> = rows[rows.length - 1]!;
    after = keys.map((_, i): unknown => last[`k${i}`]);
  }
}
