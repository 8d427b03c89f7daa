/**
 * Appends that commit out of order, for no-skip tests (invariant 1): an
 * append held open, and writers whose transactions stay open a random while.
 */
import { event, Expected, type Store } from "../mod.ts";
import { contextOf } from "../src/_context.ts";
import { prepareAppend } from "../src/events/append_input.ts";
import { runAppend } from "../src/events/append.ts";

/** Appends inside a transaction that stays open until `release` resolves. */
export function openAppend(store: Store, streamId: string, release: Promise<void>) {
  const context = contextOf(store);
  const appended = Promise.withResolvers<number>();
  const committed = context.executor.transaction(async (tx) => {
    const prepared = prepareAppend(context, streamId, Expected.any, [event("Slow", {})]);
    const result = await runAppend(tx, context, prepared);
    appended.resolve(result.globalSeqs[0]!);
    await release;
  });
  committed.catch((error) => appended.reject(error));
  return { appended: appended.promise, committed };
}

/** `writers` concurrent writers each append `perWriter` events, holding each transaction open 0–8 ms. */
export async function appendOutOfOrder(
  store: Store,
  writers: number,
  perWriter: number,
): Promise<void> {
  const context = contextOf(store);
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; i < perWriter; i++) {
      await context.executor.transaction(async (tx) => {
        const prepared = prepareAppend(context, crypto.randomUUID(), Expected.any, [
          event("E", { w, i }),
        ]);
        await runAppend(tx, context, prepared);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 8));
      });
    }
  }));
}
