/**
 * The member protocol of a consumer group: heartbeats (which also reap
 * expired members and renew the member's leases), claiming partitions with a
 * new fencing token, releasing them, leaving. Exclusive groups have one
 * partition every member tries to claim; shared groups assign partition `p`
 * to the `p mod n`-th live member by id, so members rebalance as they join and
 * leave.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import type { HeldLease, MemberRef } from "./progress.ts";

/** What a heartbeat learnt. */
export interface Heartbeat {
  /** The member's row had to be created: it was new, reset or reaped. */
  readonly joined: boolean;
  /** Partitions whose lease the member still holds (renewed). */
  readonly renewed: number[];
  /** Unexpired members, by id (including this one). */
  readonly liveMembers: string[];
}

/**
 * Beats: reaps expired members of the group, upserts this member's row and
 * renews its leases, in one statement.
 *
 * @param context The store context.
 * @param member The member.
 * @param held The leases it believes it holds.
 * @param leaseTtlMs How long the member and its leases live without a beat.
 * @returns What it learnt.
 */
export async function heartbeat(
  context: StoreContext,
  member: MemberRef,
  held: readonly HeldLease[],
  leaseTtlMs: number,
): Promise<Heartbeat> {
  const t = context.table;
  const [row] = await context.executor.query<
    { joined: boolean; renewed: number[]; live: string[] | null }
  >(
    `with reaped as (
       delete from ${t("subscription_members")}
        where subscription = $1 and group_name = $2 and member_id <> $3 and expires_at < now()
     ), me as (
       insert into ${t("subscription_members")} (subscription, group_name, member_id, expires_at)
       values ($1, $2, $3, now() + $4 * interval '1 millisecond')
       on conflict (subscription, group_name, member_id) do update set expires_at = excluded.expires_at
       returning (xmax = 0) as joined
     ), renewed as (
       update ${t("subscription_leases")} l set expires_at = now() + $4 * interval '1 millisecond'
         from unnest($5::int[], $6::bigint[]) as h(part, token)
        where l.subscription = $1 and l.group_name = $2 and l.partition = h.part
          and l.fencing_token = h.token and l.owner = $3
       returning l.partition
     )
     select (select joined from me) as joined,
            array(select partition from renewed order by partition) as renewed,
            array(select member_id from ${t("subscription_members")}
                   where subscription = $1 and group_name = $2 and expires_at >= now()
                  union select $3 order by 1) as live`,
    [
      member.subscription,
      member.group,
      member.memberId,
      leaseTtlMs,
      held.map((l) => l.partition),
      held.map((l) => l.token),
    ],
  );
  return { joined: row!.joined, renewed: row!.renewed, liveMembers: row!.live ?? [] };
}

/**
 * The partitions a member should hold.
 *
 * @param mode The group's mode.
 * @param partitionCount How many partitions the group has.
 * @param liveMembers Unexpired members, by id.
 * @param memberId This member.
 * @returns The partitions, ascending.
 */
export function desiredPartitions(
  mode: "exclusive" | "shared",
  partitionCount: number,
  liveMembers: readonly string[],
  memberId: string,
): number[] {
  if (mode === "exclusive") return [0];
  const index = liveMembers.indexOf(memberId);
  if (index < 0) return [];
  const result: number[] = [];
  for (let p = index; p < partitionCount; p += liveMembers.length) result.push(p);
  return result;
}

/** A partition just claimed: its new fencing token and stored checkpoint. */
export interface ClaimedPartition extends HeldLease {
  readonly checkpoint: number;
}

/**
 * Claims the given partitions where their lease is free or expired, with a
 * new fencing token each, then reads their checkpoints (in a later statement,
 * so every write of a deposed holder is either visible or rejected).
 *
 * @param context The store context.
 * @param member The member.
 * @param partitions The partitions wanted.
 * @param leaseTtlMs The lease's time to live.
 * @returns The partitions claimed.
 */
export async function claimPartitions(
  context: StoreContext,
  member: MemberRef,
  partitions: readonly number[],
  leaseTtlMs: number,
): Promise<ClaimedPartition[]> {
  if (partitions.length === 0) return [];
  const t = context.table;
  const claimed = await context.executor.query<{ partition: number; token: number }>(
    `update ${t("subscription_leases")}
        set owner = $3, expires_at = now() + $5 * interval '1 millisecond',
            fencing_token = fencing_token + 1
      where subscription = $1 and group_name = $2 and partition = any($4::int[])
        and (owner is null or owner = $3 or expires_at < now())
     returning partition, fencing_token as token`,
    [member.subscription, member.group, member.memberId, partitions, leaseTtlMs],
  );
  if (claimed.length === 0) return [];
  const checkpoints = await context.executor.query<{ partition: number; checkpoint: number }>(
    `select partition, checkpoint from ${t("subscription_partitions")}
      where subscription = $1 and group_name = $2 and partition = any($3::int[])`,
    [member.subscription, member.group, claimed.map((c) => c.partition)],
  );
  const byPartition = new Map(checkpoints.map((c) => [c.partition, c.checkpoint]));
  return claimed
    .map((c) => ({ ...c, checkpoint: byPartition.get(c.partition) ?? 0 }))
    .sort((a, b) => a.partition - b.partition);
}

/**
 * Releases leases at once (a close, or a partition handed to another member).
 *
 * @param context The store context.
 * @param member The member.
 * @param held The leases to release.
 */
export async function releasePartitions(
  context: StoreContext,
  member: MemberRef,
  held: readonly HeldLease[],
): Promise<void> {
  if (held.length === 0) return;
  await context.executor.query(
    `update ${context.table("subscription_leases")} l set owner = null, expires_at = null
       from unnest($4::int[], $5::bigint[]) as h(part, token)
      where l.subscription = $1 and l.group_name = $2 and l.owner = $3
        and l.partition = h.part and l.fencing_token = h.token`,
    [
      member.subscription,
      member.group,
      member.memberId,
      held.map((l) => l.partition),
      held.map((l) => l.token),
    ],
  );
}

/**
 * Leaves the group: drops the member's row, so its credits no longer count.
 *
 * @param context The store context.
 * @param member The member.
 */
export async function leaveGroup(context: StoreContext, member: MemberRef): Promise<void> {
  await context.executor.query(
    `delete from ${context.table("subscription_members")}
      where subscription = $1 and group_name = $2 and member_id = $3`,
    [member.subscription, member.group, member.memberId],
  );
}
