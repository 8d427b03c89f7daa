/**
 * Aggregate commits as plans: everything that reads or may reject (loading,
 * the validator, serialisation checks) happens while planning, outside any
 * transaction; the plan's `run(db)` then only writes, on the pool or inside a
 * caller's transaction (a session's `saveChanges`).
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";
import { type Aggregate, foldEnvelopes, type LoadedAggregate } from "./aggregate.ts";
import {
  type AggregateValidator,
  conflict,
  pendingEnvelopes,
  runValidator,
  satisfies,
} from "./aggregate_commit.ts";
import { loadAggregate } from "./aggregate_load.ts";
import { type AppendOptions, type AppendResult, prepareAppend } from "./append_input.ts";
import { appendInTransaction, inlineProjectionsFor, runAppend } from "./append.ts";
import { sqlTagFor } from "../db/executor.ts";

/**
 * The append of a plan: with inline projections for these event types it runs them in
 * the same transaction (the plan then needs one), else it is the single statement.
 */
function appendOf(context: StoreContext, prepared: ReturnType<typeof prepareAppend>) {
  const inline = inlineProjectionsFor(context, prepared.types).length > 0;
  return {
    inline,
    run: (db: Queryable) =>
      inline
        ? appendInTransaction(
          {
            query: (text, params) => db.query(text, params),
            sql: sqlTagFor((t, p) => db.query(t, p)),
          },
          context,
          prepared,
          { advisoryLock: context.settings.advisoryLocks },
        )
        : runAppend(db, context, prepared),
  };
}
import type { EventEnvelope } from "./envelope.ts";
import { Expected, type ExpectedVersion } from "./expected.ts";
import type { NewEvent } from "./new_event.ts";
import { registerAggregateStream, snapshotJson, writeSnapshot } from "./snapshot_store.ts";

/** What a plan needs of its repository. */
export interface AggregateParts<S> {
  readonly context: StoreContext;
  readonly aggregate: Aggregate<S>;
  readonly validator?: AggregateValidator<S>;
}

/** A validated commit, ready to write. */
export interface AggregateWrite {
  /** Whether `run` must be given a transaction (it writes a snapshot with the append). */
  readonly needsTransaction: boolean;
  /**
   * Appends, records a new stream as the aggregate's and writes the snapshot when one is due.
   * On PGlite, `db` must be the open transaction, never the executor from inside one.
   *
   * @param db The pool, or a transaction (required when `needsTransaction`).
   * @returns The append's result.
   */
  run(db: Queryable): Promise<AppendResult>;
}

function plainWrite(
  context: StoreContext,
  aggregate: Aggregate<unknown>,
  prepared: ReturnType<typeof prepareAppend>,
): AggregateWrite {
  const append = appendOf(context, prepared);
  return {
    needsTransaction: append.inline,
    // On the pool the registration is a second statement: a crash in between leaves the
    // stream unknown to the snapshotter until its first snapshot, never wrong.
    async run(db) {
      const result = await append.run(db);
      if (result.streamVersion === prepared.count) {
        await registerAggregateStream(db, context, aggregate.name, prepared.streamId);
      }
      return result;
    },
  };
}

function snapshotWrite<S>(
  parts: AggregateParts<S>,
  loaded: LoadedAggregate<S>,
  pending: readonly EventEnvelope[],
  prepared: ReturnType<typeof prepareAppend>,
): AggregateWrite {
  const { context, aggregate } = parts;
  return {
    needsTransaction: true,
    // The state is folded again from the stored envelopes (real positions and created_at,
    // which is the transaction's now()) so that the snapshot equals a full load.
    async run(db) {
      const result = await appendOf(context, prepared).run(db);
      const [clock] = await db.query<{ now: Date }>("select now() as now");
      const stored = pending.map((e, i) => ({
        ...e,
        globalSeq: result.globalSeqs[i]!,
        createdAt: clock!.now,
      }));
      const { state, version } = foldEnvelopes(aggregate, loaded, stored);
      const json = snapshotJson(aggregate, state);
      await writeSnapshot(
        db,
        context,
        aggregate as Aggregate<unknown>,
        prepared.streamId,
        version,
        json,
      );
      return result;
    },
  };
}

/**
 * Plans a commit on top of a loaded state: the stream must still be at
 * `loaded.version`; the validator sees the state after the events; with
 * `every`, a snapshot is due when the new version crosses a multiple of it.
 *
 * @param parts The repository's store, aggregate and validator.
 * @param streamId The stream.
 * @param loaded The state the events build on.
 * @param events The events.
 * @param options Headers and ids of the append.
 * @param every Snapshot interval, when snapshotting.
 * @returns The write.
 * @throws {TypeError} For a malformed id, loaded state or event.
 * @throws {RillflowError} `INVALID_INPUT` (or the validator's own) when the validator rejects.
 */
export async function planCommitFor<S>(
  parts: AggregateParts<S>,
  streamId: string,
  loaded: LoadedAggregate<S>,
  events: readonly NewEvent[],
  options: AppendOptions,
  every?: number,
): Promise<AggregateWrite> {
  if (loaded === null || typeof loaded !== "object" || !Number.isSafeInteger(loaded.version)) {
    throw new TypeError("loaded must be what load() or loadWithSnapshot() returned");
  }
  const { context, aggregate, validator } = parts;
  const prepared = prepareAppend(
    context,
    streamId,
    Expected.exact(loaded.version),
    events,
    options,
  );
  const crosses = every !== undefined &&
    Math.floor((loaded.version + events.length) / every) > Math.floor(loaded.version / every);
  if (!validator && !crosses) return plainWrite(context, aggregate as Aggregate<unknown>, prepared);
  const pending = await pendingEnvelopes(context, streamId, loaded.version, events, options);
  if (validator) {
    const { state } = foldEnvelopes(aggregate, loaded, pending);
    runValidator(aggregate, streamId, validator, state);
  }
  return crosses
    ? snapshotWrite(parts, loaded, pending, prepared)
    : plainWrite(context, aggregate as Aggregate<unknown>, prepared);
}

/**
 * Plans a commit against an expected version. With a validator the state is
 * loaded (snapshot + tail) and the write expects the exact version validated
 * against.
 *
 * @param parts The repository's store, aggregate and validator.
 * @param streamId The stream.
 * @param expected What the stream's version must be.
 * @param events The events.
 * @param options Headers and ids of the append.
 * @returns The write.
 * @throws {RillflowError} `CONCURRENCY_CONFLICT` when the loaded version does not
 *   satisfy `expected`; `INVALID_INPUT` when the validator rejects.
 */
export async function planCommit<S>(
  parts: AggregateParts<S>,
  streamId: string,
  expected: ExpectedVersion,
  events: readonly NewEvent[],
  options: AppendOptions,
): Promise<AggregateWrite> {
  const { context, aggregate } = parts;
  const prepared = prepareAppend(context, streamId, expected, events, options);
  if (!parts.validator) return plainWrite(context, aggregate as Aggregate<unknown>, prepared);
  const loaded = await loadAggregate(context, aggregate, streamId, true);
  if (!satisfies(expected, loaded.version)) throw conflict(streamId, expected, loaded.version);
  return planCommitFor(parts, streamId, loaded, events, options);
}
