/**
 * One SQL statement per document write, each checking the expected version
 * in the statement itself. Used by {@linkcode Documents} with the executor
 * and by the session with its transaction.
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import { qualify } from "../db/identifiers.ts";
import type { CollectionInfo } from "../schema/collection.ts";
import { explainMiss, notFound, readState } from "./_errors.ts";
import type { PatchOperation } from "./patch.ts";

type Row = { version: number };

/** Who writes: stored in `created_by` / `last_modified_by`. */
export type Writer = string | null;

/**
 * Serialises a document for a jsonb parameter.
 *
 * @param doc The document.
 * @returns Its JSON text.
 * @throws {TypeError} When it is not a JSON object.
 */
export function documentJson(doc: unknown): string {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new TypeError(`A document must be a JSON object, got ${describe(doc)}`);
  }
  return JSON.stringify(doc);
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
}

/**
 * Checks an expected version argument.
 *
 * @param expected The value.
 * @param allowZero Whether 0 ("must not exist") is allowed.
 * @throws {RangeError} When it is not a non-negative (positive) integer.
 */
export function assertExpectedVersion(expected: unknown, allowZero: boolean): void {
  if (!Number.isSafeInteger(expected) || (expected as number) < (allowZero ? 0 : 1)) {
    throw new RangeError(
      `Invalid expected version ${String(expected)}: use ${
        allowZero ? "0 or " : ""
      }a positive integer`,
    );
  }
}

/**
 * Inserts or replaces a document. `expected` undefined: any live version
 * (a soft-deleted document is a conflict); 0: must not exist; n: must be at n.
 *
 * @returns The new version.
 */
export async function putDocument(
  db: Queryable,
  info: CollectionInfo,
  id: string,
  json: string,
  expected: number | undefined,
  writer: Writer,
): Promise<number> {
  if (expected !== undefined && expected > 0) {
    return await replaceDocument(db, info, id, json, expected, writer, "put");
  }
  const onConflict = expected === 0 ? "do nothing" : `do update set doc = excluded.doc,
      version = d.version + 1, updated_at = now(), last_modified_by = excluded.last_modified_by
      where d.deleted_at is null`;
  const [row] = await db.query<Row>(
    `insert into ${info.table} as d (id, doc, created_by, last_modified_by)
     values ($1, $2::jsonb, $3, $3) on conflict (id) ${onConflict} returning version`,
    [id, json, writer],
  );
  if (row) return row.version;
  throw await explainMiss(db, info, id, "put", expected ?? null);
}

/**
 * Replaces a live document at an expected version.
 *
 * @returns The new version.
 */
export async function replaceDocument(
  db: Queryable,
  info: CollectionInfo,
  id: string,
  json: string,
  expected: number,
  writer: Writer,
  action: "put" | "update",
): Promise<number> {
  const [row] = await db.query<Row>(
    `update ${info.table} as d set doc = $2::jsonb, version = d.version + 1, updated_at = now(),
            last_modified_by = $4
      where d.id = $1 and d.version = $3 and d.deleted_at is null
      returning d.version as version`,
    [id, json, expected, writer],
  );
  if (row) return row.version;
  throw await explainMiss(db, info, id, action, expected);
}

/**
 * Applies patch operations to a live document in one statement.
 *
 * @returns The new version.
 */
export async function patchDocument(
  db: Queryable,
  info: CollectionInfo,
  id: string,
  expected: number | null,
  operations: readonly PatchOperation[],
  writer: Writer,
): Promise<number> {
  const [row] = await db.query<Row>(
    `update ${info.table} as d set doc = ${
      qualify(info.schema, "rillflow_patch")
    }(d.doc, $2::jsonb),
            version = d.version + 1, updated_at = now(), last_modified_by = $4
      where d.id = $1 and d.deleted_at is null and ($3::int is null or d.version = $3::int)
      returning d.version as version`,
    [id, JSON.stringify(operations), expected, writer],
  );
  if (row) return row.version;
  throw await explainMiss(db, info, id, "patch", expected);
}

/**
 * Deletes a document for good (live or soft-deleted), at an expected version when given.
 */
export async function deleteDocument(
  db: Queryable,
  info: CollectionInfo,
  id: string,
  expected: number | null,
): Promise<void> {
  const rows = await db.query(
    `delete from ${info.table} where id = $1 and ($2::int is null or version = $2::int)
     returning version`,
    [id, expected],
  );
  if (rows.length === 0) throw await explainMiss(db, info, id, "delete", expected);
}

/**
 * Marks a document deleted (or restores it); a no-op when it already is.
 *
 * @returns The new version, or the stored one when nothing changed.
 */
export async function setDeleted(
  db: Queryable,
  info: CollectionInfo,
  id: string,
  deleted: boolean,
): Promise<number> {
  const [row] = await db.query<Row>(
    `update ${info.table} set deleted_at = ${deleted ? "now()" : "null"},
            version = version + 1, updated_at = now()
      where id = $1 and deleted_at is ${deleted ? "null" : "not null"}
      returning version`,
    [id],
  );
  if (row) return row.version;
  const state = await readState(db, info, id);
  if (!state) throw notFound(info.name, id, deleted ? "soft-delete" : "restore");
  return state.version;
}
