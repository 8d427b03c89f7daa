/**
 * The third step of the append pipeline (docs/internals/append.md): why an
 * append wrote nothing, and what to do when its statement lost a race.
 *
 * The batch template reports the version it read and the archive mark, so
 * there a wrong expected version and an archived stream need no further round
 * trip. Everything else (a one-event statement that wrote nothing, a repeated
 * idempotency key, a category mismatch, a lost race: the unique index refused
 * the version because another writer committed it after the statement read the
 * stream) takes ONE lookup. A lost race of `Expected.any`
 * or `Expected.streamExists` is not a conflict: the work runs again.
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import { describeExpected } from "./expected.ts";
import type { PreparedAppend } from "./append_input.ts";

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
    `select (select coalesce(max(stream_seq), 0) from ${context.table("events")}
              where stream_id = $1) as version,
            s.archived_at is not null as archived, s.category,
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
  cause?: unknown,
): Promise<RillflowError> {
  const row = await lookup(db, context, prepared);
  const { streamId } = prepared;
  if (hash !== null && row?.key_stream) return conflictOfKey(prepared, hash, row);
  if (row?.archived) return archivedStream(prepared, cause);
  if (prepared.category !== null && row?.category && row.category !== prepared.category) {
    return new RillflowError(
      "INVALID_INPUT",
      `Cannot append to stream "${streamId}" with category "${prepared.category}": ` +
        `its category is "${row.category}"`,
      { details: { streamId, category: row.category, given: prepared.category } },
    );
  }
  return versionConflict(prepared, row?.version ?? 0, cause);
}

/**
 * The error for an append to an archived stream.
 *
 * @param prepared The append.
 * @param cause What revealed it, if anything.
 * @returns `STREAM_ARCHIVED`.
 */
export function archivedStream(prepared: PreparedAppend, cause?: unknown): RillflowError {
  const { streamId } = prepared;
  return new RillflowError(
    "STREAM_ARCHIVED",
    `Cannot append to stream "${streamId}": it is archived`,
    { cause, details: { streamId } },
  );
}

/** `details.expected` of a conflict: the version number, or the kind's name. */
function expectedDetail({ expected }: PreparedAppend): number | string {
  return expected.kind === "exact" ? expected.version : expected.kind;
}

/**
 * The `CONCURRENCY_CONFLICT` of an append that found the stream at `actual`.
 *
 * @param prepared The append.
 * @param actual The version found.
 * @param cause What revealed it, if anything.
 * @returns The error, with `details.expected` and `details.actual`.
 */
export function versionConflict(
  prepared: PreparedAppend,
  actual: number,
  cause?: unknown,
): RillflowError {
  const { streamId, expected } = prepared;
  return new RillflowError(
    "CONCURRENCY_CONFLICT",
    `Cannot append to stream "${streamId}": expected ${
      describeExpected(expected)
    } but found version ${actual}`,
    { cause, details: { streamId, expected: expectedDetail(prepared), actual } },
  );
}

/** The most attempts of a unit of work whose appends keep losing races they may retry. */
const MAX_RACE_ATTEMPTS = 20;

/**
 * An append statement that failed on the stream's `(stream_id, stream_seq)`
 * unique index: the version it was to write exists, because another writer
 * inserted it after this statement read the stream, or because the stream
 * already had it (`Expected.noStream` reads nothing). Nothing of this
 * statement was written; inside a transaction, the transaction is aborted.
 * {@linkcode retryingRaces} turns it into a retry or a conflict; it never
 * reaches a caller.
 */
export class LostRace extends RillflowError {
  /**
   * @param prepared The append that lost.
   * @param cause The unique violation.
   */
  constructor(readonly prepared: PreparedAppend, cause: unknown) {
    super(
      "CONCURRENCY_CONFLICT",
      `Cannot append to stream "${prepared.streamId}": the version it was to write exists`,
      {
        cause,
        details: { streamId: prepared.streamId, expected: expectedDetail(prepared), actual: null },
      },
    );
  }
}

/**
 * Runs a unit of work that appends (one statement on the pool, or a whole
 * transaction) and runs it again while an append in it lost a race its
 * expectation does not care about (`Expected.any`, `Expected.streamExists`:
 * the stream only moved on). Any other lost race (`exact`, `noStream`) is a
 * real conflict: it is reported with the stream's version read after the
 * work ended, outside its aborted transaction (one round trip). Each lost
 * race means another append committed, so retrying cannot livelock. Every
 * attempt after the first is told so (`retry`): the work then takes the
 * stream's advisory lock before its statement, so writers that lost a race
 * queue first come, first served instead of racing each other again. After
 * {@linkcode MAX_RACE_ATTEMPTS} attempts the conflict is reported.
 *
 * @param context The store context (to read the actual version).
 * @param work The unit of work; it must be safe to run again (a rolled-back
 *   transaction, or a statement that wrote nothing). `retry` is true after a lost race.
 * @returns What `work` returned.
 * @throws {RillflowError} `CONCURRENCY_CONFLICT` with `details.expected` and `details.actual`.
 */
export async function retryingRaces<T>(
  context: StoreContext,
  work: (retry: boolean) => Promise<T>,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await work(attempt > 1);
    } catch (error) {
      if (!(error instanceof LostRace)) throw error;
      const kind = error.prepared.expected.kind;
      if ((kind !== "any" && kind !== "streamExists") || attempt >= MAX_RACE_ATTEMPTS) {
        throw await diagnoseEmptyAppend(
          context.executor,
          context,
          error.prepared,
          null,
          error.cause,
        )
          .catch(() => error);
      }
    }
  }
}
