/**
 * The errors of document writes: a stale expected version, a missing
 * document, a soft-deleted one.
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import { RillflowError } from "../errors.ts";
import type { CollectionInfo } from "../schema/collection.ts";

/** A stored document's state, read after a conditional write touched nothing. */
export interface StoredState {
  /** Its version. */
  readonly version: number;
  /** Whether it is soft-deleted. */
  readonly deleted: boolean;
}

/**
 * Reads the state of a document (live or soft-deleted).
 *
 * @param db Where to read (the executor or the write's transaction).
 * @param info The collection.
 * @param id The document id.
 * @returns Its version and deletion state, or null when it does not exist.
 */
export async function readState(
  db: Queryable,
  info: CollectionInfo,
  id: string,
): Promise<StoredState | null> {
  const [row] = await db.query<StoredState>(
    `select version, deleted_at is not null as deleted from ${info.table} where id = $1`,
    [id],
  );
  return row ?? null;
}

/**
 * The error for a missing (or soft-deleted, hence invisible) document.
 *
 * @param collection The collection.
 * @param id The document id.
 * @param action What was attempted ("update", "patch", …).
 * @returns A `DOCUMENT_NOT_FOUND` error.
 */
export function notFound(collection: string, id: string, action: string): RillflowError {
  return new RillflowError(
    "DOCUMENT_NOT_FOUND",
    `Cannot ${action} document "${id}" in "${collection}": it does not exist`,
    { details: { collection, id }, retryable: false },
  );
}

/**
 * The error for a stale expected version.
 *
 * @param collection The collection.
 * @param id The document id.
 * @param action What was attempted.
 * @param expected The version the caller expected (0: not to exist).
 * @param actual The stored version.
 * @returns A `DOCUMENT_VERSION_CONFLICT` error.
 */
export function versionConflict(
  collection: string,
  id: string,
  action: string,
  expected: number,
  actual: number,
): RillflowError {
  const wanted = expected === 0 ? "it not to exist" : `version ${expected}`;
  return new RillflowError(
    "DOCUMENT_VERSION_CONFLICT",
    `Cannot ${action} document "${id}" in "${collection}": expected ${wanted} but found version ${actual}`,
    { details: { collection, id, expected, actual } },
  );
}

/**
 * The error for a write to a soft-deleted document that would otherwise revive it unseen.
 *
 * @param collection The collection.
 * @param id The document id.
 * @param actual The stored version.
 * @returns A `DOCUMENT_VERSION_CONFLICT` error with `details.deleted = true`.
 */
export function softDeletedConflict(collection: string, id: string, actual: number): RillflowError {
  return new RillflowError(
    "DOCUMENT_VERSION_CONFLICT",
    `Cannot put document "${id}" in "${collection}": it is soft-deleted (version ${actual}); ` +
      "restore it first",
    { details: { collection, id, actual, deleted: true }, retryable: false },
  );
}

/**
 * Explains why a conditional write touched no row, as the error to throw.
 *
 * @param db Where to read.
 * @param info The collection.
 * @param id The document id.
 * @param action What was attempted.
 * @param expected The expected version, or null for none.
 * @returns The error: not found, soft-deleted or a version conflict.
 */
export async function explainMiss(
  db: Queryable,
  info: CollectionInfo,
  id: string,
  action: "put" | "update" | "patch" | "delete",
  expected: number | null,
): Promise<RillflowError> {
  const state = await readState(db, info, id);
  if (state?.deleted && action === "put") return softDeletedConflict(info.name, id, state.version);
  // expected 0 and gone again: it existed when the insert ran, a race the caller may retry.
  if (!state && expected === 0) return versionConflict(info.name, id, action, 0, 0);
  if (!state || (state.deleted && action !== "delete")) return notFound(info.name, id, action);
  return versionConflict(info.name, id, action, expected ?? state.version, state.version);
}
