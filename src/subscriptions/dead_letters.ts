/**
 * A subscription's dead letters: events nacked `maxAttempts` times, parked
 * with their last error. Requeueing puts one back for redelivery (to the
 * member holding its stream's partition, out of global order, once more up to
 * `maxAttempts` nacks).
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import {
  type DeadLetter,
  type DeadLetterQueue,
  listDeadLetters as listQueue,
  takeDeadLetter,
} from "../processing/dead_letters.ts";
import { partitionSql } from "./scan.ts";

/** A parked event of a subscription, with the group that gave up on it. */
export interface SubscriptionDeadLetter extends DeadLetter {
  /** The group that gave up on it. */
  readonly group: string;
}

/**
 * The dead-letter queue of one group.
 *
 * @param context The store context.
 * @param subscription The subscription.
 * @param group The group.
 * @returns The queue, for the shared dead-letter functions.
 */
export function groupDeadLetterQueue(
  context: StoreContext,
  subscription: string,
  group: string,
): DeadLetterQueue {
  return {
    table: context.table("subscription_dead_letters"),
    ownerColumns: ["subscription", "group_name"],
    owner: [subscription, group],
  };
}

function noDeadLetter(subscription: string, id: number): RillflowError {
  return new RillflowError(
    "INVALID_INPUT",
    `Subscription "${subscription}" has no dead letter ${id}`,
    { details: { subscription, id } },
  );
}

/**
 * Lists dead letters, oldest first.
 *
 * @param context The store context.
 * @param subscription The subscription.
 * @param options One group only; at most `limit` (default 100).
 * @returns The dead letters.
 */
export async function listDeadLetters(
  context: StoreContext,
  subscription: string,
  options: { group?: string; limit?: number } = {},
): Promise<SubscriptionDeadLetter[]> {
  const limit = options.limit ?? 100;
  const groups = options.group !== undefined
    ? [options.group]
    : (await context.executor.query<{ group_name: string }>(
      `select distinct group_name from ${context.table("subscription_dead_letters")}
        where subscription = $1`,
      [subscription],
    )).map((row) => row.group_name);
  const all: SubscriptionDeadLetter[] = [];
  for (const group of groups) {
    const queue = groupDeadLetterQueue(context, subscription, group);
    for (const entry of await listQueue(context.executor, queue, limit)) {
      all.push({ ...entry, group });
    }
  }
  return all.sort((a, b) => a.id - b.id).slice(0, limit);
}

async function groupOf(context: StoreContext, subscription: string, id: number) {
  const [row] = await context.executor.query<{ group_name: string }>(
    `select group_name from ${context.table("subscription_dead_letters")}
      where subscription = $1 and id = $2`,
    [subscription, id],
  );
  if (!row) throw noDeadLetter(subscription, id);
  return row.group_name;
}

/**
 * Puts a dead letter back: removes it and schedules its event for redelivery
 * to its group now, in one transaction.
 *
 * @param context The store context.
 * @param subscription The subscription.
 * @param id The dead letter's id.
 * @throws {RillflowError} `INVALID_INPUT` when there is no such dead letter.
 */
export async function requeueDeadLetter(
  context: StoreContext,
  subscription: string,
  id: number,
): Promise<void> {
  const t = context.table;
  const group = await groupOf(context, subscription, id);
  await context.executor.transaction(async (tx) => {
    const entry = await takeDeadLetter(tx, groupDeadLetterQueue(context, subscription, group), id);
    if (!entry) throw noDeadLetter(subscription, id);
    const params = [subscription, group, entry.globalSeq];
    await tx.query(
      `delete from ${t("subscription_acks")}
        where subscription = $1 and group_name = $2 and global_seq = $3`,
      params,
    );
    await tx.query(
      `insert into ${t("subscription_retries")} as r
         (subscription, group_name, global_seq, partition, attempts, retry_at, requeued)
       select $1, $2, $3, ${partitionSql("s", "g.partition_count")}, 0, clock_timestamp(), true
         from (select $4::uuid as stream_id) s
         join ${t("subscription_groups")} g on g.subscription = $1 and g.group_name = $2
       on conflict (subscription, group_name, global_seq) do update
          set attempts = 0, retry_at = excluded.retry_at, requeued = true`,
      [...params, entry.envelope.streamId],
    );
  });
}

/**
 * Deletes a dead letter for good.
 *
 * @param context The store context.
 * @param subscription The subscription.
 * @param id The dead letter's id.
 * @throws {RillflowError} `INVALID_INPUT` when there is no such dead letter.
 */
export async function deleteDeadLetter(
  context: StoreContext,
  subscription: string,
  id: number,
): Promise<void> {
  const group = await groupOf(context, subscription, id);
  const entry = await takeDeadLetter(
    context.executor,
    groupDeadLetterQueue(context, subscription, group),
    id,
  );
  if (!entry) throw noDeadLetter(subscription, id);
}
