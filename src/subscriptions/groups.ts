/**
 * Consumer groups as stored: creation on first use, status (checkpoint, head,
 * lag, members, leases), the runtime in-flight bound and resets.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import { unknownSubscription } from "./definitions.ts";

/** How a group's members share its events. */
export type GroupMode = "exclusive" | "shared";

/** A live member of a group. */
export interface GroupMember {
  /** The member's id (`host:pid:random`). */
  readonly memberId: string;
  /** Credits it holds: events delivered (or about to be) and not acknowledged. */
  readonly inFlight: number;
  /** When it joined. */
  readonly joinedAt: Date;
  /** When it expires without a heartbeat. */
  readonly expiresAt: Date;
  /** The partitions whose lease it holds. */
  readonly partitions: number[];
}

/** One partition of a group: its checkpoint and lease. */
export interface GroupLease {
  /** The partition (always 0 for exclusive groups). */
  readonly partition: number;
  /** Every event of the partition up to here is acknowledged. */
  readonly checkpoint: number;
  /** The member holding the lease, or null. */
  readonly owner: string | null;
  /** When the lease expires, or null when free. */
  readonly expiresAt: Date | null;
  /** Incremented at every claim; writes with an older token are rejected. */
  readonly fencingToken: number;
}

/** The state of one consumer group. */
export interface GroupStatus {
  /** The subscription. */
  readonly subscription: string;
  /** The group. */
  readonly group: string;
  /** `exclusive` (one active member) or `shared` (members split the streams). */
  readonly mode: GroupMode;
  /** How many partitions its streams are hashed into (1 when exclusive). */
  readonly partitionCount: number;
  /** The group's checkpoint: every event up to here is acknowledged (lowest of its partitions). */
  readonly checkpoint: number;
  /** The store's head (the watermark) when the status was read. */
  readonly head: number;
  /** `head - checkpoint`: positions not yet behind the group (an upper bound of events to deliver). */
  readonly lag: number;
  /** The bound set at runtime (`set-group-max-in-flight`), or null. */
  readonly maxInFlight: number | null;
  /** Credits held by unexpired members. */
  readonly inFlight: number;
  /** Unexpired members. */
  readonly members: GroupMember[];
  /** Every partition with its checkpoint and lease. */
  readonly leases: GroupLease[];
  /** Nacked events waiting for a retry (and requeued dead letters). */
  readonly retrying: number;
  /** Dead letters parked. */
  readonly deadLetters: number;
}

/**
 * Creates a group on first use (its partitions start at the subscription's
 * `startFrom`), or checks the mode of an existing one.
 *
 * @param context The store context.
 * @param subscription The subscription.
 * @param group The group.
 * @param mode The mode asked for.
 * @param partitionCount Partitions for a new shared group.
 * @returns The group's partition count.
 * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION`; `INVALID_INPUT` when the group has the other mode.
 */
export async function ensureGroup(
  context: StoreContext,
  subscription: string,
  group: string,
  mode: GroupMode,
  partitionCount: number,
): Promise<number> {
  const t = context.table;
  const count = mode === "exclusive" ? 1 : partitionCount;
  for (let attempt = 0; attempt < 3; attempt++) {
    const [row] = await context.executor.query<
      { exists: boolean; members: GroupMode | null; partition_count: number | null }
    >(
      `with s as (select start_from from ${t("subscriptions")} where name = $1),
       g as (
         insert into ${
        t("subscription_groups")
      } (subscription, group_name, members, partition_count)
         select $1, $2, $3, $4 from s
         on conflict (subscription, group_name) do nothing
         returning members, partition_count
       ), p as (
         insert into ${
        t("subscription_partitions")
      } (subscription, group_name, partition, checkpoint)
         select $1, $2, n, s.start_from from g, s, generate_series(0, g.partition_count - 1) as n
         returning partition
       ), l as (
         insert into ${t("subscription_leases")} (subscription, group_name, partition)
         select $1, $2, partition from p
       )
       select exists (select 1 from s) as exists,
              coalesce((select members from g), (select members from ${t("subscription_groups")}
                where subscription = $1 and group_name = $2)) as members,
              coalesce((select partition_count from g), (select partition_count
                from ${t("subscription_groups")} where subscription = $1 and group_name = $2))
                as partition_count`,
      [subscription, group, mode, count],
    );
    if (!row?.exists) throw unknownSubscription(subscription);
    // A concurrent creator committed after this statement's snapshot: read again.
    if (row.members === null || row.partition_count === null) continue;
    if (row.members !== mode) {
      throw new RillflowError(
        "INVALID_INPUT",
        `Group "${group}" of subscription "${subscription}" is ${row.members}, not ${mode}: ` +
          `subscribe with members: "${row.members}" or use another group`,
        { details: { subscription, group, mode: row.members } },
      );
    }
    return row.partition_count;
  }
  throw new RillflowError(
    "DATABASE_ERROR",
    `Cannot create group "${group}" of subscription "${subscription}": it kept changing`,
    { retryable: true },
  );
}

function unknownGroup(subscription: string, group: string): RillflowError {
  return new RillflowError(
    "UNKNOWN_SUBSCRIPTION",
    `Subscription "${subscription}" has no group "${group}": groups are created by subscribe()`,
    { details: { subscription, group } },
  );
}

/**
 * Sets (or with null, unsets) a group's in-flight bound; members apply it at
 * their next reservation.
 *
 * @param context The store context.
 * @param subscription The subscription.
 * @param group The group.
 * @param value The bound, or null.
 * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION` for an unknown subscription or group.
 */
export async function setGroupMaxInFlight(
  context: StoreContext,
  subscription: string,
  group: string,
  value: number | null,
): Promise<void> {
  const rows = await context.executor.query(
    `update ${context.table("subscription_groups")} set max_in_flight = $3, updated_at = now()
      where subscription = $1 and group_name = $2 returning 1`,
    [subscription, group, value],
  );
  if (rows.length === 0) throw unknownGroup(subscription, group);
}

/**
 * Moves the checkpoints of a subscription's groups (or one group) to a
 * position, forgets their acks and retries, revokes their leases (new fencing
 * tokens) and evicts their members, who rejoin and resume from there.
 *
 * @param context The store context.
 * @param subscription The subscription.
 * @param position The new checkpoint.
 * @param group One group, or every group when undefined.
 * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION` for an unknown subscription or group.
 */
export async function resetGroups(
  context: StoreContext,
  subscription: string,
  position: number,
  group: string | undefined,
): Promise<void> {
  const t = context.table;
  const where = `subscription = $1 and ($2::text is null or group_name = $2)`;
  await context.executor.transaction(async (tx) => {
    const [found] = await tx.query<{ subscription: boolean; groups: number }>(
      `select exists (select 1 from ${t("subscriptions")} where name = $1) as subscription,
              (select count(*) from ${t("subscription_groups")} where ${where})::int as groups`,
      [subscription, group ?? null],
    );
    if (!found!.subscription) throw unknownSubscription(subscription);
    if (group !== undefined && found!.groups === 0) throw unknownGroup(subscription, group);
    const params = [subscription, group ?? null];
    // Lease rows in partition order, as members lock them: no deadlock with a member's write.
    await tx.query(
      `select 1 from ${t("subscription_leases")} where ${where}
        order by group_name, partition for no key update`,
      params,
    );
    await tx.query(
      `update ${t("subscription_leases")}
          set lease_owner = null, lease_expires_at = null, fencing_token = fencing_token + 1
        where ${where}`,
      params,
    );
    await tx.query(
      `update ${t("subscription_partitions")} set checkpoint = $3, updated_at = now()
        where ${where}`,
      [...params, position],
    );
    for (const table of ["subscription_acks", "subscription_retries", "subscription_members"]) {
      await tx.query(`delete from ${t(table)} where ${where}`, params);
    }
    await tx.query(
      `update ${t("subscriptions")} set updated_at = now() where name = $1`,
      [subscription],
    );
  });
}
