/**
 * The event side of a document session: appends and aggregate commits staged
 * by `session.enqueueEvent` and `session.aggregates(repo)`, written in the
 * session's one `saveChanges()` transaction together with its documents.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import type { InternalTx } from "../db/executor.ts";
import { type AppendOptions, prepareAppend } from "../events/append_input.ts";
import { appendInTransaction } from "../events/append.ts";
import type { ExpectedVersion } from "../events/expected.ts";
import type { NewEvent } from "../events/new_event.ts";
import { notifyAppended } from "../events/notify.ts";
import { recordAppend } from "../telemetry/metrics.ts";
import type { LoadedAggregate } from "../events/aggregate.ts";
import { aggregateParts, type AggregateRepository } from "../events/aggregate_repository.ts";
import { type AggregateWrite, planCommit, planCommitFor } from "../events/aggregate_plan.ts";

/** A change a session runs inside `saveChanges()`'s transaction. */
export interface StagedEventOperation {
  /** Work done before the transaction starts (validation, loading state). */
  prepare?(): Promise<void>;
  /**
   * Runs the change in the transaction.
   *
   * @param tx The session's transaction.
   * @param retry Whether this runs again after an append lost a race (appends then take their
   *   stream's advisory lock first).
   */
  execute(tx: InternalTx, retry?: boolean): Promise<void>;
  /** Called once the transaction has committed. */
  committed?(): void;
}

/**
 * An append staged in a session: validated now (bad input throws at once and
 * stages nothing); runs with inline projections in the session's transaction.
 *
 * @param context The session's context.
 * @param defaults The session's headers and ids.
 * @param streamId The stream.
 * @param expected The expected version, checked when the transaction runs.
 * @param event The event.
 * @returns The staged operation.
 */
export function stagedAppend(
  context: StoreContext,
  defaults: AppendOptions,
  streamId: string,
  expected: ExpectedVersion,
  event: NewEvent,
): StagedEventOperation {
  const prepared = prepareAppend(context, streamId, expected, [event], defaults);
  return {
    execute: async (tx, retry) =>
      void await appendInTransaction(tx, context, prepared, {
        advisoryLock: context.settings.advisoryLocks || retry === true,
      }),
    committed: () => appendCommitted(context, 1),
  };
}

/**
 * After the session's transaction committed: counted in the append metrics
 * (the commit as a whole is traced and timed as `session_commit`) and
 * announced to readers.
 */
function appendCommitted(context: StoreContext, events: number): void {
  recordAppend(events);
  notifyAppended(context);
}

/** What `session.aggregates(repo)` returns. */
export interface SessionAggregates<S> {
  /**
   * Stages a commit against an expected version (validated in `saveChanges()`).
   *
   * @param streamId The stream.
   * @param expected What the stream's version must be.
   * @param events The events.
   */
  commit(streamId: string, expected: ExpectedVersion, events: NewEvent[]): void;
  /**
   * Stages a commit on a loaded state, with a snapshot in the same transaction when the
   * version crosses a multiple of `every`.
   *
   * @param streamId The stream.
   * @param loaded What the repository's `load` returned.
   * @param events The events.
   * @param options `every`: the snapshot interval.
   */
  commitAndSnapshot(
    streamId: string,
    loaded: LoadedAggregate<S>,
    events: NewEvent[],
    options: { every: number },
  ): void;
}

/**
 * Aggregate commits staged in a session: planned (validator run, state loaded)
 * before the transaction, written inside it.
 *
 * @param context The session's context.
 * @param defaults The session's headers and ids.
 * @param repository The aggregate's repository.
 * @param stage Adds an operation to the session.
 * @returns The staging functions.
 */
export function sessionAggregates<S>(
  context: StoreContext,
  defaults: AppendOptions,
  repository: AggregateRepository<S>,
  stage: (operation: StagedEventOperation) => void,
): SessionAggregates<S> {
  const parts = aggregateParts(repository, context);
  const staged = (plan: () => Promise<AggregateWrite>): StagedEventOperation => {
    let write: AggregateWrite | undefined;
    let written = 0;
    return {
      prepare: async () => void (write = await plan()),
      execute: async (tx) => void (written = (await write!.run(tx)).globalSeqs.length),
      committed: () => appendCommitted(context, written),
    };
  };
  return {
    commit(streamId, expected, events) {
      prepareAppend(context, streamId, expected, events, defaults); // bad input throws now
      stage(staged(() => planCommit(parts, streamId, expected, events, defaults)));
    },
    commitAndSnapshot(streamId, loaded, events, options) {
      const every = options?.every;
      if (!Number.isSafeInteger(every) || every < 1) {
        throw new RangeError(`every must be a positive integer, got ${every}`);
      }
      prepareAppend(context, streamId, { kind: "any" }, events, defaults);
      stage(staged(() => planCommitFor(parts, streamId, loaded, events, defaults, every)));
    },
  };
}
