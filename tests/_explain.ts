/** EXPLAIN helpers: does a query's plan use a given index? */
import type { Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

/**
 * The plan of a statement, with sequential scans discouraged (tiny test tables
 * would otherwise always be scanned) in a transaction of its own.
 */
export async function planOf(
  store: Store,
  query: { text: string; params: unknown[] },
): Promise<string> {
  const { executor } = contextOf(store);
  const rows = await executor.transaction(async (tx) => {
    await tx.query("set local enable_seqscan = off");
    return await tx.query<Record<string, string>>(`explain ${query.text}`, query.params);
  });
  return rows.map((row) => Object.values(row)[0]).join("\n");
}
