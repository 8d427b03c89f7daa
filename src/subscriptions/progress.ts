/**
 * Writing a member's progress: checkpoints, acks, retries and credits in
 * ONE statement fenced by the member's leases. The lease rows are read
 * `FOR SHARE`: no other member can claim them until the statement's
 * transaction ends, and a deposed member's writes match no lease and change
 * nothing.
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";

/** Who writes: one member of one group. */
export interface MemberRef {
  readonly subscription: string;
  readonly group: string;
  readonly memberId: string;
}

/** A lease the member holds: a partition and the fencing token it was claimed with. */
export interface HeldLease {
  readonly partition: number;
  readonly token: number;
}

/** What to write; every part is optional. */
export interface ProgressWrite {
  /** The leases the writes are fenced by (their partitions only are touched). */
  readonly leases: readonly HeldLease[];
  /** New checkpoints, one per lease (`undefined` entries or lower values leave it). */
  readonly checkpoints?: ReadonlyArray<number | undefined>;
  /** Acknowledged events above their partition's checkpoint: `[globalSeq, partition]`. */
  readonly acks?: ReadonlyArray<readonly [number, number]>;
  /** Events whose retry row goes (acknowledged or dead-lettered). */
  readonly clearRetries?: readonly number[];
  /** A nacked event to retry later. */
  readonly retry?: {
    readonly globalSeq: number;
    readonly partition: number;
    readonly attempts: number;
    readonly delayMs: number;
    readonly error: string | null;
  };
  /** Credits (in-flight reservations) the member gives back. */
  readonly release?: number;
}

const statements = new WeakMap<StoreContext, string>();

function progressSql(context: StoreContext): string {
  const t = context.table;
  const where = `subscription = $1 and group_name = $2`;
  return `with lease as (
      select l.partition, m.cp from ${t("subscription_leases")} l
        join unnest($4::int[], $5::bigint[], $6::bigint[]) as m(part, token, cp)
          on l.partition = m.part and l.fencing_token = m.token
       where l.subscription = $1 and l.group_name = $2 and l.lease_owner = $3
       order by l.partition
         for share of l
    ), folded as (
      update ${t("subscription_partitions")} p set checkpoint = lease.cp, updated_at = now()
        from lease
       where p.subscription = $1 and p.group_name = $2 and p.partition = lease.partition
         and lease.cp is not null and p.checkpoint < lease.cp
      returning p.partition
    ), pruned as (
      delete from ${t("subscription_acks")} a using lease
       where a.subscription = $1 and a.group_name = $2 and a.partition = lease.partition
         and a.global_seq <= lease.cp
    ), acked as (
      insert into ${t("subscription_acks")} (subscription, group_name, global_seq, partition)
      select $1, $2, k.seq, k.part from unnest($7::bigint[], $8::int[]) as k(seq, part)
        join lease on lease.partition = k.part
       where lease.cp is null or k.seq > lease.cp
      on conflict do nothing
    ), cleared as (
      delete from ${t("subscription_retries")} r
       where r.subscription = $1 and r.group_name = $2 and r.global_seq = any($9::bigint[])
         and r.partition in (select partition from lease)
    ), retried as (
      insert into ${t("subscription_retries")} as r
        (subscription, group_name, global_seq, partition, attempts, retry_at, last_error)
      select $1, $2, $10, $11, $12, clock_timestamp() + $13 * interval '1 millisecond', $14
        from lease where $10::bigint is not null and lease.partition = $11
      on conflict (subscription, group_name, global_seq) do update
         set attempts = excluded.attempts, retry_at = excluded.retry_at,
             last_error = excluded.last_error
    ), released as (
      update ${t("subscription_members")} set in_flight = greatest(0, in_flight - $15)
       where ${where} and member_id = $3 and $15 > 0
      returning 1
    )
    select array(select partition from lease order by partition) as held,
           txid_current()::text as xid,
           case when $16 then set_config('synchronous_commit', 'off', true) end as async`;
}

/**
 * Writes a member's progress in one statement on `db` (the pool, or the
 * caller's transaction for `ackInTx`).
 *
 * On the pool the statement commits asynchronously (`synchronous_commit`
 * off for its own transaction): should the server crash right after, the
 * write may be lost, which only means events are delivered again (at least
 * once). In a caller's transaction, the caller's durability applies.
 *
 * @param db Where to run.
 * @param context The store context.
 * @param member The member writing.
 * @param write What to write.
 * @returns The partitions whose lease still matched (writes to others were
 *   dropped) and the id of the transaction that ran it.
 */
export async function writeProgress(
  db: Queryable,
  context: StoreContext,
  member: MemberRef,
  write: ProgressWrite,
): Promise<{ held: number[]; xid: string }> {
  let text = statements.get(context);
  if (!text) statements.set(context, text = progressSql(context));
  const { retry } = write;
  const [row] = await db.query<{ held: number[]; xid: string }>(text, [
    member.subscription,
    member.group,
    member.memberId,
    write.leases.map((l) => l.partition),
    write.leases.map((l) => l.token),
    write.leases.map((_, i) => write.checkpoints?.[i] ?? null),
    (write.acks ?? []).map(([seq]) => seq),
    (write.acks ?? []).map(([, partition]) => partition),
    write.clearRetries ?? [],
    retry?.globalSeq ?? null,
    retry?.partition ?? null,
    retry?.attempts ?? null,
    retry?.delayMs ?? null,
    retry?.error ?? null,
    write.release ?? 0,
    db === context.executor,
  ]);
  return { held: row?.held ?? [], xid: row?.xid ?? "" };
}

/**
 * Resolves transactional acks: which of the callers' transactions committed.
 *
 * @param context The store context.
 * @param xids Transaction ids returned by {@linkcode writeProgress} inside them.
 * @returns Per id: `committed`, `aborted` or `in progress`.
 */
export async function transactionStatuses(
  context: StoreContext,
  xids: readonly string[],
): Promise<Map<string, string>> {
  if (xids.length === 0) return new Map();
  const rows = await context.executor.query<{ xid: string; status: string | null }>(
    `select x as xid, txid_status(x::bigint) as status from unnest($1::text[]) as x`,
    [xids],
  );
  return new Map(rows.map((r) => [r.xid, r.status ?? "aborted"]));
}
