/**
 * Reading the state of consumer groups for `groups`, `group-status` and
 * `status`: one statement for every group of a subscription (or one group).
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { readWatermark } from "../events/watermark.ts";
import type { GroupLease, GroupMember, GroupMode, GroupStatus } from "./groups.ts";

interface StatusRow {
  group_name: string;
  members: GroupMode;
  partition_count: number;
  max_in_flight: number | null;
  checkpoint: number;
  in_flight: number;
  retrying: number;
  dead_letters: number;
  live: Array<
    {
      memberId: string;
      inFlight: number;
      joinedAt: string;
      expiresAt: string;
      partitions: number[];
    }
  >;
  leases: Array<
    {
      partition: number;
      checkpoint: number;
      owner: string | null;
      expiresAt: string | null;
      fencingToken: number;
    }
  >;
}

function statusSql(context: StoreContext): string {
  const t = context.table;
  const same = (alias: string) =>
    `${alias}.subscription = g.subscription and ${alias}.group_name = g.group_name`;
  return `select g.group_name, g.members, g.partition_count, g.max_in_flight,
       (select coalesce(min(checkpoint), 0) from ${t("subscription_partitions")} p
         where ${same("p")}) as checkpoint,
       (select coalesce(sum(in_flight), 0)::int from ${t("subscription_members")} m
         where ${same("m")} and m.expires_at > clock_timestamp()) as in_flight,
       (select count(*)::int from ${t("subscription_retries")} r where ${same("r")}) as retrying,
       (select count(*)::int from ${t("subscription_dead_letters")} d where ${same("d")})
         as dead_letters,
       coalesce((select json_agg(json_build_object(
           'memberId', m.member_id, 'inFlight', m.in_flight, 'joinedAt', m.joined_at,
           'expiresAt', m.expires_at,
           'partitions', coalesce((select json_agg(l.partition order by l.partition)
              from ${t("subscription_leases")} l
             where ${
    same("l")
  } and l.lease_owner = m.member_id and l.lease_expires_at > clock_timestamp()), '[]'::json))
           order by m.member_id)
          from ${t("subscription_members")} m where ${
    same("m")
  } and m.expires_at > clock_timestamp()),
         '[]'::json) as live,
       coalesce((select json_agg(json_build_object(
           'partition', p.partition, 'checkpoint', p.checkpoint,
           'owner', case when l.lease_expires_at > clock_timestamp() then l.lease_owner end,
           'expiresAt', case when l.lease_expires_at > clock_timestamp() then l.lease_expires_at end,
           'fencingToken', l.fencing_token) order by p.partition)
          from ${t("subscription_partitions")} p
          join ${t("subscription_leases")} l
            on l.subscription = p.subscription and l.group_name = p.group_name
           and l.partition = p.partition
         where ${same("p")}), '[]'::json) as leases
  from ${t("subscription_groups")} g
 where g.subscription = $1 and ($2::text is null or g.group_name = $2)
 order by g.group_name`;
}

function toMember(m: StatusRow["live"][number]): GroupMember {
  return {
    memberId: m.memberId,
    inFlight: m.inFlight,
    joinedAt: new Date(m.joinedAt),
    expiresAt: new Date(m.expiresAt),
    partitions: m.partitions,
  };
}

function toLease(l: StatusRow["leases"][number]): GroupLease {
  return {
    partition: l.partition,
    checkpoint: l.checkpoint,
    owner: l.owner,
    expiresAt: l.expiresAt === null ? null : new Date(l.expiresAt),
    fencingToken: l.fencingToken,
  };
}

/**
 * Reads the status of a subscription's groups.
 *
 * @param context The store context.
 * @param subscription The subscription (assumed to exist).
 * @param group One group, or all when undefined.
 * @returns The groups, by name.
 */
export async function readGroupStatuses(
  context: StoreContext,
  subscription: string,
  group?: string,
): Promise<GroupStatus[]> {
  const head = (await readWatermark(context.executor, context)).position;
  const rows = await context.executor.query<StatusRow>(statusSql(context), [
    subscription,
    group ?? null,
  ]);
  return rows.map((row) => ({
    subscription,
    group: row.group_name,
    mode: row.members,
    partitionCount: row.partition_count,
    checkpoint: row.checkpoint,
    head,
    lag: Math.max(0, head - row.checkpoint),
    maxInFlight: row.max_in_flight,
    inFlight: row.in_flight,
    members: row.live.map(toMember),
    leases: row.leases.map(toLease),
    retrying: row.retrying,
    deadLetters: row.dead_letters,
  }));
}
