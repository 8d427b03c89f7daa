/**
 * Document history: past versions kept by a trigger in `<collection>_history`
 * for collections configured with `SchemaConfig.withHistory`.
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import type { CollectionInfo } from "../schema/collection.ts";

/** One past version of a document. */
export interface HistoryEntry<T> {
  /** The version it had. */
  readonly version: number;
  /** The document as it was. */
  readonly doc: T;
  /** What replaced it: `update` (any write) or `delete`. */
  readonly operation: "update" | "delete";
  /** When it was replaced. */
  readonly archivedAt: Date;
}

/**
 * Reads a document's past versions, oldest first.
 *
 * @param db Where to read.
 * @param info The collection.
 * @param id The document id.
 * @returns The entries; empty when the collection keeps no history.
 */
export async function readHistory<T>(
  db: Queryable,
  info: CollectionInfo,
  id: string,
): Promise<HistoryEntry<T>[]> {
  if (info.historyTable === null) return [];
  return await db.query<HistoryEntry<T>>(
    `select version, doc, operation, archived_at as "archivedAt"
       from ${info.historyTable} where id = $1 order by history_id`,
    [id],
  );
}
