/**
 * Reads the next batch of a checkpointed reader through the no-skip watermark
 * (invariant 1), upcasts it, and isolates events whose upcasting fails so one
 * bad event cannot wedge the reader.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import {
  ENVELOPE_COLUMNS,
  type EventEnvelope,
  type EventRow,
  toEnvelope,
} from "../events/envelope.ts";
import { readWatermark } from "../events/watermark.ts";
import { renameParams, seenTypeJoin, seenTypeSql } from "../events/type_filter.ts";

/** One event of a batch: the upcast envelope, or the stored one with the upcasting error. */
export interface BatchItem {
  /** The envelope to apply (the stored one when upcasting failed). */
  readonly envelope: EventEnvelope;
  /** Set when upcasting this event failed: it counts as a failed attempt. */
  readonly upcastError?: unknown;
}

/** A batch after a checkpoint. */
export interface Batch {
  /** The events to apply, ascending by `globalSeq`. */
  readonly items: BatchItem[];
  /** The position the checkpoint may move to once every item is applied (≥ the checkpoint). */
  readonly end: number;
  /** The watermark position: the head the reader can reach. */
  readonly head: number;
}

/**
 * Reads up to `limit` events after `after` whose type (after upcasting) is in `eventTypes`.
 * The watermark is read first; the events in a later statement. When fewer
 * than `limit` events come back, `end` is the watermark: the checkpoint moves
 * past events of other types too.
 *
 * SQL: the watermark query, then `select … from events where global_seq > $after and
 * global_seq <= $watermark and ($types is null or <type after upcasting> = any($types)) order by
 * global_seq limit $limit` (see `events/type_filter.ts`).
 *
 * @param context The store context.
 * @param after The checkpoint.
 * @param limit The batch size.
 * @param eventTypes Only these types (all when undefined).
 * @returns The batch.
 */
export async function readBatch(
  context: StoreContext,
  after: number,
  limit: number,
  eventTypes: readonly string[] | undefined,
): Promise<Batch> {
  const { position } = await readWatermark(context.executor, context);
  if (position <= after) return { items: [], end: after, head: position };
  const rows = await context.executor.query<EventRow>(
    `select ${ENVELOPE_COLUMNS} from ${context.table("events")} e ${seenTypeJoin("e", 5)}
      where global_seq > $1 and global_seq <= $2
        and ($3::text[] is null or ${seenTypeSql("e")} = any($3::text[]))
      order by global_seq limit $4`,
    [after, position, eventTypes ?? null, limit, ...renameParams(context)],
  );
  const items = await upcastIsolating(context, rows.map(toEnvelope));
  const end = rows.length === limit ? rows[rows.length - 1]!.global_seq : position;
  return { items, end, head: position };
}

/**
 * Upcasts a batch in one call; when that fails, one event at a time, so only
 * the events that cannot be upcast carry an error.
 *
 * @param context The store context (its `settings.upcast`).
 * @param stored The envelopes as stored.
 * @returns One item per envelope.
 */
export async function upcastIsolating(
  context: StoreContext,
  stored: EventEnvelope[],
): Promise<BatchItem[]> {
  if (stored.length === 0) return [];
  try {
    return (await context.settings.upcast(stored)).map((envelope) => ({ envelope }));
  } catch {
    const items: BatchItem[] = [];
    for (const envelope of stored) {
      try {
        const [upcast] = await context.settings.upcast([envelope]);
        items.push({ envelope: upcast ?? envelope });
      } catch (upcastError) {
        items.push({ envelope, upcastError });
      }
    }
    return items;
  }
}
