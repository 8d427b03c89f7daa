/**
 * Reads the next batch of a checkpointed reader through the no-skip watermark
 * (invariant 1), upcasts it, and isolates events whose upcasting fails so one
 * bad event cannot wedge the reader.
 *
 * @module
 */
import { eventSettings } from "../events/settings.ts";
import type { StoreContext } from "../_context.ts";
import type { EventEnvelope } from "../events/envelope.ts";
import { readGlobalRange } from "../events/reads.ts";
import { readWatermark } from "../events/watermark.ts";

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
 * SQL: the watermark query, then `readGlobalRange` (events after the checkpoint up to the
 * watermark, filtered by their type after upcasting).
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
  const stored = await readGlobalRange(context, after, position, limit, eventTypes);
  const items = await upcastIsolating(context, stored);
  const end = stored.length === limit ? stored[stored.length - 1]!.globalSeq : position;
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
    return (await eventSettings(context).upcast(stored)).map((envelope) => ({ envelope }));
  } catch {
    const items: BatchItem[] = [];
    for (const envelope of stored) {
      try {
        const [upcast] = await eventSettings(context).upcast([envelope]);
        items.push({ envelope: upcast ?? envelope });
      } catch (upcastError) {
        items.push({ envelope, upcastError });
      }
    }
    return items;
  }
}
