/**
 * Why an append wrote nothing: after the statement returns no rows (or fails
 * on the idempotency key), one lookup tells a concurrency conflict from an
 * archived stream, a category mismatch or a repeated idempotency key. And
 * what to do when the statement lost a race for the stream's next version.
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
  if (row?.archived) {
    return new RillflowError(
      "STREAM_ARCHIVED",
      `Cannot append to stream "${streamId}": it is archived`,
      { cause, details: { streamId } },
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
  return versionConflict(prepared, row?.version ?? 0, cause);
}

/** `details.expected` of a conflict: the version number, or the kind's name. */
function expectedDetail({ expected }: PreparedAppend): number | string {
  return expected.kind === "exact" ? expected.version : expected.kind;
}

/** The `CONCURRENCY_CONFLICT` of an append that found the stream at `actual`. */
function versionConflict(prepared: PreparedAppend, actual: number, cause?: unknown): RillflowError {
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

/** How long a stream that lost a race stays contended (its appends queue on its lock). */
const CONTENDED_MS = 5_000;

/** Streams whose appends lost a race lately, with when, per store context. */
const contended = new WeakMap<StoreContext, Map<string, number>>();

/**
 * Whether appends to a stream lost a race in this process lately. Such
 * appends first take the stream's transaction-level advisory lock, so that
 * writers of a hot stream queue (first come, first served) instead of
 * retrying against each other: only writers that have not met contention yet
 * still race, and each of them at most once before it queues too.
 *
 * @param context The store context.
 * @param streamId The stream.
 * @returns `true` within a few seconds of a lost race on the stream.
 */
export function isContended(context: StoreContext, streamId: string): boolean {
  const since = contended.get(context)?.get(streamId);
  return since !== undefined && performance.now() - since < CONTENDED_MS;
}

function markContended(context: StoreContext, streamId: string): void {
  let streams = contended.get(context);
  if (!streams) contended.set(context, streams = new Map());
  if (streams.size >= 10_000) streams.clear();
  streams.set(streamId, performance.now());
}

/** Lost races, by the error raised for them, with the append that lost. */
const races = new WeakMap<object, PreparedAppend>();

/**
 * The error for an append statement that failed on the stream's
 * `(stream_id, stream_seq)` unique index: the version it was to write exists,
 * because another writer inserted it after this statement read the stream (a
 * lost race), or because the stream already had it (`Expected.noStream` and
 * `Expected.exact` do not read the version first). Nothing of this statement
 * was written; inside a transaction, the transaction is aborted.
 * {@linkcode retryingRaces} tells it apart.
 *
 * @param prepared The append that lost.
 * @param cause The unique violation.
 * @returns A retryable `CONCURRENCY_CONFLICT` (its `actual` is not known yet).
 */
export function lostRace(prepared: PreparedAppend, cause: unknown): RillflowError {
  const { streamId } = prepared;
  const error = new RillflowError(
    "CONCURRENCY_CONFLICT",
    `Cannot append to stream "${streamId}": the version it was to write exists`,
    { cause, details: { streamId, expected: expectedDetail(prepared), actual: null } },
  );
  races.set(error, prepared);
  return error;
}

/**
 * Whether an error is an append's lost race ({@linkcode lostRace}): the
 * version it was to write exists.
 *
 * @param error Any thrown value.
 * @returns True for a lost race.
 */
export function isLostRace(error: unknown): boolean {
  return typeof error === "object" && error !== null && races.has(error);
}

/**
 * Runs a unit of work that appends (one statement on the pool, or a whole
 * transaction) and runs it again while an append in it lost a race its
 * expectation does not care about (`Expected.any`, `Expected.streamExists`:
 * the stream only moved on). Any other lost race (`exact`, `noStream`) is a
 * real conflict: it is reported with the stream's version read after the
 * work ended, outside its aborted transaction.
 *
 * Each lost race means another append committed, so retrying cannot livelock,
 * and it marks the stream contended (see {@linkcode isContended}): the next
 * attempts queue on the stream's lock. After {@linkcode MAX_RACE_ATTEMPTS}
 * attempts the conflict is reported.
 *
 * @param context The store context (to read the actual version).
 * @param work The unit of work; it must be safe to run again (a rolled-back
 *   transaction, or a statement that wrote nothing).
 * @returns What `work` returned.
 * @throws {RillflowError} `CONCURRENCY_CONFLICT` with `details.expected` and `details.actual`.
 */
export function retryingRaces<T>(
  context: StoreContext,
  work: () => Promise<T>,
): Promise<T> {
  // The first attempt is a bare call: no async frame on the path that almost always succeeds.
  const again = async (error: unknown): Promise<T> => {
    for (let attempt = 1;; attempt++) {
      const prepared = races.get(error as object);
      if (!prepared) throw error;
      markContended(context, prepared.streamId);
      const kind = prepared.expected.kind;
      if ((kind !== "any" && kind !== "streamExists") || attempt >= MAX_RACE_ATTEMPTS) {
        throw await conflictAfterRace(context, prepared, error as RillflowError);
      }
      try {
        return await work();
      } catch (next) {
        error = next;
      }
    }
  };
  try {
    return work().catch(again);
  } catch (error) {
    return again(error);
  }
}

/**
 * The error for a race that counts (or too many): read on the pool after the
 * work ended (its transaction, if any, is aborted). The version found, or
 * `STREAM_ARCHIVED`: statements that start a stream leave the archive check to
 * the unique index, which an archived stream's first event fills.
 */
function conflictAfterRace(
  context: StoreContext,
  prepared: PreparedAppend,
  race: RillflowError,
): Promise<RillflowError> {
  return diagnoseEmptyAppend(
    context.executor,
    context,
    prepared,
    null,
    race.cause,
  )
    .catch(() => race);
}
