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
import type { Queryable } from "../db/executor.ts";

/** A failed event: its index in the batch and what it threw. */
export interface ApplyFailure {
  /** The index of the failing item. */
  readonly index: number;
  /** What applying it threw. */
  readonly error: unknown;
}

const SAVEPOINT = "rillflow_apply";

/**
 * Applies `items[from, to)` under one savepoint; on a failure, rolls back to it
 * (the transaction is usable again and nothing of the range remains).
 */
async function applyRange<T>(
  tx: Queryable,
  items: readonly T[],
  from: number,
  to: number,
  apply: (item: T) => Promise<void>,
): Promise<ApplyFailure | null> {
  if (from >= to) return null;
  await tx.query(`savepoint ${SAVEPOINT}`);
  let index = from;
  try {
    for (; index < to; index++) await apply(items[index]!);
  } catch (error) {
    await tx.query(`rollback to savepoint ${SAVEPOINT}`);
    await tx.query(`release savepoint ${SAVEPOINT}`);
    return { index, error };
  }
  await tx.query(`release savepoint ${SAVEPOINT}`);
  return null;
}

/**
 * Applies items from `start` in order. On success, every item is applied; on
 * a failure at index `k`, exactly `items[start, k)` are applied and the
 * failure is returned.
 *
 * @param tx The transaction.
 * @param items The batch.
 * @param start The first item to apply.
 * @param apply Applies one item through `tx`.
 * @returns The failure, or `null` when every item from `start` was applied.
 */
export async function applyUntilFailure<T>(
  tx: Queryable,
  items: readonly T[],
  start: number,
  apply: (item: T) => Promise<void>,
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
