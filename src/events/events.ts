/**
 * Append-only event streams: appends checked against an expected version
 * inside the inserting statement, and reads.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import { assertUuid } from "../ids.ts";
import { assertExpected, describeExpected, type ExpectedVersion } from "./expected.ts";
import { type NewEvent, serializeEventData } from "./new_event.ts";
import { ENVELOPE_COLUMNS, type EventEnvelope, type EventRow, toEnvelope } from "./envelope.ts";

/** Options of an append. */
export interface AppendOptions {
  /** Headers stored with every event of the append. */
  headers?: Record<string, unknown>;
  /** The id of the message that caused these events. */
  causationId?: string;
  /** The id correlating these events with a wider conversation. */
  correlationId?: string;
}

/** What an append wrote. */
export interface AppendResult {
  /** The stream's version after the append. */
  readonly streamVersion: number;
  /** The global positions of the appended events, in order. */
  readonly globalSeqs: number[];
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
   * Appends events to a stream if its version matches `expected`, in one statement.
   *
   * @param streamId The stream (a UUID).
   * @param expected What the stream's version must be.
   * @param events The events, at least one.
   * @param options Headers, causation and correlation ids.
   * @returns The new stream version and the global positions written.
   * @throws {RillflowError} `CONCURRENCY_CONFLICT` with `details.expected` and `details.actual`.
   * @throws {TypeError} For a malformed stream id, expectation or event.
   */
  async append(
    streamId: string,
    expected: ExpectedVersion,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    assertUuid(streamId, "stream id");
    assertExpected(expected);
    if (!Array.isArray(events) || events.length === 0) {
      throw new TypeError("append() needs at least one event");
    }
    const types = events.map((e) => e.type);
    const datas = events.map((e) => serializeEventData(e.type, e.data));
    const versions = events.map((e) => e.version);
    const headers = JSON.stringify({
      ...this.#context.settings.sessionHeaders,
      ...options.headers,
    });
    const insertable = expected.kind === "any" || expected.kind === "noStream" ||
      (expected.kind === "exact" && expected.version === 0);
    const exact = expected.kind === "exact" ? expected.version : null;
    const { table } = this.#context;
    const rows = await this.#context.executor.query<{ global_seq: number; stream_seq: number }>(
      `with bumped as (
         update ${table("streams")} set version = version + $2, updated_at = now()
          where stream_id = $1 and not $3::boolean and ($4::int is null or version = $4::int)
         returning version
       ), created as (
         insert into ${table("streams")} as s (stream_id, version)
         select $1, $2 where $3::boolean
         on conflict (stream_id) do update set version = s.version + $2, updated_at = now()
          where $5::boolean
         returning version
       ), stream as (select version from bumped union all select version from created)
       insert into ${table("events")}
         (stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version)
       select $1, stream.version - $2 + e.ord, e.type, e.data::jsonb, $9::jsonb, $10, $11, e.version
         from stream, unnest($6::text[], $7::text[], $8::int[]) with ordinality as e(type, data, version, ord)
       order by e.ord
       returning global_seq, stream_seq`,
      [
        streamId,
        events.length,
        insertable,
        exact,
        expected.kind === "any",
        types,
        datas,
        versions,
        headers,
        options.causationId ?? this.#context.settings.causationId ?? null,
        options.correlationId ?? this.#context.settings.correlationId ?? null,
      ],
    );
    if (rows.length === 0) {
      const actual = await this.streamVersion(streamId);
      throw new RillflowError(
        "CONCURRENCY_CONFLICT",
        `Cannot append to stream "${streamId}": expected ${
          describeExpected(expected)
        } but found version ${actual}`,
        { details: { streamId, expected: describeExpected(expected), actual } },
      );
    }
    return {
      streamVersion: rows[rows.length - 1]!.stream_seq,
      globalSeqs: rows.map((row) => row.global_seq),
    };
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
    return rows.map(toEnvelope);
  }
}
