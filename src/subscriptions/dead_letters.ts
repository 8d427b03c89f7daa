/**
 * A subscription's dead letters: events nacked `maxAttempts` times, parked
 * with their last error. Requeueing puts one back for redelivery (to the
 * member holding its stream's partition, out of global order, once more up to
 * `maxAttempts` nacks).
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import type { EventEnvelope } from "../events/envelope.ts";
import { RillflowError } from "../errors.ts";
import { partitionSql } from "./scan.ts";

/** A parked event. */
export interface SubscriptionDeadLetter {
  /** The dead letter's id (for requeue and delete). */
  readonly id: number;
  /** The group that gave up on it. */
  readonly group: string;
  /** The event's position. */
  readonly globalSeq: number;
  /** The event as it was delivered. */
  readonly envelope: EventEnvelope;
  /** The error given with the last nack. */
  readonly error: string;
  /** How many times it was nacked. */
  readonly attempts: number;
  /** When it was parked. */
  readonly createdAt: Date;
}

interface DeadLetterRow {
  id: number;
  group_name: string;
  global_seq: number;
  envelope: EventEnvelope & { createdAt: string };
  error: string;
  attempts: number;
  created_at: Date;
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
  const rows = await context.executor.query<DeadLetterRow>(
    `select id, group_name, global_seq, envelope, error, attempts, created_at
       from ${context.table("subscription_dead_letters")}
      where subscription = $1 and ($2::text is null or group_name = $2)
      order by id limit $3`,
    [subscription, options.group ?? null, options.limit ?? 100],
  );
  return rows.map((row) => ({
    id: row.id,
    group: row.group_name,
    globalSeq: row.global_seq,
    envelope: { ...row.envelope, createdAt: new Date(row.envelope.createdAt) },
    error: row.error,
    attempts: row.attempts,
    createdAt: new Date(row.created_at),
  }));
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
  await context.executor.transaction(async (tx) => {
    const [row] = await tx.query<{ group_name: string; global_seq: number; partition: number }>(
      `with dead as (
         delete from ${t("subscription_dead_letters")} where subscription = $1 and id = $2
         returning group_name, global_seq
       )
       select dead.group_name, dead.global_seq, ${partitionSql("e", "g.partition_count")} as partition
         from dead
         join ${t("events")} e on e.global_seq = dead.global_seq
         join ${t("subscription_groups")} g
           on g.subscription = $1 and g.group_name = dead.group_name`,
      [subscription, id],
    );
    if (!row) throw noDeadLetter(subscription, id);
    await tx.query(
      `delete from ${t("subscription_acks")}
        where subscription = $1 and group_name = $2 and global_seq = $3`,
      [subscription, row.group_name, row.global_seq],
    );
    await tx.query(
      `insert into ${t("subscription_retries")} as r
         (subscription, group_name, global_seq, partition, attempts, retry_at, requeued)
       values ($1, $2, $3, $4, 0, now(), true)
       on conflict (subscription, group_name, global_seq) do update
          set attempts = 0, retry_at = now(), requeued = true`,
      [subscription, row.group_name, row.global_seq, row.partition],
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
  const rows = await context.executor.query(
    `delete from ${context.table("subscription_dead_letters")}
      where subscription = $1 and id = $2 returning id`,
    [subscription, id],
  );
  if (rows.length === 0) throw noDeadLetter(subscription, id);
}
