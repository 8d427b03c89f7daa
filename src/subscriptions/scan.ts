/**
 * Reading a member's next events: the no-skip read of invariant 1 (watermark
 * first, events `<= watermark` in a later statement) restricted to the
 * subscription's filter (read from its row in the same statement, so a
 * changed filter applies to the next read) and to the member's partitions (stream hash modulo
 * the group's partition count), skipping acknowledged events and carrying
 * each event's retry state. Dead letters put back by dlq-requeue are read
 * separately: they sit below the checkpoint.
 *
 * @module
 */
import { eventSettings } from "../events/settings.ts";
import type { StoreContext } from "../_context.ts";
import { ENVELOPE_COLUMNS, type EventRow, toEnvelope } from "../events/envelope.ts";
import { readWatermark } from "../events/watermark.ts";
import { renameParams, seenTypeJoin, seenTypeSql } from "../events/type_filter.ts";
import type { MemberRef } from "./progress.ts";
import type { FetchedEvent } from "./tracker.ts";

/** The SQL expression of an events row's partition; `$P` is the partition count. */
export const partitionSql = (alias: string, countParam: string): string =>
  `((hashtext(${alias}.stream_id::text) & 2147483647) % ${countParam})`;

interface ScanRow extends EventRow {
  partition: number;
  attempts: number | null;
  due_in_ms: number | null;
  requeued: boolean | null;
}

/** What one scan returned. */
export interface ScanResult {
  /** The events found, ascending. */
  readonly events: FetchedEvent[];
  /** Every matching event of the scanned partitions up to here was returned. */
  readonly scannedTo: number;
  /** The watermark the scan read under. */
  readonly head: number;
}

/**
 * How many positions one scan covers: a bounded window keeps each read
 * proportional to a batch whatever the backlog and whatever plan the server
 * picks; sparse filters double it, a full batch brings it back.
 */
export class ScanWindow {
  #size: number;

  /** @param batchSize The member's batch size (the smallest window). */
  constructor(readonly batchSize: number) {
    this.#size = batchSize;
  }

  /** The current window, in positions. */
  get size(): number {
    return this.#size;
  }

  /**
   * Adapts after a scan.
   *
   * @param found How many events it returned.
   * @param limit The scan's limit.
   */
  adapt(found: number, limit: number): void {
    if (found >= limit) this.#size = this.batchSize;
    else if (found < limit / 2) this.#size = Math.min(this.#size * 2, 2 ** 40);
  }
}

const statements = new WeakMap<StoreContext, string>();

function scanSql(context: StoreContext): string {
  const t = context.table;
  // Acks and retries of the window are read once (usually none), not probed per event.
  return `with settled as materialized (
             select coalesce(array_agg(global_seq), '{}') as acked from ${t("subscription_acks")}
              where subscription = $1 and group_name = $2 and global_seq > $6 and global_seq <= $7
           ), retry as materialized (
             select global_seq, attempts, requeued, retry_at from ${t("subscription_retries")}
              where subscription = $1 and group_name = $2 and global_seq > $6 and global_seq <= $7
           ), f as (
             select case when filter ? 'eventTypes' then
                      array(select jsonb_array_elements_text(filter->'eventTypes')) end as types,
                    case when filter ? 'streamIds' then
                      array(select jsonb_array_elements_text(filter->'streamIds'))::uuid[] end
                      as streams,
                    case when filter ? 'categories' then
                      array(select jsonb_array_elements_text(filter->'categories')) end as categories
               from ${t("subscriptions")} where name = $1
           )
          select ${ENVELOPE_COLUMNS.split(", ").map((c) => `e.${c}`).join(", ")},
                 m.part as partition, r.attempts, r.requeued,
                 greatest(0, extract(epoch from r.retry_at - clock_timestamp()) * 1000)::float8 as due_in_ms
            from ${t("events")} e
            join unnest($3::int[], $4::bigint[]) as m(part, after)
              on m.part = ${partitionSql("e", "$5::int")} and e.global_seq > m.after
            left join retry r on r.global_seq = e.global_seq
            ${seenTypeJoin("e", 9)}
           cross join f
           cross join settled
           where e.global_seq > $6 and e.global_seq <= $7
             and (f.types is null or ${seenTypeSql("e")} = any(f.types))
             and (f.streams is null or e.stream_id = any(f.streams))
             and (f.categories is null or exists (
                   select 1 from ${t("streams")} s
                    where s.stream_id = e.stream_id and s.category = any(f.categories)))
             and not (e.global_seq = any(settled.acked))
           order by e.global_seq
           limit $8`;
}

function toFetched(row: ScanRow, nowMs: number): FetchedEvent {
  return {
    envelope: toEnvelope(row),
    partition: row.partition,
    attempts: row.attempts ?? 0,
    dueAtMs: row.due_in_ms && row.due_in_ms > 0 ? nowMs + row.due_in_ms : 0,
    requeued: row.requeued ?? false,
  };
}

/**
 * Reads the next events of the given partitions, at most `limit`.
 *
 * @param context The store context.
 * @param member The member reading.
 * @param partitionCount The group's partition count.
 * @param partitions The partitions to read.
 * @param after Per partition, the position after which to read.
 * @param limit At most this many events.
 * @param window How many positions past the lowest of `after` to cover at most.
 * @returns The events (upcast), how far the partitions are now scanned, and the head.
 */
export async function scanPartitions(
  context: StoreContext,
  member: MemberRef,
  partitionCount: number,
  partitions: readonly number[],
  after: readonly number[],
  limit: number,
  window: number,
): Promise<ScanResult> {
  const { executor } = context;
  const head = (await readWatermark(executor, context)).position;
  const from = Math.min(...after);
  if (partitions.length === 0 || head <= from) return { events: [], scannedTo: head, head };
  const upTo = Math.min(head, from + window);
  let text = statements.get(context);
  if (!text) statements.set(context, text = scanSql(context));
  const rows = await executor.query<ScanRow>(text, [
    member.subscription,
    member.group,
    partitions,
    after,
    partitionCount,
    from,
    upTo,
    limit,
    ...renameParams(context),
  ]);
  const nowMs = Date.now();
  const fetched = rows.map((row) => toFetched(row, nowMs));
  const upcast = await eventSettings(context).upcast(fetched.map((f) => f.envelope));
  const events = fetched.map((f, i) => ({ ...f, envelope: upcast[i]! }));
  const scannedTo = rows.length === limit ? rows[rows.length - 1]!.global_seq : upTo;
  return { events, scannedTo, head };
}

/**
 * Reads requeued dead letters of the given partitions that are due.
 *
 * @param context The store context.
 * @param member The member reading.
 * @param partitions Its partitions.
 * @param limit At most this many.
 * @returns The events (upcast), flagged `requeued`.
 */
export async function scanRequeued(
  context: StoreContext,
  member: MemberRef,
  partitions: readonly number[],
  limit: number,
): Promise<FetchedEvent[]> {
  if (partitions.length === 0) return [];
  const rows = await context.executor.query<ScanRow>(
    `select ${ENVELOPE_COLUMNS.split(", ").map((c) => `e.${c}`).join(", ")},
            r.partition, r.attempts, r.requeued, 0::float8 as due_in_ms
       from ${context.table("subscription_retries")} r
       join ${context.table("events")} e on e.global_seq = r.global_seq
      where r.subscription = $1 and r.group_name = $2 and r.requeued
        and r.retry_at <= clock_timestamp() and r.partition = any($3::int[])
      order by r.global_seq
      limit $4`,
    [member.subscription, member.group, partitions, limit],
  );
  const fetched = rows.map((row) => toFetched(row, Date.now()));
  const upcast = await eventSettings(context).upcast(fetched.map((f) => f.envelope));
  return fetched.map((f, i) => ({ ...f, envelope: upcast[i]! }));
}
