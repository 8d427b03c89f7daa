/**
 * The projection contract shared by inline projections (run inside the append
 * transaction) and the projection daemon (run in batches after the fact).
 *
 * @module
 */
import type { Tx } from "../db/executor.ts";
import type { EventEnvelope } from "./envelope.ts";

/**
 * A projection: turns events into read-model writes made through `tx`, in the
 * caller's transaction (the daemon's batch or the append's).
 *
 * @example A counter per event type
 * ```ts
 * import type { Projection } from "@rillflow/rillflow";
 *
 * const counts: Projection = {
 *   eventTypes: ["OrderPlaced"],
 *   async apply(event, tx) {
 *     await tx.sql`insert into order_counts (type, n) values (${event.type}, 1)
 *                  on conflict (type) do update set n = order_counts.n + 1`;
 *   },
 *   async reset(tx) {
 *     await tx.query("delete from order_counts");
 *   },
 * };
 * ```
 */
export interface Projection {
  /** Only events of these types reach `apply`; all events when omitted. */
  eventTypes?: string[];
  /**
   * Applies one event to the read model.
   *
   * @param event The event (upcast to its current version).
   * @param tx The transaction to write through.
   */
  apply(event: EventEnvelope, tx: Tx): Promise<void>;
  /**
   * Clears the read model before a rebuild, in the rebuild's transaction.
   *
   * @param tx The transaction to write through.
   */
  reset?(tx: Tx): Promise<void>;
  /**
   * Creates the read model's tables when missing (`create table if not exists …`).
   * The daemon calls it once per process before the projection's first batch,
   * and again after `reset` in a rebuild, under an advisory lock.
   *
   * @param tx The transaction to write through.
   */
  setup?(tx: Tx): Promise<void>;
}

/**
 * Validates a projection definition.
 *
 * @param name The projection's name, for messages.
 * @param projection The candidate.
 * @throws {TypeError} When it has no `apply` function or a malformed `eventTypes`.
 */
export function assertProjection(
  name: string,
  projection: unknown,
): asserts projection is Projection {
  const p = projection as Partial<Projection> | null;
  if (p === null || typeof p !== "object" || typeof p.apply !== "function") {
    throw new TypeError(`Projection "${name}" needs an apply(event, tx) function`);
  }
  if (
    p.eventTypes !== undefined &&
    (!Array.isArray(p.eventTypes) || p.eventTypes.some((t) => typeof t !== "string" || t === ""))
  ) {
    throw new TypeError(`Projection "${name}" has eventTypes that are not non-empty strings`);
  }
  for (const hook of ["reset", "setup"] as const) {
    if (p[hook] !== undefined && typeof p[hook] !== "function") {
      throw new TypeError(`Projection "${name}" has a ${hook} that is not a function`);
    }
  }
}
