/** Helpers for subscription tests. */
import { event, Expected, type Store } from "../mod.ts";
import type { EventEnvelope, Subscription } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

/** Appends one event of `type` to `streamId` and returns its position. */
export async function appendOne(
  store: Store,
  streamId: string,
  type: string,
  data: Record<string, unknown> = {},
): Promise<number> {
  const result = await store.events.append(streamId, Expected.any, [event(type, data)]);
  return result.globalSeqs[0]!;
}

/** Sets a stream's category directly (the event store fills it from aliases). */
export async function setCategory(store: Store, streamId: string, category: string) {
  const context = contextOf(store);
  await context.executor.query(
    `insert into ${context.table("streams")} (stream_id, category) values ($1, $2)
     on conflict (stream_id) do update set category = excluded.category`,
    [streamId, category],
  );
}

/** Takes `count` events from a subscription, failing after `timeoutMs`. */
export async function take(
  sub: Subscription,
  count: number,
  timeoutMs = 10_000,
  onEvent?: (envelope: EventEnvelope) => Promise<void> | void,
): Promise<EventEnvelope[]> {
  const taken: EventEnvelope[] = [];
  if (count === 0) return taken;
  const iterator = sub[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${timeoutMs} ms with ${taken.length}/${count}`)),
      timeoutMs,
    );
  });
  try {
    while (taken.length < count) {
      const result = await Promise.race([iterator.next(), timeout]);
      if (result.done) break;
      taken.push(result.value);
      await onEvent?.(result.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return taken;
}
