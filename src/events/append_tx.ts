/**
 * Appends that need a transaction: with a per-stream advisory lock, or with
 * inline projections whose writes must commit (or fail) with the events.
 *
 * @module
 */
import { quoteIdent } from "../db/identifiers.ts";
import type { Queryable, Tx } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";
import type { Projection } from "../projections/projection.ts";
import {
  type AppendResult,
  type PreparedAppend,
  resultOf,
  runAppend,
  writeAppend,
} from "./append.ts";
import { type EventRow, toEnvelope } from "./envelope.ts";
import { noteStreamWritten } from "./append_guess.ts";
import { isContended, retryingRaces } from "./append_errors.ts";
import { lockNamespace } from "./watermark.ts";

/**
 * Takes the transaction-level advisory lock of a stream: concurrent holders
 * of the same stream's lock queue until the holder's transaction ends. The
 * two-key form (`objsubid = 2`) never collides with the watermark's locks.
 *
 * SQL: `select pg_advisory_xact_lock($namespace, hashtext($streamId))`.
 *
 * @param tx The transaction.
 * @param context The store context.
 * @param streamId The stream.
 */
export async function lockStream(
  tx: Queryable,
  context: StoreContext,
  streamId: string,
): Promise<void> {
  await tx.query("select pg_advisory_xact_lock($1::int, hashtext($2::text))::text as locked", [
    lockNamespace(context.schema),
    streamId,
  ]);
}

const NONE: ReadonlyArray<[string, Projection]> = Object.freeze([]);

/**
 * The inline projections that handle at least one of the given event types.
 *
 * @param context The store context.
 * @param types The appended events' types.
 * @returns The matching projections with their names.
 */
export function inlineProjectionsFor(
  context: StoreContext,
  types: readonly string[],
): ReadonlyArray<[string, Projection]> {
  const inline = context.settings.inlineProjections;
  if (inline.size === 0) return NONE;
  const matching: Array<[string, Projection]> = [];
  for (const entry of inline) {
    const wanted = entry[1].eventTypes;
    if (!wanted || types.some((t) => wanted.includes(t))) matching.push(entry);
  }
  return matching;
}

/**
 * Runs an append inside `tx`: the stream's advisory lock when asked (or when
 * the stream is contended, see {@linkcode isContended}), the
 * append statement, then every matching inline projection, each event in
 * order. A failing projection rejects with its own error; the caller's
 * transaction then rolls back and nothing is written.
 *
 * @param tx The transaction (handed to projections as their {@linkcode Tx}).
 * @param context The store context.
 * @param prepared The append.
 * @param options Whether to take the stream's advisory lock first.
 * @returns The append's result.
 */
export async function appendInTransaction(
  tx: Tx,
  context: StoreContext,
  prepared: PreparedAppend,
  options: { advisoryLock: boolean },
): Promise<AppendResult> {
  if (options.advisoryLock || isContended(context, prepared.streamId)) {
    await lockStream(tx, context, prepared.streamId);
  }
  const projections = inlineProjectionsFor(context, prepared.types);
  if (projections.length === 0) return runAppend(tx, context, prepared);
  // Handlers write unqualified read-model tables: the store's schema, for this transaction only
  // (whichever unit of work opened it: an append, a session, an aggregate commit).
  await tx.query("select set_config('search_path', $1, true)", [quoteIdent(context.schema)]);
  const rows = await writeAppend<EventRow>(tx, context, prepared, true);
  const envelopes = await context.settings.upcast(rows.map(toEnvelope));
  const handle: Tx = { query: tx.query, sql: tx.sql };
  for (const [, projection] of projections) {
    for (const envelope of envelopes) {
      if (projection.eventTypes && !projection.eventTypes.includes(envelope.type)) continue;
      await projection.apply(envelope, handle);
    }
  }
  return resultOf(rows);
}

/**
 * Runs an append without inline projections on the pool: one statement, run
 * again if it lost a race its expectation allows to retry (see
 * {@linkcode retryingRaces}); on a contended stream, a transaction that
 * takes the stream's advisory lock first (see {@linkcode appendInTransaction}).
 *
 * @param context The store context.
 * @param prepared The append.
 * @returns The new stream version and global positions.
 * @throws {RillflowError} As `runAppend`.
 */
export function appendOnPool(
  context: StoreContext,
  prepared: PreparedAppend,
): Promise<AppendResult> {
  return retryingRaces(
    context,
    () =>
      isContended(context, prepared.streamId)
        ? context.executor.transaction((tx) =>
          appendInTransaction(tx, context, prepared, { advisoryLock: true })
        )
        : runAppend(context.executor, context, prepared),
  ).then((result) => (noteStreamWritten(context, prepared.streamId), result));
}
