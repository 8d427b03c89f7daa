/**
 * Bulk writes, each all-or-nothing in one transaction: inserts go through
 * batched `insert … select … from jsonb_to_recordset($1)` statements, or
 * through `COPY` from {@linkcode COPY_MIN_ROWS} rows on; upserts through
 * batched `insert … on conflict`.
 *
 * @module
 */
import type { Executor, InternalTx } from "../db/executor.ts";
import { isUniqueViolation } from "../db/_pg_errors.ts";
import { isRillflowError, RillflowError } from "../errors.ts";
import { assertUuid } from "../ids.ts";
import type { CollectionInfo } from "../schema/collection.ts";
import { documentJson } from "./writes.ts";

/** Rows per upsert or insert statement. */
const ROWS_PER_STATEMENT = 1_000;
/**
 * JSON characters per insert statement: one statement's records form one
 * jsonb value, which PostgreSQL caps at 256 MB, so large documents go in
 * smaller statements.
 */
const CHARS_PER_STATEMENT = 8_000_000;
/**
 * From this many rows per call, `COPY` inserts. Under Deno each COPY through
 * postgres.js waits up to ~90 ms on delayed TCP acknowledgements
 * (docs/documents.md), which statements do not. COPY's cheaper rows repay
 * that from about 20,000 rows (bench/README.md, "bulk load 50,000 docs").
 */
export const COPY_MIN_ROWS = 20_000;
/** Rows per COPY: bounds the text built in memory at once. */
const COPY_ROWS = 50_000;

/** Ids and JSON texts of validated bulk rows. */
export interface PreparedRows {
  /** Document ids (validated UUIDs). */
  ids: string[];
  /** Documents as JSON text. */
  docs: string[];
}

/**
 * Validates bulk rows before anything is written.
 *
 * @param rows The rows.
 * @returns Ids and JSON texts.
 * @throws {TypeError} For a malformed row, id or document, or an id given twice.
 */
export function prepareRows(rows: unknown): PreparedRows {
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

/**
 * The rows in chunks of at most {@linkcode ROWS_PER_STATEMENT} rows and about
 * {@linkcode CHARS_PER_STATEMENT} characters, each as the text of a JSON
 * array of `{ id, doc }` records for `jsonb_to_recordset`. Each document is
 * already JSON text and each id a validated UUID, so the array is built by
 * concatenation: nothing is escaped twice, as it would be in a `text[]`
 * literal (measured faster than `unnest` of two arrays, bench/README.md).
 */
function* recordChunks(rows: PreparedRows): Generator<{ json: string; ids: string[] }> {
  for (let start = 0; start < rows.ids.length;) {
    let json = "[";
    let end = start;
    while (
      end < rows.ids.length && end - start < ROWS_PER_STATEMENT &&
      json.length < CHARS_PER_STATEMENT
    ) {
      json += `${end === start ? "" : ","}{"id":"${rows.ids[end]}","doc":${rows.docs[end]}}`;
      end++;
    }
    yield { json: json + "]", ids: rows.ids.slice(start, end) };
    start = end;
  }
}

/**
 * The records of a chunk as rows `r(id, doc)`. `::text::jsonb`: postgres.js
 * would JSON-encode a string bound as jsonb a second time.
 */
const RECORDS = "jsonb_to_recordset($1::text::jsonb) as r(id uuid, doc jsonb)";

/** Inserts rows with one `insert … select … from jsonb_to_recordset($1)` per chunk. */
async function insertRows(tx: InternalTx, info: CollectionInfo, rows: PreparedRows) {
  for (const { json } of recordChunks(rows)) {
    await tx.query(
      `insert into ${info.table} (id, doc)
       select r.id, r.doc from ${RECORDS}`,
      [json],
    );
  }
}

/** Escapes text for COPY's text format (JSON text has no raw tabs or newlines). */
function copyEscape(text: string): string {
  return text.includes("\\") ? text.replaceAll("\\", "\\\\") : text;
}

/** Inserts rows with `COPY … FROM STDIN`, {@linkcode COPY_ROWS} at a time. */
async function copyRows(tx: InternalTx, info: CollectionInfo, rows: PreparedRows) {
  for (let start = 0; start < rows.ids.length; start += COPY_ROWS) {
    let text = "";
    const end = Math.min(start + COPY_ROWS, rows.ids.length);
    for (let i = start; i < end; i++) text += `${rows.ids[i]}\t${copyEscape(rows.docs[i]!)}\n`;
    await tx.copyIn(info.table, ['"id"', '"doc"'], text);
  }
}

/**
 * Inserts new documents in one transaction: below {@linkcode COPY_MIN_ROWS}
 * rows with `insert … select` statements of up to 1,000 rows, from there on
 * with `COPY`. Duplicated fields are filled by the collection's row trigger,
 * which fires for both.
 *
 * @param executor The database.
 * @param info The collection.
 * @param rows Validated ids and documents.
 * @returns The number inserted.
 * @throws {RillflowError} `DOCUMENT_VERSION_CONFLICT` when an id already exists (nothing is written).
 */
export async function insertDocuments(
  executor: Executor,
  info: CollectionInfo,
  rows: PreparedRows,
): Promise<number> {
  if (rows.ids.length === 0) return 0;
  const write = rows.ids.length >= COPY_MIN_ROWS ? copyRows : insertRows;
  try {
    await executor.transaction((tx) => write(tx, info, rows));
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
  rows: PreparedRows,
): Promise<number> {
  if (rows.ids.length === 0) return 0;
  return await executor.transaction(async (tx) => {
    let done = 0;
    for (const { json, ids } of recordChunks(rows)) {
      const result = await tx.query<{ id: string }>(
        `insert into ${info.table} as d (id, doc)
         select r.id, r.doc from ${RECORDS}
         on conflict (id) do update set doc = excluded.doc, version = d.version + 1, updated_at = now()
          where d.deleted_at is null
         returning d.id`,
        [json],
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
