/** Row counts tests assert on, read straight from a store's tables. */
import type { Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";

/** How many events the store holds (in one stream when `streamId` is given). */
export async function eventCount(store: Store, streamId?: string): Promise<number> {
  const { executor, table } = contextOf(store);
  const [row] = await executor.query<{ n: number }>(
    `select count(*)::int as n from ${table("events")} where $1::uuid is null or stream_id = $1`,
    [streamId ?? null],
  );
  return row!.n;
}
