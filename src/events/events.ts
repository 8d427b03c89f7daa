/**
 * Append-only event streams: appends checked against an expected version
 * inside the inserting statement, stream reads and the no-skip global read.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { assertUuid } from "../ids.ts";
import type { ExpectedVersion } from "./expected.ts";
import type { NewEvent } from "./new_event.ts";
import type { EventEnvelope } from "./envelope.ts";
import { type AppendOptions, type AppendResult, prepareAppend } from "./append_input.ts";
import { appendPlanned } from "./append.ts";
import { AppendBuilder } from "./builder.ts";
import { notifyAppended } from "./notify.ts";
import {
  iterateAllEvents,
  type IterateAllOptions,
  iterateStreamEvents,
  type IterateStreamOptions,
  readAllEvents,
  type ReadAllOptions,
  readStreamEvents,
  type ReadStreamOptions,
  readStreamVersion,
} from "./reads.ts";
import { readWatermark, type Watermark } from "./watermark.ts";
import { instrumentAppend } from "../telemetry/instrument.ts";

/**
 * The event store of a {@linkcode Store}, reached as `store.events`.
 *
 * @example Append and read back
 * ```ts
 * import { event, Expected, Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory");
 * const streamId = crypto.randomUUID();
 * await store.events.append(streamId, Expected.noStream, [event("OrderPlaced", { orderId: 42 })]);
 * const [placed] = await store.events.readStream(streamId);
 * console.log(placed?.type, placed?.streamSeq); // OrderPlaced 1
 * ```
 */
export class Events {
  readonly #context: StoreContext;
  readonly #advisoryLocks: boolean;

  /**
   * Created by the store; use `store.events`.
   *
   * @param context The store's context.
   * @param options Whether appends take the stream's advisory lock (default: the store's
   *   `session.advisoryLocks`).
   */
  constructor(context: StoreContext, options: { advisoryLocks?: boolean } = {}) {
    this.#context = context;
    this.#advisoryLocks = options.advisoryLocks ?? context.settings.advisoryLocks;
  }

  /**
   * Appends events to a stream if its version matches `expected`, in one statement
   * (version check, stream bump and insert together: two racing writers with the
   * same expectation cannot both win). With inline projections for these event
   * types, or advisory locks, the append runs in a transaction with them.
   *
   * SQL (`Expected.exact(n)`, one event): `insert into events … select $1, $n + 1, …
   * where <watermark lock> and exists (<version n>) and not exists (<archive mark>) returning
   * global_seq, stream_seq`; batches, keys and categories use one CTE template
   * (docs/internals/append.md). A writer that read the same version fails on the
   * `(stream_id, stream_seq)` unique index; for `Expected.any` and `Expected.streamExists` the
   * append then runs again, taking the stream's advisory lock first. Concurrent `Expected.any`
   * appends of this store to one stream go together in one statement.
   *
   * @param streamId The stream (a UUID).
   * @param expected What the stream's version must be.
   * @param events The events, at least one.
   * @param options Headers, causation and correlation ids, idempotency key, category.
   * @returns The new stream version and the global positions written.
   * @throws {RillflowError} `CONCURRENCY_CONFLICT` with `details.expected` and `details.actual`;
   *   `IDEMPOTENCY_CONFLICT` naming the key; `STREAM_ARCHIVED`; `INVALID_INPUT` for data
   *   violating a registered schema or a category other than the stream's.
   * @throws {TypeError} For a malformed stream id, expectation, event or option; nothing is
   *   written.
   */
  async append(
    streamId: string,
    expected: ExpectedVersion,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    const context = this.#context;
    const prepared = prepareAppend(context, streamId, expected, events, options);
    const result = await instrumentAppend(() =>
      appendPlanned(context, prepared, this.#advisoryLocks)
    );
    notifyAppended(context);
    return result;
  }

  /**
   * Starts a fluent, immutable append builder for a stream.
   *
   * @param streamId The stream (checked when the append is sent).
   * @returns A builder; see {@linkcode AppendBuilder}.
   */
  builder(streamId: string): AppendBuilder {
    return new AppendBuilder(
      (id, expected, events, options) => this.append(id, expected, events, options),
      streamId,
    );
  }

  /**
   * The stream's current version.
   *
   * SQL: `select coalesce(max(stream_seq), 0) from events where stream_id = $1` (one probe of
   * the `(stream_id, stream_seq)` index).
   *
   * @param streamId The stream.
   * @returns The version (its highest `streamSeq`); 0 when the stream has no events.
   * @throws {TypeError} For a malformed stream id.
   */
  async streamVersion(streamId: string): Promise<number> {
    assertUuid(streamId, "stream id");
    return await readStreamVersion(this.#context.executor, this.#context, streamId);
  }

  /**
   * Reads a stream's events: the versions `fromVersion`…`toVersion` (default all),
   * oldest first or, with `direction: "backward"`, newest first; `limit` keeps the
   * first events in that direction.
   *
   * SQL: `select … from events where stream_id = $1 and stream_seq >= $2 and stream_seq <= $3
   * order by stream_seq [desc] limit $4`.
   *
   * @param streamId The stream.
   * @param options Range, direction and limit.
   * @returns The envelopes; empty when the stream does not exist.
   * @throws {TypeError} For a malformed stream id or direction.
   * @throws {RangeError} For a negative or non-integer bound or limit.
   */
  readStream(streamId: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    return readStreamEvents(this.#context, streamId, options);
  }

  /**
   * Reads events of all streams in ascending `globalSeq`, never past the
   * watermark: an event whose transaction is still open cannot be skipped by a
   * reader that resumes from the last position it saw.
   *
   * SQL: the watermark query, then `select … from events where global_seq > $after
   * and global_seq <= $watermark [and <type after upcasting> = any($types)] order by global_seq
   * limit $limit`: an event an upcaster renames is selected under its new type only.
   *
   * @param options Start position, limit (default 1000) and type filter.
   * @returns The envelopes, possibly fewer than `limit` while appends are in flight.
   * @throws {RangeError} For a negative or non-integer `after` or `limit`.
   * @throws {TypeError} For an `eventTypes` that is not an array of strings.
   */
  readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    return readAllEvents(this.#context, options);
  }

  /**
   * Iterates over a stream in pages of `batchSize` events (default 500): memory
   * stays bounded however long the stream.
   *
   * @example
   * ```ts
   * import { Store } from "@rillflow/rillflow";
   *
   * await using store = await Store.connect("pglite://memory");
   * for await (const envelope of store.events.iterateStream(crypto.randomUUID())) {
   *   console.log(envelope.streamSeq);
   * }
   * ```
   *
   * @param streamId The stream.
   * @param options First version and page size.
   * @returns An async iterable of envelopes, oldest first.
   * @throws {TypeError} For a malformed stream id.
   * @throws {RangeError} For a bad `fromVersion` or `batchSize`.
   */
  iterateStream(
    streamId: string,
    options: IterateStreamOptions = {},
  ): AsyncIterable<EventEnvelope> {
    return iterateStreamEvents(this.#context, streamId, options);
  }

  /**
   * Iterates over all streams in global order through the watermark reader, in
   * pages of `batchSize` events (default 500), until caught up with the
   * watermark.
   *
   * @param options Start position, page size and type filter.
   * @returns An async iterable of envelopes in ascending `globalSeq`.
   * @throws {RangeError} For a bad `after` or `batchSize`.
   * @throws {TypeError} For an `eventTypes` that is not an array of strings.
   */
  iterateAll(options: IterateAllOptions = {}): AsyncIterable<EventEnvelope> {
    return iterateAllEvents(this.#context, options);
  }

  /**
   * The position up to which readers may safely read, and what holds it back.
   *
   * @returns The position, how long it has been held back and by which backends.
   */
  watermark(): Promise<Watermark> {
    return readWatermark(this.#context.executor, this.#context);
  }

  /**
   * A view of the event store whose appends first take a transaction-level
   * advisory lock on their stream (`pg_advisory_xact_lock`), so concurrent
   * writers of one stream wait for each other instead of racing in the append
   * statement; the expected version is then checked against the latest
   * committed version. The same as `session: { advisoryLocks: true }`.
   *
   * @returns The view (reads are unchanged).
   */
  withAdvisoryLocks(): Events {
    return new Events(this.#context, { advisoryLocks: true });
  }
}

export type { AppendOptions, AppendResult };
