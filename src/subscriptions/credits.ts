/**
 * The in-flight bound of a consumer group: before delivering, a member
 * reserves credits; acks, nacks and leaving give them back. The sum of the
 * credits of a group's unexpired members never exceeds its `maxInFlight`
 * (the group's stored value, set at runtime by the CLI, else the member's
 * option): reservations of a bounded group serialise on the group row.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import type { MemberRef } from "./progress.ts";

/** The outcome of a reservation, with the group figures metrics report. */
export interface Reservation {
  /** Credits granted (0 when paused, at the bound, or evicted). */
  readonly granted: number;
  /** Whether the subscription is paused. */
  readonly paused: boolean;
  /** Whether the member's row is gone (reset, or expired and reaped): it must rejoin. */
  readonly evicted: boolean;
  /** Whether the subscription or group no longer exists. */
  readonly deleted: boolean;
  /** The bound in force, or null when unbounded. */
  readonly maxInFlight: number | null;
  /** Credits held by the group's unexpired members after this reservation. */
  readonly groupInFlight: number;
  /** The group's checkpoint (lowest of its partitions). */
  readonly checkpoint: number;
}

interface GroupRow {
  max_in_flight: number | null;
  paused: boolean;
  member: boolean;
  granted: number;
  group_in_flight: number;
  checkpoint: number;
}

function figures(context: StoreContext): string {
  const t = context.table;
  return `(select coalesce(sum(in_flight), 0)::int from ${t("subscription_members")}
            where subscription = $1 and group_name = $2 and expires_at > clock_timestamp()) as group_in_flight,
          (select coalesce(min(checkpoint), 0) from ${t("subscription_partitions")}
            where subscription = $1 and group_name = $2) as checkpoint`;
}

/**
 * Reserves up to `want` credits for a member.
 *
 * @param context The store context.
 * @param member The member.
 * @param want How many it would deliver now.
 * @param memberMax The member's `maxInFlight` option (the group's stored value wins).
 * @returns What was granted and the group's figures.
 */
export async function reserveCredits(
  context: StoreContext,
  member: MemberRef,
  want: number,
  memberMax: number | null,
): Promise<Reservation> {
  const t = context.table;
  const params = [member.subscription, member.group, member.memberId, want, memberMax];
  // Unbounded groups need no lock: one statement reserves when no bound is in force.
  const [fast] = await context.executor.query<GroupRow>(
    `with g as (
       select g.max_in_flight, s.paused from ${t("subscription_groups")} g
         join ${t("subscriptions")} s on s.name = g.subscription
        where g.subscription = $1 and g.group_name = $2
     ), m as (
       update ${t("subscription_members")} set in_flight = in_flight + $4
        where subscription = $1 and group_name = $2 and member_id = $3
          and exists (select 1 from g where g.max_in_flight is null and not g.paused)
          and $5::int is null
       returning in_flight
     )
     select g.max_in_flight, g.paused, (select count(*) from m)::int * $4::int as granted,
            -- No bound is in force here, so a reservation lost in a server crash costs nothing.
            set_config('synchronous_commit', 'off', true) as async,
            exists (select 1 from ${t("subscription_members")}
                     where subscription = $1 and group_name = $2 and member_id = $3) as member,
            ${figures(context)}
       from g`,
    params,
  );
  if (!fast) return deletedReservation();
  const bounded = fast.max_in_flight !== null || memberMax !== null;
  if (!bounded || fast.paused || !fast.member) return toReservation(fast, memberMax);
  return await context.executor.transaction(async (tx) => {
    const [locked] = await tx.query<{ max_in_flight: number | null; paused: boolean }>(
      `select g.max_in_flight, s.paused from ${t("subscription_groups")} g
         join ${t("subscriptions")} s on s.name = g.subscription
        where g.subscription = $1 and g.group_name = $2
          for no key update of g`,
      [member.subscription, member.group],
    );
    if (!locked) return deletedReservation();
    const limit = locked.max_in_flight ?? memberMax;
    const [row] = await tx.query<GroupRow>(
      `with granted as (
         select greatest(0, least($4::int, coalesce($5::int, $4::int) - coalesce(sum(in_flight), 0)))::int
                  as n
           from ${t("subscription_members")}
          where subscription = $1 and group_name = $2 and expires_at > clock_timestamp()
       ), m as (
         update ${t("subscription_members")} set in_flight = in_flight + (select n from granted)
          where subscription = $1 and group_name = $2 and member_id = $3 and not $6::boolean
         returning in_flight
       )
       select case when exists (select 1 from m) then (select n from granted) else 0 end
                as granted,
              exists (select 1 from m) or $6::boolean as member,
              $5::int as max_in_flight, $6::boolean as paused, ${figures(context)}`,
      [member.subscription, member.group, member.memberId, want, limit, locked.paused],
    );
    return toReservation(row!, limit);
  });
}

function toReservation(row: GroupRow, memberMax: number | null): Reservation {
  return {
    granted: row.granted,
    paused: row.paused,
    evicted: !row.member,
    deleted: false,
    maxInFlight: row.max_in_flight ?? memberMax,
    // The figures were read in the reserving statement's snapshot, before its own update.
    groupInFlight: row.group_in_flight + row.granted,
    checkpoint: row.checkpoint,
  };
}

function deletedReservation(): Reservation {
  return {
    granted: 0,
    paused: false,
    evicted: false,
    deleted: true,
    maxInFlight: null,
    groupInFlight: 0,
    checkpoint: 0,
  };
}
