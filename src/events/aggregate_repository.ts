/**
 * {@linkcode AggregateRepository}: load an aggregate's state from its stream,
 * validate and commit new events, snapshot as the stream grows.
 *
 * @module
 */
import { retryingRaces } from "./append_recovery.ts";
import { notifyAppended } from "./notify.ts";
import { instrumentAppend } from "../telemetry/instrument.ts";
import { contextOf, routedContext, type StoreContext, type StoreRef } from "../_context.ts";
import { isRillflowError } from "../errors.ts";
import { type Aggregate, assertAggregate, type LoadedAggregate } from "./aggregate.ts";
import type { AggregateValidator } from "./aggregate_commit.ts";
import { loadAggregate } from "./aggregate_load.ts";
import {
  type AggregateParts,
  type AggregateWrite,
  planCommit,
  planCommitFor,
} from "./aggregate_plan.ts";
import type { AppendOptions, AppendResult } from "./append_input.ts";
import type { ExpectedVersion } from "./expected.ts";
import type { NewEvent } from "./new_event.ts";

/** Options of an {@linkcode AggregateRepository}. */
export interface AggregateRepositoryOptions<S> {
  /**
   * Checks the state after the new events of a commit; throw to reject it
   * (nothing is written). A thrown RillflowError passes through as is; any
   * other error becomes `INVALID_INPUT` with it as `cause`.
   */
  validator?: AggregateValidator<S>;
}

/** Options of {@linkcode AggregateRepository.commitAndSnapshot}. */
export interface CommitAndSnapshotOptions extends AppendOptions {
  /** Snapshot when the stream version crosses a multiple of this (a positive integer). */
  every: number;
}

let partsOf: <S>(repository: AggregateRepository<S>, context?: StoreContext) => AggregateParts<S>;

/** How often a validated `commit` with `Expected.any` reloads after losing a race. */
const ANY_ATTEMPTS = 3;

/**
 * Loads and commits one aggregate type. Streams it creates are recorded as
 * the aggregate's, for the {@linkcode Snapshotter}. Under schema-per-tenant,
 * every call works in the current tenant's schema (the store's `forTenant`
 * view, or its tenancy resolver at the time of the call).
 *
 * @example Load, decide, commit
 * ```ts
 * import { type Aggregate, AggregateRepository, event, Store } from "@rillflow/rillflow";
 *
 * const Counter: Aggregate<{ count: number }> = {
 *   name: "counter",
 *   initialState: () => ({ count: 0 }),
 *   evolve: (s, e) => (e.type === "Incremented" ? { count: s.count + 1 } : s),
 * };
 * await using store = await Store.connect("pglite://memory");
 * const counters = new AggregateRepository(store, Counter, {
 *   validator: (s) => { if (s.count > 10) throw new Error("a counter stops at 10"); },
 * });
 * const id = crypto.randomUUID();
 * const loaded = await counters.load(id);                       // { state: { count: 0 }, version: 0 }
 * await counters.commitFor(id, loaded, [event("Incremented", {})]);
 * console.log(await counters.load(id));                         // { state: { count: 1 }, version: 1 }
 * ```
 */
export class AggregateRepository<S> {
  readonly #store: StoreRef;
  readonly #aggregate: Aggregate<S>;
  readonly #validator?: AggregateValidator<S>;

  static {
    partsOf = (repository, context) => repository.#parts(context);
  }

  /**
   * Creates a repository for one aggregate.
   *
   * @param store A connected store.
   * @param aggregate How to fold the stream.
   * @param options The validator.
   * @throws {TypeError} For a malformed aggregate or a validator that is not a function.
   */
  constructor(
    store: StoreRef,
    aggregate: Aggregate<S>,
    options: AggregateRepositoryOptions<S> = {},
  ) {
    contextOf(store);
    assertAggregate(aggregate);
    if (options.validator !== undefined && typeof options.validator !== "function") {
      throw new TypeError("validator must be a function");
    }
    this.#store = store;
    this.#aggregate = aggregate;
    this.#validator = options.validator;
  }

  /** Store, aggregate and validator, routed to the current tenant (per call). */
  #parts(context: StoreContext = routedContext(this.#store)): AggregateParts<S> {
    return { context, aggregate: this.#aggregate, validator: this.#validator };
  }

  /** The aggregate this repository folds. */
  get aggregate(): Aggregate<S> {
    return this.#aggregate;
  }

  /**
   * Folds the whole stream.
   *
   * @param streamId The stream.
   * @returns The state and the stream version (0 and the initial state when it has no events).
   * @throws {TypeError} For a malformed stream id.
   * @throws {RillflowError} `UPCASTING_FAILED` when an event cannot be upcast.
   */
  load(streamId: string): Promise<LoadedAggregate<S>> {
    return loadAggregate(routedContext(this.#store), this.#aggregate, streamId, false);
  }

  /**
   * Starts from the aggregate's latest snapshot (of its current schema version)
   * and folds the events after it: the same result as {@linkcode load}.
   *
   * @param streamId The stream.
   * @returns The state and the stream version.
   * @throws {TypeError} For a malformed stream id.
   */
  loadWithSnapshot(streamId: string): Promise<LoadedAggregate<S>> {
    return loadAggregate(routedContext(this.#store), this.#aggregate, streamId, true);
  }

  /**
   * Appends events if the stream is at `expected`. With a validator, the state
   * is loaded, the events applied and the validator run first; the append then
   * expects the exact version validated against (with `Expected.any`, a lost
   * race reloads and validates again, up to three times).
   *
   * @param streamId The stream.
   * @param expected What the stream's version must be.
   * @param events The events, at least one.
   * @param options Headers and ids of the append.
   * @returns The new stream version and global positions.
   * @throws {RillflowError} `CONCURRENCY_CONFLICT`; `INVALID_INPUT` (or the
   *   validator's own RillflowError) when the validator rejects; nothing is written.
   * @throws {TypeError} For a malformed id, expectation or event.
   */
  async commit(
    streamId: string,
    expected: ExpectedVersion,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    const parts = this.#parts();
    for (let attempt = 1;; attempt++) {
      const write = await planCommit(parts, streamId, expected, events, options);
      try {
        return await this.#write(parts, write);
      } catch (error) {
        const retry = this.#validator !== undefined && expected.kind === "any" &&
          attempt < ANY_ATTEMPTS && isRillflowError(error, "CONCURRENCY_CONFLICT");
        if (!retry) throw error;
      }
    }
  }

  /**
   * Appends events on top of a state loaded earlier; the stream must still be
   * at `loaded.version`. The validator sees `loaded.state` with the events applied.
   *
   * @param streamId The stream.
   * @param loaded What {@linkcode load} or {@linkcode loadWithSnapshot} returned.
   * @param events The events, at least one.
   * @param options Headers and ids of the append.
   * @returns The new stream version and global positions.
   * @throws {RillflowError} `CONCURRENCY_CONFLICT` when the stream moved on;
   *   `INVALID_INPUT` when the validator rejects; nothing is written.
   */
  async commitFor(
    streamId: string,
    loaded: LoadedAggregate<S>,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    const parts = this.#parts();
    return this.#write(parts, await planCommitFor(parts, streamId, loaded, events, options));
  }

  /**
   * Like {@linkcode commitFor}, and when the new stream version crosses a
   * multiple of `every` (e.g. from 98 to 101 with `every: 100`), writes a
   * snapshot of the new state in the same transaction as the append.
   *
   * @param streamId The stream.
   * @param loaded The state the events build on.
   * @param events The events, at least one.
   * @param options `every`, plus the append's headers and ids.
   * @returns The new stream version and global positions.
   * @throws {RangeError} When `every` is not a positive integer.
   * @throws {RillflowError} As {@linkcode commitFor}; nothing is written.
   */
  async commitAndSnapshot(
    streamId: string,
    loaded: LoadedAggregate<S>,
    events: readonly NewEvent[],
    options: CommitAndSnapshotOptions,
  ): Promise<AppendResult> {
    const every = options?.every;
    if (!Number.isSafeInteger(every) || every < 1) {
      throw new RangeError(`every must be a positive integer, got ${every}`);
    }
    const parts = this.#parts();
    const write = await planCommitFor(parts, streamId, loaded, events, options, every);
    return this.#write(parts, write);
  }

  async #write(parts: AggregateParts<S>, write: AggregateWrite): Promise<AppendResult> {
    const { context } = parts;
    const result = await instrumentAppend(() =>
      retryingRaces(
        context,
        () =>
          write.needsTransaction
            ? context.executor.transaction((tx) => write.run(tx))
            : write.run(context.executor),
      )
    );
    notifyAppended(parts.context);
    return result;
  }
}

/**
 * The store, aggregate and validator of a repository, for planning its commits
 * inside another unit of work (a session's transaction). Internal.
 *
 * @param repository The repository.
 * @param context The unit of work's context (a session's tenant); the
 *   repository's store, routed to the current tenant, by default.
 * @returns Its parts.
 */
export function aggregateParts<S>(
  repository: AggregateRepository<S>,
  context?: StoreContext,
): AggregateParts<S> {
  return partsOf(repository, context);
}
