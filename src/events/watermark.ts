/**
 * The no-skip reader (ARCHITECTURE.md invariant 1).
 *
 * Appends take sequence numbers in one order and may commit in another. Every
 * append statement first reads the sequence's `last_value` and takes a
 * transaction-level *shared* advisory lock whose key carries it; all of its
 * positions are above that value. A reader reads `last_value` first, then the
 * lowest such key still held; the smaller of the two is the watermark. Events
 * at or below it are read in a later statement (a newer snapshot): every
 * transaction that could still fill a position at or below the watermark has
 * committed (commit becomes visible before its locks are released) or rolled
 * back (leaving a harmless gap).
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";

/** 2^48: the advisory key is `namespace · 2^48 + last_value`. */
const SHIFT = 281474976710656;

/**
 * The lock namespace of a schema: 1…32767 from a hash of its name, so readers
 * of one schema ignore other schemas' writers (a collision only delays a reader).
 *
 * @param schema The schema.
 * @returns The namespace number.
 */
export function lockNamespace(schema: string): number {
  let hash = 2166136261;
  for (const char of `rillflow:${schema}`) {
    hash ^= char.codePointAt(0)!;
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return (hash % 32767) + 1;
}

/**
 * SQL that takes the append lock; use as a gate before any `nextval` of the
 * statement. It has no column references, so the planner runs it once, as a
 * one-time filter, before the statement's rows are produced.
 *
 * `pg_sequence_last_value` reads the same `last_value` as selecting from the
 * sequence (NULL until the first `nextval`, when every position is above 0)
 * without a scan of the sequence relation; the namespace and the sequence are
 * constants of the store, spliced as a number and a validated, quoted name.
 *
 * @param context The store context.
 * @returns A boolean SQL expression that takes the lock and is always true.
 */
export function appendLockSql(context: StoreContext): string {
  const sequence = context.table("events_global_seq");
  // Compared with '' (void's text form) so the planner cannot fold the call away.
  return `pg_advisory_xact_lock_shared(${lockNamespace(context.schema)}::bigint * ${SHIFT} +
            coalesce(pg_sequence_last_value('${sequence}'::regclass), 0))::text = ''`;
}

/** A backend holding the watermark back. */
export interface BlockingBackend {
  /** The backend's process id. */
  readonly pid: number;
  /** Its state (`active`, `idle in transaction`, …). */
  readonly state: string;
  /** When its transaction started. */
  readonly xactStart: Date;
}

/** The position up to which readers may safely read. */
export interface Watermark {
  /** Every event at or below this position is committed or will never exist. */
  readonly position: number;
  /** How long the oldest blocking transaction has been open (0 when nothing holds it back). */
  readonly heldBackMs: number;
  /** The backends whose open appends hold it back. */
  readonly blockedBy: BlockingBackend[];
}

interface WatermarkRow {
  last_value: number;
  held: number | null;
  blockers: Array<{ pid: number; state: string | null; xact_start: string | null }> | null;
  held_back_ms: number | null;
}

/**
 * Reads the watermark. Run the events query in a *later* statement.
 *
 * @param db Where to read (not inside a transaction that appended).
 * @param context The store context.
 * @returns The watermark.
 */
export async function readWatermark(db: Queryable, context: StoreContext): Promise<Watermark> {
  // The lateral subquery depends on l.v, so last_value is read before pg_locks.
  const [row] = await db.query<WatermarkRow>(
    `select l.v as last_value, h.held, h.blockers, h.held_back_ms
       from (select case when is_called then last_value else last_value - 1 end as v
               from ${context.table("events_global_seq")}) l
       cross join lateral (
         select min(k.key) as held,
                json_agg(json_build_object('pid', k.pid, 'state', a.state, 'xact_start', a.xact_start))
                  filter (where k.key < l.v) as blockers,
                (extract(epoch from now() - min(a.xact_start) filter (where k.key < l.v)) * 1000)::float8
                  as held_back_ms
           from (select ((classid::bigint & 65535) << 32) | objid::bigint as key, pid
                   from pg_locks
                  where locktype = 'advisory' and objsubid = 1 and granted
                    and (classid::bigint >> 16) = $1
                    and database = (select oid from pg_database where datname = current_database())
                    and l.v is not null) k
           left join pg_stat_activity a on a.pid = k.pid
       ) h`,
    [lockNamespace(context.schema)],
  );
  const lastValue = row?.last_value ?? 0;
  const held = row?.held ?? null;
  const position = held === null ? lastValue : Math.min(lastValue, held);
  const blockedBy = (row?.blockers ?? []).map((b) => ({
    pid: b.pid,
    state: b.state ?? "unknown",
    xactStart: new Date(b.xact_start ?? Date.now()),
  }));
  return {
    position,
    heldBackMs: position < lastValue ? Math.max(0, Math.round(row?.held_back_ms ?? 0)) : 0,
    blockedBy: position < lastValue ? blockedBy : [],
  };
}
