/**
 * Applies a batch of events inside one transaction so that a failing event
 * (a thrown error or a SQL error that aborts the transaction) never wedges
 * the reader: the transaction is rolled back to a savepoint, the events
 * before the failure are applied again, and the caller decides what to do
 * with the failing one.
 *
 * Why not one savepoint per event: every savepoint that writes takes a
 * subtransaction id, and a backend caches only 64 of them; past that, every
 * other session's snapshots overflow to `pg_subtrans` lookups until the
 * transaction ends — a known PostgreSQL performance cliff a 500-event batch
 * would hit on every batch. One savepoint per run of successful events gives
 * the same outcome (each event applied exactly once, or rolled back alone)
 * with one subtransaction per batch, plus two per failure.
 *
 * @module
 */
import type { InternalTx } from "../db/executor.ts";

/** A failed event: its index in the batch and what it threw. */
export interface ApplyFailure {
  /** The index of the failing item. */
  readonly index: number;
  /** What applying it threw. */
  readonly error: unknown;
}

/** Applies one item through the handle of the savepoint it runs under. */
export type ApplyItem<T> = (item: T, tx: InternalTx) => Promise<void>;

/**
 * Applies `items[from, to)` under one savepoint; on a failure, rolls back to it
 * (the transaction is usable again and nothing of the range remains).
 */
async function applyRange<T>(
  tx: InternalTx,
  items: readonly T[],
  from: number,
  to: number,
  apply: ApplyItem<T>,
): Promise<ApplyFailure | null> {
  if (from >= to) return null;
  let index = from;
  try {
    await tx.savepoint(async (savepoint) => {
      for (; index < to; index++) await apply(items[index]!, savepoint);
    });
    return null;
  } catch (error) {
    return { index, error };
  }
}

/**
 * Applies items from `start` in order. On success, every item is applied; on
 * a failure at index `k`, exactly `items[start, k)` are applied and the
 * failure is returned.
 *
 * @param tx The transaction.
 * @param items The batch.
 * @param start The first item to apply.
 * @param apply Applies one item through the handle it is given.
 * @returns The failure, or `null` when every item from `start` was applied.
 */
export async function applyUntilFailure<T>(
  tx: InternalTx,
  items: readonly T[],
  start: number,
  apply: ApplyItem<T>,
): Promise<ApplyFailure | null> {
  let failure = await applyRange(tx, items, start, items.length, apply);
  while (failure) {
    // Re-apply the events that preceded the failure; a handler that now fails
    // earlier moves the failure point back, so this ends.
    const earlier = await applyRange(tx, items, start, failure.index, apply);
    if (!earlier) return failure;
    failure = earlier;
  }
  return null;
}
