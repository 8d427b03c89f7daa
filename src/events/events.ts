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
import { ENVELOPE_COLUMNS, type EventEnvelope, type EventRow, toEnvelope } from "./envelope.ts";
import { type AppendOptions, type AppendResult, prepareAppend, runAppend } from "./append.ts";
import { readWatermark, type Watermark } from "./watermark.ts";
import { instrumentAppend } from "../observability/instrument.ts";

/** Options of {@linkcode Events.readAll}. */
export interface ReadAllOptions {
  /** Read events after this global position (default 0: from the start). */
  after?: number;
  /** At most this many events (default 1000). */
  limit?: number;
  /** Only these event types. */
  eventTypes?: string[];
}

function nonNegativeInteger(value: number | undefined, name: string, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
  return result;
}

/** The stored types to select for `types`: renamed legacy types included. */
function storedTypes(context: StoreContext, types: string[]): readonly string[] {
  return context.settings.upcasters?.storedTypesFor(types) ?? types;
}

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

  /**
   * Created by the store; use `store.events`.
   *
   * @param context The store's context.
   */
  constructor(context: StoreContext) {
    this.#context = context;
  }

  /**
   * Appends events to a stream if its version matches `expected`, in one statement
   * (version check, stream bump and insert together: two racing writers with the
   * same expectation cannot both win).
   *
   * @param streamId The stream (a UUID).
   * @param expected What the stream's version must be.
   * @param events The events, at least one.
   * @param options Headers, causation and correlation ids.
   * @returns The new stream version and the global positions written.
   * @throws {RillflowError} `CONCURRENCY_CONFLICT` with `details.expected` and `details.actual`;
   *   `STREAM_ARCHIVED` when the stream is archived.
   * @throws {TypeError} For a malformed stream id, expectation or event; nothing is written.
   */
  append(
    streamId: string,
    expected: ExpectedVersion,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    const prepared = prepareAppend(this.#context, streamId, expected, events, options);
    return instrumentAppend(() => runAppend(this.#context.executor, this.#context, prepared));
  }

  /**
   * The stream's current version.
   *
   * @param streamId The stream.
   * @returns The version; 0 when the stream does not exist.
   */
  async streamVersion(streamId: string): Promise<number> {
    assertUuid(streamId, "stream id");
    const [row] = await this.#context.executor.query<{ version: number }>(
      `select version from ${this.#context.table("streams")} where stream_id = $1`,
      [streamId],
    );
    return row?.version ?? 0;
  }

  /**
   * Reads a stream's events in order.
   *
   * @param streamId The stream.
   * @returns The envelopes, oldest first; empty when the stream does not exist.
   */
  async readStream(streamId: string): Promise<EventEnvelope[]> {
    assertUuid(streamId, "stream id");
    const rows = await this.#context.executor.query<EventRow>(
      `select ${ENVELOPE_COLUMNS} from ${this.#context.table("events")}
        where stream_id = $1 order by stream_seq`,
      [streamId],
    );
    return this.#context.settings.upcast(rows.map(toEnvelope));
  }

  /**
   * Reads events of all streams in ascending `globalSeq`, never past the
   * watermark: an event whose transaction is still open cannot be skipped by a
   * reader that resumes from the last position it saw.
   *
   * SQL: the watermark query, then `select … from events where global_seq > $after
   * and global_seq <= $watermark [and type = any($types)] order by global_seq limit $limit`.
   *
   * @param options Start position, limit and type filter.
   * @returns The envelopes, possibly fewer than `limit` while appends are in flight.
   * @throws {RangeError} For a negative or non-integer `after` or `limit`.
   */
  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    const after = nonNegativeInteger(options.after, "after", 0);
    const limit = nonNegativeInteger(options.limit, "limit", 1000);
    const types = options.eventTypes;
    if (
      types !== undefined && (!Array.isArray(types) || types.some((t) => typeof t !== "string"))
    ) {
      throw new TypeError("eventTypes must be an array of strings");
    }
    const { executor } = this.#context;
    const { position } = await readWatermark(executor, this.#context);
    if (position <= after || limit === 0) return [];
    const rows = await executor.query<EventRow>(
      `select ${ENVELOPE_COLUMNS} from ${this.#context.table("events")}
        where global_seq > $1 and global_seq <= $2 and ($3::text[] is null or type = any($3::text[]))
        order by global_seq limit $4`,
      [after, position, types ? storedTypes(this.#context, types) : null, limit],
    );
    const envelopes = await this.#context.settings.upcast(rows.map(toEnvelope));
    return types ? envelopes.filter((e) => types.includes(e.type)) : envelopes;
  }

  /**
   * The position up to which readers may safely read, and what holds it back.
   *
   * @returns The position, how long it has been held back and by which backends.
   */
  watermark(): Promise<Watermark> {
    return readWatermark(this.#context.executor, this.#context);
  }
}

export type { AppendOptions, AppendResult };
