/**
 * {@linkcode AggregateRepository}: load an aggregate's state from its stream,
 * validate and commit new events, snapshot as the stream grows.
 *
 * @module
 */
import { contextOf, type StoreContext } from "../_context.ts";
import type { Store } from "../store.ts";
import { isRillflowError } from "../errors.ts";
import { assertUuid } from "../ids.ts";
import {
  type Aggregate,
  assertAggregate,
  foldEnvelopes,
  type LoadedAggregate,
} from "./aggregate.ts";
import {
  type AggregateValidator,
  appendForAggregate,
  appendWithSnapshot,
  conflict,
  pendingEnvelopes,
  runValidator,
  satisfies,
} from "./aggregate_commit.ts";
import { loadAggregate } from "./aggregate_load.ts";
import { type AppendOptions, type AppendResult, prepareAppend } from "./append.ts";
import { Expected, type ExpectedVersion } from "./expected.ts";
import type { NewEvent } from "./new_event.ts";
import type { EventEnvelope } from "./envelope.ts";

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

/** How often a validated `commit` with `Expected.any` reloads after losing a race. */
const ANY_ATTEMPTS = 3;

/**
 * Loads and commits one aggregate type. Streams it creates are recorded as
 * the aggregate's, for the {@linkcode Snapshotter}.
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
  readonly #context: StoreContext;
  readonly #aggregate: Aggregate<S>;
  readonly #validator?: AggregateValidator<S>;

  /**
   * Creates a repository for one aggregate.
   *
   * @param store A connected store.
   * @param aggregate How to fold the stream.
   * @param options The validator.
   * @throws {TypeError} For a malformed aggregate or a validator that is not a function.
   */
  constructor(
    store: Store,
    aggregate: Aggregate<S>,
    options: AggregateRepositoryOptions<S> = {},
  ) {
    this.#context = contextOf(store);
    assertAggregate(aggregate);
    if (options.validator !== undefined && typeof options.validator !== "function") {
      throw new TypeError("validator must be a function");
    }
    this.#aggregate = aggregate;
    this.#validator = options.validator;
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
    return loadAggregate(this.#context, this.#aggregate, streamId, false);
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
    return loadAggregate(this.#context, this.#aggregate, streamId, true);
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
    const prepared = prepareAppend(this.#context, streamId, expected, events, options);
    if (!this.#validator) return appendForAggregate(this.#context, this.#aggregate, prepared);
    for (let attempt = 1;; attempt++) {
      const loaded = await this.loadWithSnapshot(streamId);
      if (!satisfies(expected, loaded.version)) throw conflict(streamId, expected, loaded.version);
      try {
        return await this.commitFor(streamId, loaded, events, options);
      } catch (error) {
        const retry = expected.kind === "any" && attempt < ANY_ATTEMPTS &&
          isRillflowError(error, "CONCURRENCY_CONFLICT");
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
    const prepared = this.#prepareFor(streamId, loaded, events, options);
    if (this.#validator) {
      const pending = await pendingEnvelopes(
        this.#context,
        streamId,
        loaded.version,
        events,
        options,
      );
      this.#validate(streamId, loaded, pending);
    }
    return appendForAggregate(this.#context, this.#aggregate, prepared);
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
    const crosses = Math.floor((loaded?.version + events?.length) / every) >
      Math.floor(loaded?.version / every);
    if (!crosses) return this.commitFor(streamId, loaded, events, options);
    const prepared = this.#prepareFor(streamId, loaded, events, options);
    const context = this.#context;
    const pending = await pendingEnvelopes(context, streamId, loaded.version, events, options);
    this.#validate(streamId, loaded, pending);
    return context.executor.transaction((tx) =>
      appendWithSnapshot(tx, context, this.#aggregate, loaded, pending, prepared)
    );
  }

  #prepareFor(
    streamId: string,
    loaded: LoadedAggregate<S>,
    events: readonly NewEvent[],
    options: AppendOptions,
  ) {
    assertUuid(streamId, "stream id");
    if (loaded === null || typeof loaded !== "object" || !Number.isSafeInteger(loaded.version)) {
      throw new TypeError("loaded must be what load() or loadWithSnapshot() returned");
    }
    return prepareAppend(this.#context, streamId, Expected.exact(loaded.version), events, options);
  }

  #validate(streamId: string, loaded: LoadedAggregate<S>, pending: readonly EventEnvelope[]) {
    if (!this.#validator) return;
    const { state } = foldEnvelopes(this.#aggregate, loaded, pending);
    runValidator(this.#aggregate, streamId, this.#validator, state);
  }
}
