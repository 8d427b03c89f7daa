/**
 * Leases with fencing tokens on a bookkeeping row (a projection, a
 * subscription's consumer group): one worker at a time, taken over after
 * expiry, released on a clean stop (invariant 6).
 *
 * A row holds `lease_owner`, `lease_expires_at` and `fencing_token`. Taking a
 * lease that someone else held (or that expired) increments the token; the
 * worker then writes its checkpoint only `where fencing_token = <its token>`,
 * in the transaction that wrote its results, so a worker deposed mid-batch
 * cannot commit. Times come from the database clock (`clock_timestamp()`).
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import { RillflowError } from "../errors.ts";

/** The row a lease lives on. Table and column names are Rillflow's own constants. */
export interface LeaseTarget {
  /** The quoted, schema-qualified table. */
  readonly table: string;
  /** The key columns (trusted constants). */
  readonly keyColumns: readonly string[];
  /** The key values, in the order of `keyColumns`. */
  readonly key: readonly unknown[];
  /** What the row is, for messages (`projection "orders"`). */
  readonly label: string;
}

/** A lease held by this worker. */
export interface Lease {
  /** The worker's name. */
  readonly owner: string;
  /** The fencing token its writes must match. */
  readonly token: number;
}

/**
 * `col1 = $1 and col2 = $2 …` for the target's key.
 *
 * @param target The lease row.
 * @returns The condition; the key values are parameters `$1…$k`.
 */
export function keyCondition(target: LeaseTarget): string {
  return target.keyColumns.map((column, i) => `${column} = $${i + 1}`).join(" and ");
}

/**
 * The condition a fenced write adds: the row is still leased to this worker with this token.
 *
 * @param ownerParam The placeholder of the owner (`$4`).
 * @param tokenParam The placeholder of the token (`$5`).
 * @returns The SQL condition.
 */
export function fenceCondition(ownerParam: string, tokenParam: string): string {
  return `lease_owner = ${ownerParam} and fencing_token = ${tokenParam}`;
}

/**
 * Takes or renews the lease when it is free, expired or already ours, in one
 * statement, and returns extra columns of the row with it.
 *
 * SQL: `update <table> set lease_owner = $owner, lease_expires_at = clock_timestamp() + ttl,
 * fencing_token = case when <still ours> then fencing_token else fencing_token + 1 end
 * where <key> and (lease_owner is null or lease_owner = $owner or lease_expires_at <= clock_timestamp())
 * returning fencing_token, <columns>`.
 *
 * @param db Where to run (outside any batch transaction, so the row is not held locked).
 * @param target The lease row.
 * @param owner This worker's name.
 * @param ttlMs How long the lease lasts unless renewed.
 * @param returning Extra column expressions to return (trusted constants).
 * @returns The lease and the returned columns, or `null` when another worker holds it.
 */
export async function acquireLease<R extends Record<string, unknown>>(
  db: Queryable,
  target: LeaseTarget,
  owner: string,
  ttlMs: number,
  returning: readonly string[] = [],
): Promise<{ lease: Lease; row: R } | null> {
  const n = target.keyColumns.length;
  const [row] = await db.query<R & { fencing_token: number }>(
    `update ${target.table}
        set lease_owner = $${n + 1},
            lease_expires_at = clock_timestamp() + $${n + 2}::int * interval '1 millisecond',
            fencing_token = case when lease_owner = $${
      n + 1
    } and lease_expires_at > clock_timestamp()
                                 then fencing_token else fencing_token + 1 end
      where ${keyCondition(target)}
        and (lease_owner is null or lease_owner = $${
      n + 1
    } or lease_expires_at <= clock_timestamp())
      returning ${["fencing_token", ...returning].join(", ")}`,
    [...target.key, owner, ttlMs],
  );
  return row ? { lease: { owner, token: row.fencing_token }, row } : null;
}

/** A lease this worker holds, with when (by its own clock) it was last renewed. */
export interface HeldLease extends Lease {
  /** `performance.now()` just before the statement that last renewed it was sent. */
  readonly renewedAt: number;
}

/**
 * Reads the row under a lease believed held and renewed less than a third of
 * its TTL ago (a plain read: no write, no commit to flush); otherwise takes or
 * renews it with {@linkcode acquireLease}. The fenced write that ends a batch
 * renews the lease, so a busy worker renews it once per batch, not twice.
 *
 * @param db Where to run.
 * @param target The lease row.
 * @param owner This worker's name.
 * @param ttlMs The lease's duration.
 * @param returning Extra column expressions to return (trusted constants).
 * @param held The lease this worker believes it holds, if any.
 * @returns The lease and the returned columns, or `null` when another worker holds it.
 */
export async function holdLease<R extends Record<string, unknown>>(
  db: Queryable,
  target: LeaseTarget,
  owner: string,
  ttlMs: number,
  returning: readonly string[],
  held: HeldLease | undefined,
): Promise<{ lease: HeldLease; row: R } | null> {
  if (held && held.owner === owner && performance.now() - held.renewedAt < ttlMs / 3) {
    const n = target.keyColumns.length;
    const [row] = await db.query<R & { held: boolean }>(
      `select ${returning.join(", ")}, ${fenceCondition(`$${n + 1}`, `$${n + 2}`)} as held
         from ${target.table} where ${keyCondition(target)}`,
      [...target.key, owner, held.token],
    );
    if (row?.held) return { lease: held, row };
  }
  const renewedAt = performance.now();
  const acquired = await acquireLease<R>(db, target, owner, ttlMs, returning);
  return acquired && { lease: { ...acquired.lease, renewedAt }, row: acquired.row };
}

/**
 * Releases leases this worker holds (a clean stop), so another worker can take over at once.
 *
 * @param db Where to run.
 * @param target The lease row.
 * @param owner This worker's name.
 * @returns Whether a lease was released.
 */
export async function releaseLease(
  db: Queryable,
  target: LeaseTarget,
  owner: string,
): Promise<boolean> {
  const n = target.keyColumns.length;
  const rows = await db.query(
    `update ${target.table} set lease_owner = null, lease_expires_at = null
      where ${keyCondition(target)} and lease_owner = $${n + 1} returning 1`,
    [...target.key, owner],
  );
  return rows.length > 0;
}

/**
 * Explains why a fenced write matched no row: the lease went to another
 * worker (throws `LEASE_LOST`) or the row changed under a lease still ours
 * (an operator moved the checkpoint; the caller discards its batch).
 *
 * @param tx The transaction of the failed write.
 * @param target The lease row.
 * @param lease The lease the write carried.
 * @throws {RillflowError} `LEASE_LOST` when the lease is no longer this worker's.
 */
export async function assertLeaseHeld(
  tx: Queryable,
  target: LeaseTarget,
  lease: Lease,
): Promise<void> {
  const [row] = await tx.query<{ lease_owner: string | null; fencing_token: number }>(
    `select lease_owner, fencing_token from ${target.table} where ${keyCondition(target)}`,
    target.key,
  );
  if (row?.lease_owner === lease.owner && row.fencing_token === lease.token) return;
  throw new RillflowError(
    "LEASE_LOST",
    `Lost the lease of ${target.label}: it is now held by ${
      row?.lease_owner ? `"${row.lease_owner}"` : "nobody"
    } with fencing token ${row?.fencing_token ?? "none"} (this worker had ${lease.token})`,
    { details: { owner: lease.owner, token: lease.token, holder: row?.lease_owner ?? null } },
  );
}
