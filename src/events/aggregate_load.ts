/**
 * Loading aggregates: a full fold of the stream, or a snapshot plus the events
 * after it, read in pages so a long stream never sits in memory whole.
 *
 * @module
 */
import { eventSettings } from "./settings.ts";
import type { StoreContext } from "../_context.ts";
import { assertUuid } from "../ids.ts";
import { type Aggregate, foldEnvelopes, type LoadedAggregate } from "./aggregate.ts";
import { ENVELOPE_COLUMNS, type EventRow, toEnvelope } from "./envelope.ts";
import { readSnapshot } from "./snapshot_store.ts";

/** Events read per round trip while folding. */
export const FOLD_PAGE_SIZE = 1000;

/**
 * Folds the events of a stream after `from.version` into `from.state`, page by
 * page, each page upcast before it is applied.
 *
 * SQL per page: `select … from events where stream_id = $1 and stream_seq > $2
 * order by stream_seq limit 1001`.
 *
 * @param context The store context.
 * @param aggregate The aggregate.
 * @param streamId The stream.
 * @param from Where to start.
 * @returns The state and the version of the last event applied.
 */
export async function foldStream<S>(
  context: StoreContext,
  aggregate: Aggregate<S>,
  streamId: string,
  from: LoadedAggregate<S>,
): Promise<LoadedAggregate<S>> {
  const text = `select ${ENVELOPE_COLUMNS} from ${context.table("events")}
    where stream_id = $1 and stream_seq > $2 order by stream_seq limit $3`;
  let current = from;
  while (true) {
    // One row more than a page tells whether another page follows, without an empty round trip.
    const rows = await context.executor.query<EventRow>(text, [
      streamId,
      current.version,
      FOLD_PAGE_SIZE + 1,
    ]);
    const page = rows.length > FOLD_PAGE_SIZE ? rows.slice(0, FOLD_PAGE_SIZE) : rows;
    const envelopes = await eventSettings(context).upcast(page.map(toEnvelope));
    current = foldEnvelopes(aggregate, current, envelopes);
    if (rows.length <= FOLD_PAGE_SIZE) return current;
  }
}

/**
 * Loads an aggregate's state.
 *
 * @param context The store context.
 * @param aggregate The aggregate.
 * @param streamId The stream.
 * @param fromSnapshot Start from the aggregate's snapshot when one exists.
 * @returns The state and the stream version (0 when the stream has no events).
 * @throws {TypeError} For a malformed stream id.
 */
export async function loadAggregate<S>(
  context: StoreContext,
  aggregate: Aggregate<S>,
  streamId: string,
  fromSnapshot: boolean,
): Promise<LoadedAggregate<S>> {
  assertUuid(streamId, "stream id");
  const snapshot = fromSnapshot
    ? await readSnapshot(context.executor, context, aggregate, streamId)
    : null;
  return foldStream(
    context,
    aggregate,
    streamId,
    snapshot ?? { state: aggregate.initialState(), version: 0 },
  );
}
