/**
 * The member protocol of a consumer group: heartbeats (which also reap
 * expired members), partition leases (the shared lease with fencing token of
 * `src/processing/lease.ts`, one row per partition), leaving. Exclusive groups have one
 * partition every member tries to claim; shared groups assign partition `p`
 * to the `p mod n`-th beating member by id, so members rebalance as they join,
 * leave or stop beating.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { acquireLease, type LeaseTarget, releaseLease } from "../processing/lease.ts";
import type { HeldLease, MemberRef } from "./progress.ts";

/**
 * How often a member beats, from its lease TTL: four beats per TTL, so a lease
 * survives three missed beats.
 *
 * @param leaseTtlMs The member's lease TTL.
 * @returns The interval between two beats.
 */
export function beatIntervalMs(leaseTtlMs: number): number {
  return Math.max(20, Math.floor(leaseTtlMs / 4));
}

/**
 * How many beat intervals a member may stay silent and still be given
 * partitions: two missed beats and it is left out (the half interval absorbs
 * the time a beat's own statements take).
 */
export const MISSED_BEATS_TOLERATED = 2.5;

/** What a heartbeat learnt. */
export interface Heartbeat {
  /** The member's row had to be created: it was new, reset or reaped. */
  readonly joined: boolean;
  /**
   * Members that beat recently, by id (including this one): the members
   * partitions are assigned to. A member that missed two beats is not one of
   * them, even before its row and its leases expire.
   */
  readonly liveMembers: string[];
  /**
   * The last beat of each other live member, as the database recorded it: a
   * different value later means the member beat since.
   */
  readonly lastBeats: ReadonlyMap<string, string>;
  /** The group's checkpoint (lowest of its partitions). */
  readonly checkpoint: number;
  /** Credits held by the group's unexpired members. */
  readonly inFlight: number;
}

/**
 * Beats: reaps expired members of the group and upserts this member's row
 * with the time of the beat, in one statement (leases are renewed by
 * {@linkcode acquirePartitions}).
 *
 * @param context The store context.
 * @param member The member.
 * @param leaseTtlMs How long the member lives without a beat.
 * @returns What it learnt.
 */
export async function heartbeat(
  context: StoreContext,
  member: MemberRef,
  leaseTtlMs: number,
): Promise<Heartbeat> {
  const t = context.table;
  // Rows of an earlier version carry no beat: they count until they expire.
  const beating = `expires_at > clock_timestamp() and (heartbeat_at is null or
    heartbeat_at > clock_timestamp() - heartbeat_interval_ms * $6::float8 * interval '1 millisecond')`;
  const [row] = await context.executor.query<{
    joined: boolean;
    live: string[] | null;
    beats: Array<{ member: string; beat: string }> | null;
    checkpoint: number;
    in_flight: number;
  }>(
    `with reaped as (
       delete from ${t("subscription_members")}
        where subscription = $1 and group_name = $2 and member_id <> $3
          and expires_at <= clock_timestamp()
     ), me as (
       insert into ${t("subscription_members")}
         (subscription, group_name, member_id, expires_at, heartbeat_at, heartbeat_interval_ms)
       values ($1, $2, $3, clock_timestamp() + $4 * interval '1 millisecond', clock_timestamp(), $5)
       on conflict (subscription, group_name, member_id) do update
         set expires_at = excluded.expires_at, heartbeat_at = excluded.heartbeat_at,
             heartbeat_interval_ms = excluded.heartbeat_interval_ms
       returning (xmax = 0) as joined
     ), others as (
       select member_id, coalesce(heartbeat_at, expires_at)::text as beat
         from ${t("subscription_members")}
        where subscription = $1 and group_name = $2 and member_id <> $3 and ${beating}
     )
     select (select joined from me) as joined,
            array(select member_id from others union select $3 order by 1) as live,
            (select json_agg(json_build_object('member', member_id, 'beat', beat)) from others)
              as beats,
            (select coalesce(min(checkpoint), 0) from ${t("subscription_partitions")}
              where subscription = $1 and group_name = $2) as checkpoint,
            (select coalesce(sum(in_flight), 0)::int from ${t("subscription_members")}
              where subscription = $1 and group_name = $2 and expires_at > clock_timestamp())
              as in_flight`,
    [
      member.subscription,
      member.group,
      member.memberId,
      leaseTtlMs,
      beatIntervalMs(leaseTtlMs),
      MISSED_BEATS_TOLERATED,
    ],
  );
  return {
    joined: row!.joined,
    liveMembers: row!.live ?? [],
    lastBeats: new Map((row!.beats ?? []).map((b) => [b.member, b.beat])),
    checkpoint: row!.checkpoint,
    inFlight: row!.in_flight,
  };
}

/**
 * The member a shared group's partition is assigned to: partition `p` goes to
 * the `p mod n`-th live member by id.
 *
 * @param liveMembers Members that beat recently, by id (never empty: it holds the caller).
 * @param partition The partition.
 * @returns The member's id.
 */
export function assignedMember(liveMembers: readonly string[], partition: number): string {
  return liveMembers[partition % liveMembers.length]!;
}

/**
 * The partitions a member should hold.
 *
 * @param mode The group's mode.
 * @param partitionCount How many partitions the group has.
 * @param liveMembers Members that beat recently, by id.
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
  if (!liveMembers.includes(memberId)) return [];
  const result: number[] = [];
  for (let p = 0; p < partitionCount; p++) {
    if (assignedMember(liveMembers, p) === memberId) result.push(p);
  }
  return result;
}

/**
 * The lease row of one partition, for the shared lease functions.
 *
 * @param context The store context.
 * @param member The member.
 * @param partition The partition.
 * @returns The target.
 */
export function partitionLeaseTarget(
  context: StoreContext,
  member: MemberRef,
  partition: number,
): LeaseTarget {
  return {
    table: context.table("subscription_leases"),
    keyColumns: ["subscription", "group_name", "partition"],
    key: [member.subscription, member.group, partition],
    label:
      `partition ${partition} of group "${member.group}" of subscription "${member.subscription}"`,
  };
}

/** A partition lease taken or renewed, with the partition's stored checkpoint. */
export interface AcquiredPartition extends HeldLease {
  /** The stored checkpoint (read after the lease was taken). */
  readonly checkpoint: number;
}

/**
 * Takes or renews the leases of the given partitions where they are free,
 * expired or already this member's (a renewal keeps the fencing token; a
 * takeover increments it), then reads the partitions' checkpoints in a later
 * statement, so every write of a deposed holder is visible or rejected.
 *
 * @param context The store context.
 * @param member The member.
 * @param partitions The partitions.
 * @param leaseTtlMs The lease's time to live.
 * @returns The partitions now leased to this member.
 */
export async function acquirePartitions(
  context: StoreContext,
  member: MemberRef,
  partitions: readonly number[],
  leaseTtlMs: number,
): Promise<AcquiredPartition[]> {
  const leases: HeldLease[] = [];
  for (const partition of partitions) {
    const target = partitionLeaseTarget(context, member, partition);
    const acquired = await acquireLease(context.executor, target, member.memberId, leaseTtlMs);
    if (acquired) leases.push({ partition, token: acquired.lease.token });
  }
  if (leases.length === 0) return [];
  const checkpoints = await context.executor.query<{ partition: number; checkpoint: number }>(
    `select partition, checkpoint from ${context.table("subscription_partitions")}
      where subscription = $1 and group_name = $2 and partition = any($3::int[])`,
    [member.subscription, member.group, leases.map((l) => l.partition)],
  );
  const byPartition = new Map(checkpoints.map((c) => [c.partition, c.checkpoint]));
  return leases.map((l) => ({ ...l, checkpoint: byPartition.get(l.partition) ?? 0 }));
}

/**
 * Releases leases at once (a close, or a partition handed to another member).
 *
 * @param context The store context.
 * @param member The member.
 * @param partitions The partitions to release.
 */
export async function releasePartitions(
  context: StoreContext,
  member: MemberRef,
  partitions: readonly number[],
): Promise<void> {
  for (const partition of partitions) {
    await releaseLease(
      context.executor,
      partitionLeaseTarget(context, member, partition),
      member.memberId,
    );
  }
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
