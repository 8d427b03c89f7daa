/**
 * Bulk writes: `COPY` for inserts, batched `insert … on conflict` for upserts,
 * each all-or-nothing in one transaction.
 *
 * @module
 */
import type { Executor } from "../db/executor.ts";
import { isUniqueViolation } from "../db/_pg_errors.ts";
import { isRillflowError, RillflowError } from "../errors.ts";
import { assertUuid } from "../ids.ts";
import type { CollectionInfo } from "./collection.ts";
import { documentJson } from "./writes.ts";

const COPY_ROWS = 50_000;
const UPSERT_ROWS = 1_000;

/**
 * Validates bulk rows before anything is written.
 *
 * @param rows The rows.
 * @returns Ids and JSON texts.
 * @throws {TypeError} For a malformed row, id or document, or an id given twice.
 */
export function prepareRows(rows: unknown): { ids: string[]; docs: string[] } {
  if (!Array.isArray(rows)) throw new TypeError("Bulk writes need an array of { id, doc } rows");
  const ids: string[] = [];
  const docs: string[] = [];
  const seen = new Set<string>();
  rows.forEach((row, i) => {
    if (row === null || typeof row !== "object") {
      throw new TypeError(`Row ${i} is not an { id, doc } object`);
    }
    const { id, doc } = row as { id: unknown; doc: unknown };
    assertUuid(id, `document id of row ${i}`);
    const key = id.toLowerCase();
    if (seen.has(key)) throw new TypeError(`Row ${i} repeats document id "${id}"`);
    seen.add(key);
    ids.push(id);
    docs.push(documentJson(doc));
  });
  return { ids, docs };
}

/** Escapes text for COPY's text format (JSON text has no raw tabs or newlines). */
function copyEscape(text: string): string {
  return text.includes("\\") ? text.replaceAll("\\", "\\\\") : text;
}

/**
 * Inserts new documents with `COPY` in one transaction.
 *
 * @param executor The database.
 * @param info The collection.
 * @param rows Validated ids and documents.
 * @returns The number inserted.
 * @throws {RillflowError} `DOCUMENT_VERSION_CONFLICT` when an id already exists (nothing is written).
 */
export async function copyDocuments(
  executor: Executor,
  info: CollectionInfo,
  rows: { ids: string[]; docs: string[] },
): Promise<number> {
  if (rows.ids.length === 0) return 0;
  try {
    await executor.transaction(async (tx) => {
      for (let start = 0; start < rows.ids.length; start += COPY_ROWS) {
        let text = "";
        const end = Math.min(start + COPY_ROWS, rows.ids.length);
        for (let i = start; i < end; i++) text += `${rows.ids[i]}\t${copyEscape(rows.docs[i]!)}\n`;
        await tx.copyIn(info.table, ['"id"', '"doc"'], text);
      }
    });
  } catch (error) {
    if (isRillflowError(error) && isUniqueViolation(error)) {
      throw new RillflowError(
        "DOCUMENT_VERSION_CONFLICT",
        `Cannot bulk insert into "${info.name}": a document with one of the ids already exists; nothing was written`,
        { cause: error, details: { collection: info.name }, retryable: false },
      );
    }
    throw error;
  }
  return rows.ids.length;
}

/**
 * Inserts or replaces documents in one transaction; a soft-deleted id fails the whole batch.
 *
 * @param executor The database.
 * @param info The collection.
 * @param rows Validated ids and documents.
 * @returns The number written.
 * @throws {RillflowError} `DOCUMENT_VERSION_CONFLICT` when an id is soft-deleted (nothing is written).
 */
export async function upsertDocuments(
  executor: Executor,
  info: CollectionInfo,
  rows: { ids: string[]; docs: string[] },
): Promise<number> {
  if (rows.ids.length === 0) return 0;
  return await executor.transaction(async (tx) => {
    let done = 0;
    for (let start = 0; start < rows.ids.length; start += UPSERT_ROWS) {
      const ids = rows.ids.slice(start, start + UPSERT_ROWS);
      const result = await tx.query<{ id: string }>(
        `insert into ${info.table} as d (id, doc)
         select u.id, u.doc::jsonb from unnest($1::uuid[], $2::text[]) as u(id, doc)
         on conflict (id) do update set doc = excluded.doc, version = d.version + 1, updated_at = now()
          where d.deleted_at is null
         returning d.id`,
        [ids, rows.docs.slice(start, start + UPSERT_ROWS)],
      );
      if (result.length < ids.length) {
        const written = new Set(result.map((r) => r.id));
        const id = ids.find((candidate) => !written.has(candidate.toLowerCase()));
        throw new RillflowError(
          "DOCUMENT_VERSION_CONFLICT",
          `Cannot bulk upsert into "${info.name}": document "${id}" is soft-deleted; nothing was written`,
          { details: { collection: info.name, id, deleted: true }, retryable: false },
        );
      }
      done += result.length;
    }
    return done;
  });
}
