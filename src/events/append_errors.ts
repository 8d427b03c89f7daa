/**
 * Why an append wrote nothing: after the statement returns no rows (or fails
 * on the idempotency key), one lookup tells a concurrency conflict from an
 * archived stream, a category mismatch or a repeated idempotency key.
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import { describeExpected } from "./expected.ts";
import type { PreparedAppend } from "./append.ts";

interface DiagnosisRow {
  version: number | null;
  archived: boolean | null;
  category: string | null;
  key_stream: string | null;
  key_version: number | null;
  key_seqs: number[] | null;
  key_hash: string | null;
}

/**
 * The fingerprint of an append's request, stored with its idempotency key so
 * a retry can be told apart from a different request reusing the key.
 *
 * @param prepared The append.
 * @returns Hex SHA-256 of the stream id, types, data and versions.
 */
export async function requestHash(prepared: PreparedAppend): Promise<string> {
  const text = JSON.stringify([
    prepared.streamId,
    prepared.types,
    prepared.datas,
    prepared.versions,
  ]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function lookup(
  db: Queryable,
  context: StoreContext,
  prepared: PreparedAppend,
): Promise<DiagnosisRow | undefined> {
  const [row] = await db.query<DiagnosisRow>(
    `select s.version, s.archived_at is not null as archived, s.category,
            k.stream_id as key_stream, k.stream_version as key_version,
            k.global_seqs as key_seqs, k.request_hash as key_hash
       from (select 1) as one
       left join ${context.table("streams")} s on s.stream_id = $1
       left join ${context.table("idempotency_keys")} k on k.key = $2`,
    [prepared.streamId, prepared.idempotencyKey],
  );
  return row;
}

function conflictOfKey(
  prepared: PreparedAppend,
  hash: string,
  row: DiagnosisRow | undefined,
  cause?: unknown,
): RillflowError {
  const key = prepared.idempotencyKey!;
  const original = row?.key_stream
    ? {
      streamId: row.key_stream,
      streamVersion: row.key_version,
      globalSeqs: row.key_seqs,
      identical: row.key_hash === hash,
    }
    : {};
  return new RillflowError(
    "IDEMPOTENCY_CONFLICT",
    `Idempotency key "${key}" was already used${
      row?.key_stream ? ` by an append to stream "${row.key_stream}"` : ""
    }: nothing was written`,
    { cause, retryable: false, details: { key, ...original } },
  );
}

/**
 * The error for an append that failed on its idempotency key's primary key
 * (a concurrent duplicate). Inside a transaction the follow-up lookup cannot
 * run (the transaction is aborted), so the details then carry only the key.
 *
 * @param db Where the append ran.
 * @param context The store context.
 * @param prepared The append.
 * @param hash Its request hash.
 * @param cause The unique violation.
 * @returns The `IDEMPOTENCY_CONFLICT` error.
 */
export async function idempotencyConflict(
  db: Queryable,
  context: StoreContext,
  prepared: PreparedAppend,
  hash: string,
  cause: unknown,
): Promise<RillflowError> {
  const row = await lookup(db, context, prepared).catch(() => undefined);
  return conflictOfKey(prepared, hash, row, cause);
}

/**
 * The error for an append statement that wrote no rows.
 *
 * @param db Where the append ran.
 * @param context The store context.
 * @param prepared The append.
 * @param hash Its request hash, when keyed.
 * @returns `IDEMPOTENCY_CONFLICT`, `STREAM_ARCHIVED`, `INVALID_INPUT` (category) or
 *   `CONCURRENCY_CONFLICT` with `details.expected` and `details.actual`.
 */
export async function diagnoseEmptyAppend(
  db: Queryable,
  context: StoreContext,
  prepared: PreparedAppend,
  hash: string | null,
): Promise<RillflowError> {
  const row = await lookup(db, context, prepared);
  const { streamId } = prepared;
  if (hash !== null && row?.key_stream) return conflictOfKey(prepared, hash, row);
  if (row?.archived) {
    return new RillflowError(
      "STREAM_ARCHIVED",
      `Cannot append to stream "${streamId}": it is archived`,
      { details: { streamId } },
    );
  }
  if (prepared.category !== null && row?.category && row.category !== prepared.category) {
    return new RillflowError(
      "INVALID_INPUT",
      `Cannot append to stream "${streamId}" with category "${prepared.category}": ` +
        `its category is "${row.category}"`,
      { details: { streamId, category: row.category, given: prepared.category } },
    );
  }
  const actual = row?.version ?? 0;
  const kind = prepared.expected;
  return new RillflowError(
    "CONCURRENCY_CONFLICT",
    `Cannot append to stream "${streamId}": expected ${
      describeExpected(kind)
    } but found version ${actual}`,
    { details: { streamId, expected: kind.kind === "exact" ? kind.version : kind.kind, actual } },
  );
}
