/**
 * Stream reads and the no-skip global read, and the async iterators that page
 * through them in bounded memory.
 *
 * @module
 */
import { eventSettings } from "./settings.ts";
import type { Queryable } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";
import { assertUuid } from "../ids.ts";
import { ENVELOPE_SELECT, type EventEnvelope } from "./envelope.ts";
import { renameParams, seenTypeJoin, seenTypeSql } from "./type_filter.ts";
import { readWatermark } from "./watermark.ts";

/** Options of `events.readStream`. */
export interface ReadStreamOptions {
  /** The lowest stream version to read (default 1). */
  fromVersion?: number;
  /** The highest stream version to read (default: the last). */
  toVersion?: number;
  /** At most this many events (default: all in the range). */
  limit?: number;
  /**
   * `forward` (default): oldest first. `backward`: newest first, so with
   * `limit: n` the last n events of the range.
   */
  direction?: "forward" | "backward";
}

/** Options of `events.readAll`. */
export interface ReadAllOptions {
  /** Read events after this global position (default 0: from the start). */
  after?: number;
  /** At most this many events (default 1000). */
  limit?: number;
  /** Only these event types. */
  eventTypes?: string[];
}

/** Options of `events.iterateStream`. */
export interface IterateStreamOptions {
  /** The first stream version to yield (default 1). */
  fromVersion?: number;
  /** Events fetched per query (default 500). */
  batchSize?: number;
}

/** Options of `events.iterateAll`. */
export interface IterateAllOptions {
  /** Yield events after this global position (default 0). */
  after?: number;
  /** Events fetched per query (default 500). */
  batchSize?: number;
  /** Only these event types. */
  eventTypes?: string[];
}

const MAX_VERSION = 2147483647;
const DEFAULT_BATCH = 500;

function nonNegativeInteger(value: number | undefined, name: string, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
  return result;
}

function positiveInteger(value: number | undefined, name: string, fallback: number): number {
  const result = nonNegativeInteger(value, name, fallback);
  if (result === 0) throw new RangeError(`${name} must be a positive integer, got 0`);
  return result;
}

function assertEventTypes(types: unknown): asserts types is string[] | undefined {
  if (
    types !== undefined && (!Array.isArray(types) || types.some((t) => typeof t !== "string"))
  ) {
    throw new TypeError("eventTypes must be an array of strings");
  }
}

/**
 * A stream's version: its highest `stream_seq`, 0 without events.
 *
 * SQL: `select coalesce(max(stream_seq), 0) from events where stream_id = $1` (one probe of the
 * `(stream_id, stream_seq)` index).
 *
 * @param db Where to read.
 * @param context The store context.
 * @param streamId The stream.
 * @returns The version.
 */
export async function readStreamVersion(
  db: Queryable,
  context: StoreContext,
  streamId: string,
): Promise<number> {
  const [row] = await db.query<{ version: number }>(
    `select coalesce(max(stream_seq), 0) as version from ${context.table("events")}
      where stream_id = $1`,
    [streamId],
  );
  return row!.version;
}

/**
 * Reads a range of a stream.
 *
 * SQL: `select … from events where stream_id = $1 and stream_seq between $2 and $3
 * order by stream_seq [desc] limit $4`.
 *
 * @param context The store context.
 * @param streamId The stream.
 * @param options Range, direction and limit.
 * @returns The envelopes (upcast), in the requested direction.
 * @throws {TypeError} For a malformed stream id or direction.
 * @throws {RangeError} For a negative or non-integer bound or limit.
 */
export async function readStreamEvents(
  context: StoreContext,
  streamId: string,
  options: ReadStreamOptions = {},
): Promise<EventEnvelope[]> {
  assertUuid(streamId, "stream id");
  const from = nonNegativeInteger(options.fromVersion, "fromVersion", 1);
  const to = Math.min(nonNegativeInteger(options.toVersion, "toVersion", MAX_VERSION), MAX_VERSION);
  const limit = options.limit === undefined ? null : nonNegativeInteger(options.limit, "limit", 0);
  const direction = options.direction ?? "forward";
  if (direction !== "forward" && direction !== "backward") {
    throw new TypeError(
      `direction must be "forward" or "backward", got ${JSON.stringify(direction)}`,
    );
  }
  if (limit === 0 || from > to) return [];
  const envelopes = await context.executor.query<EventEnvelope>(
    `select ${ENVELOPE_SELECT} from ${context.table("events")}
      where stream_id = $1 and stream_seq >= $2 and stream_seq <= $3
      order by stream_seq ${direction === "forward" ? "asc" : "desc"} limit $4`,
    [streamId, from, to, limit],
  );
  return eventSettings(context).upcast(envelopes);
}

/**
 * Reads events of all streams in ascending `globalSeq`, never past the watermark.
 *
 * SQL: the watermark query, then `select … from events where global_seq > $after
 * and global_seq <= $watermark [and <type after upcasting> = any($types)] order by global_seq
 * limit $limit` (see type_filter.ts: an event renamed by an upcaster is read under its new type).
 *
 * @param context The store context.
 * @param options Start position, limit and type filter.
 * @returns The envelopes (upcast).
 * @throws {RangeError} For a negative or non-integer `after` or `limit`.
 * @throws {TypeError} For an `eventTypes` that is not an array of strings.
 */
export async function readAllEvents(
  context: StoreContext,
  options: ReadAllOptions = {},
): Promise<EventEnvelope[]> {
  const after = nonNegativeInteger(options.after, "after", 0);
  const limit = nonNegativeInteger(options.limit, "limit", 1000);
  assertEventTypes(options.eventTypes);
  return (await readAllPage(context, after, limit, options.eventTypes)).envelopes;
}

/**
 * One page of the global read, filtered by the types the events are read as
 * (after upcasting, see type_filter.ts).
 */
async function readAllPage(
  context: StoreContext,
  after: number,
  limit: number,
  types: readonly string[] | undefined,
): Promise<{ envelopes: EventEnvelope[]; last: number }> {
  const { position } = await readWatermark(context.executor, context);
  if (position <= after || limit === 0) return { envelopes: [], last: after };
  const rows = await readGlobalRange(context, after, position, limit, types);
  return {
    envelopes: await eventSettings(context).upcast(rows),
    last: rows.length > 0 ? rows[rows.length - 1]!.globalSeq : after,
  };
}

/**
 * The stored events after `after` and at most `upTo` (a watermark read in an
 * earlier statement), in global order, at most `limit`, whose type after
 * upcasting is one of `types` (all when undefined): not upcast yet. What
 * `readAll` and the projection daemon read.
 *
 * SQL: `select … from events where global_seq > $after and global_seq <= $upTo
 * [and <type after upcasting> = any($types)] order by global_seq limit $limit`.
 *
 * @param context The store context.
 * @param after The position to read after.
 * @param upTo The watermark.
 * @param limit At most this many.
 * @param types Only these types (as readers see them).
 * @returns The envelopes as stored.
 */
export function readGlobalRange(
  context: StoreContext,
  after: number,
  upTo: number,
  limit: number,
  types: readonly string[] | undefined,
): Promise<EventEnvelope[]> {
  return context.executor.query<EventEnvelope>(
    `select ${ENVELOPE_SELECT} from ${context.table("events")} e ${seenTypeJoin("e", 5)}
      where global_seq > $1 and global_seq <= $2
        and ($3::text[] is null or ${seenTypeSql("e")} = any($3::text[]))
      order by global_seq limit $4`,
    [after, upTo, types ?? null, limit, ...renameParams(context)],
  );
}

/**
 * Yields a stream's events oldest first, one page (`batchSize` events) in
 * memory at a time. Options are checked at the call, before any query.
 *
 * @param context The store context.
 * @param streamId The stream.
 * @param options Start version and page size.
 * @returns The envelopes.
 * @throws {TypeError} For a malformed stream id.
 * @throws {RangeError} For a bad `fromVersion` or `batchSize`.
 */
export function iterateStreamEvents(
  context: StoreContext,
  streamId: string,
  options: IterateStreamOptions = {},
): AsyncGenerator<EventEnvelope> {
  assertUuid(streamId, "stream id");
  const from = nonNegativeInteger(options.fromVersion, "fromVersion", 1);
  const batchSize = positiveInteger(options.batchSize, "batchSize", DEFAULT_BATCH);
  return streamPages(context, streamId, from, batchSize);
}

async function* streamPages(
  context: StoreContext,
  streamId: string,
  from: number,
  batchSize: number,
): AsyncGenerator<EventEnvelope> {
  while (true) {
    const page = await readStreamEvents(context, streamId, { fromVersion: from, limit: batchSize });
    yield* page;
    if (page.length < batchSize) return;
    from = page[page.length - 1]!.streamSeq + 1;
  }
}

/**
 * Yields the events of all streams in global order up to the watermark, one
 * page in memory at a time; each page reads the watermark afresh, and the
 * iteration ends at the first short page (caught up). Options are checked at
 * the call, before any query.
 *
 * @param context The store context.
 * @param options Start position, page size and type filter.
 * @returns The envelopes.
 * @throws {RangeError} For a bad `after` or `batchSize`.
 * @throws {TypeError} For an `eventTypes` that is not an array of strings.
 */
export function iterateAllEvents(
  context: StoreContext,
  options: IterateAllOptions = {},
): AsyncGenerator<EventEnvelope> {
  const after = nonNegativeInteger(options.after, "after", 0);
  const batchSize = positiveInteger(options.batchSize, "batchSize", DEFAULT_BATCH);
  assertEventTypes(options.eventTypes);
  return allPages(context, after, batchSize, options.eventTypes && [...options.eventTypes]);
}

async function* allPages(
  context: StoreContext,
  after: number,
  batchSize: number,
  eventTypes: string[] | undefined,
): AsyncGenerator<EventEnvelope> {
  while (true) {
    const page = await readAllPage(context, after, batchSize, eventTypes);
    yield* page.envelopes;
    if (page.envelopes.length < batchSize) return;
    after = page.last;
  }
}
