/**
 * Storage of subscription definitions: one SQL operation per function on the
 * `subscriptions` table (groups and their state live in `groups.ts`).
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import type { StoredFilter } from "./filter.ts";

/** A stored subscription, as `list()` returns it. */
export interface SubscriptionInfo {
  /** The subscription's name. */
  readonly name: string;
  /** Which events it delivers. */
  readonly filter: StoredFilter;
  /** Where groups created from now on start. */
  readonly startFrom: number;
  /** Whether delivery is paused for every group. */
  readonly paused: boolean;
  /** How many consumer groups it has. */
  readonly groupCount: number;
  /** When it was created. */
  readonly createdAt: Date;
  /** When its definition or state last changed. */
  readonly updatedAt: Date;
}

interface SubscriptionRow {
  name: string;
  filter: StoredFilter;
  start_from: number;
  paused: boolean;
  group_count: number;
  created_at: Date;
  updated_at: Date;
}

const toInfo = (row: SubscriptionRow): SubscriptionInfo => ({
  name: row.name,
  filter: row.filter,
  startFrom: row.start_from,
  paused: row.paused,
  groupCount: row.group_count,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

/**
 * The error for a subscription that does not exist.
 *
 * @param name The name asked for.
 * @returns A `UNKNOWN_SUBSCRIPTION` error.
 */
export function unknownSubscription(name: string): RillflowError {
  return new RillflowError(
    "UNKNOWN_SUBSCRIPTION",
    `Unknown subscription "${name}": create it with subscriptions.create() or ` +
      "`rillflow subscriptions create`",
    { details: { subscription: name } },
  );
}

/**
 * Creates a subscription, or replaces the filter and start position of an
 * existing one; its groups keep their checkpoints.
 *
 * @param context The store context.
 * @param name The subscription.
 * @param filter Its filter.
 * @param startFrom Where groups created from now on start.
 * @returns Whether it was created (false: updated).
 */
export async function upsertSubscription(
  context: StoreContext,
  name: string,
  filter: StoredFilter,
  startFrom: number,
): Promise<boolean> {
  const [row] = await context.executor.query<{ created: boolean }>(
    `insert into ${context.table("subscriptions")} as s (name, filter, start_from)
     values ($1, $2::jsonb, $3)
     on conflict (name) do update
        set filter = excluded.filter, start_from = excluded.start_from, updated_at = now()
     returning (xmax = 0) as created`,
    [name, JSON.stringify(filter), startFrom],
  );
  return row!.created;
}

const SELECT_INFO = (context: StoreContext) =>
  `select s.name, s.filter, s.start_from, s.paused, s.created_at, s.updated_at,
          (select count(*) from ${context.table("subscription_groups")} g
            where g.subscription = s.name)::int as group_count
     from ${context.table("subscriptions")} s`;

/**
 * Lists every subscription, by name.
 *
 * @param context The store context.
 * @returns The subscriptions.
 */
export async function listSubscriptions(context: StoreContext): Promise<SubscriptionInfo[]> {
  const rows = await context.executor.query<SubscriptionRow>(
    `${SELECT_INFO(context)} order by s.name`,
  );
  return rows.map(toInfo);
}

/**
 * Reads one subscription.
 *
 * @param db Where to read.
 * @param context The store context.
 * @param name The subscription.
 * @returns Its definition.
 * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION`.
 */
export async function readSubscription(
  db: Queryable,
  context: StoreContext,
  name: string,
): Promise<SubscriptionInfo> {
  const [row] = await db.query<SubscriptionRow>(`${SELECT_INFO(context)} where s.name = $1`, [
    name,
  ]);
  if (!row) throw unknownSubscription(name);
  return toInfo(row);
}

/**
 * Pauses or resumes delivery for every group of a subscription.
 *
 * @param context The store context.
 * @param name The subscription.
 * @param paused The new state.
 * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION`.
 */
export async function setPaused(
  context: StoreContext,
  name: string,
  paused: boolean,
): Promise<void> {
  const rows = await context.executor.query(
    `update ${context.table("subscriptions")} set paused = $2, updated_at = now()
      where name = $1 returning name`,
    [name, paused],
  );
  if (rows.length === 0) throw unknownSubscription(name);
}

/**
 * Deletes a subscription with its groups, checkpoints, acks, retries and dead letters.
 *
 * @param context The store context.
 * @param name The subscription.
 * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION`.
 */
export async function deleteSubscription(context: StoreContext, name: string): Promise<void> {
  const rows = await context.executor.query(
    `delete from ${context.table("subscriptions")} where name = $1 returning name`,
    [name],
  );
  if (rows.length === 0) throw unknownSubscription(name);
}
