/**
 * Dead-letter queues: events a handler gave up on, stored with the envelope
 * it was given and the error text. Shared by projections and subscriptions
 * (each has its own table, keyed by its owner columns).
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import type { EventEnvelope } from "../events/envelope.ts";

/** The table and owner of one dead-letter queue. Names are Rillflow's own constants. */
export interface DeadLetterQueue {
  /** The quoted, schema-qualified table. */
  readonly table: string;
  /** The owner columns (`projection`, or `subscription, group_name`). */
  readonly ownerColumns: readonly string[];
  /** The owner values, in the order of `ownerColumns`. */
  readonly owner: readonly unknown[];
}

/** An event a handler gave up on. */
export interface DeadLetter {
  /** The entry's id (for requeue and delete). */
  readonly id: number;
  /** The event's global position. */
  readonly globalSeq: number;
  /** The envelope as the handler received it. */
  readonly envelope: EventEnvelope;
  /** The last error's text. */
  readonly error: string;
  /** How many attempts were made. */
  readonly attempts: number;
  /** When it was dead-lettered. */
  readonly createdAt: Date;
}

interface DeadLetterRow {
  id: number;
  global_seq: number;
  envelope: EventEnvelope & { createdAt: string };
  error: string;
  attempts: number;
  created_at: Date | string;
}

const COLUMNS = "id, global_seq, envelope, error, attempts, created_at";

function ownerCondition(queue: DeadLetterQueue): string {
  return queue.ownerColumns.map((column, i) => `${column} = $${i + 1}`).join(" and ");
}

function toDeadLetter(row: DeadLetterRow): DeadLetter {
  return {
    id: row.id,
    globalSeq: row.global_seq,
    envelope: { ...row.envelope, createdAt: new Date(row.envelope.createdAt) },
    error: row.error,
    attempts: row.attempts,
    createdAt: new Date(row.created_at),
  };
}

/**
 * The text stored for an error: its message (with the name when it is not a plain Error).
 *
 * @param error What the handler threw.
 * @returns One line of text.
 */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const name = error.name && error.name !== "Error" ? `${error.name}: ` : "";
    return `${name}${error.message}`;
  }
  return String(error);
}

/**
 * Adds an event to a queue.
 *
 * @param tx The transaction that moves the checkpoint past the event.
 * @param queue The queue.
 * @param envelope The event as the handler received it.
 * @param error What the handler threw.
 * @param attempts How many attempts were made.
 */
export async function addDeadLetter(
  tx: Queryable,
  queue: DeadLetterQueue,
  envelope: EventEnvelope,
  error: unknown,
  attempts: number,
): Promise<void> {
  const n = queue.ownerColumns.length;
  await tx.query(
    `insert into ${queue.table} (${
      queue.ownerColumns.join(", ")
    }, global_seq, envelope, error, attempts)
     values (${queue.owner.map((_, i) => `$${i + 1}`).join(", ")}, $${n + 1}, $${n + 2}::jsonb,
             $${n + 3}, $${n + 4})`,
    [...queue.owner, envelope.globalSeq, JSON.stringify(envelope), errorText(error), attempts],
  );
}

/**
 * Lists a queue, oldest first.
 *
 * @param db Where to read.
 * @param queue The queue.
 * @param limit At most this many entries.
 * @returns The entries.
 */
export async function listDeadLetters(
  db: Queryable,
  queue: DeadLetterQueue,
  limit: number,
): Promise<DeadLetter[]> {
  const rows = await db.query<DeadLetterRow>(
    `select ${COLUMNS} from ${queue.table} where ${ownerCondition(queue)}
      order by id limit $${queue.ownerColumns.length + 1}`,
    [...queue.owner, limit],
  );
  return rows.map(toDeadLetter);
}

/**
 * Reads one entry.
 *
 * @param db Where to read.
 * @param queue The queue.
 * @param id The entry's id.
 * @returns The entry, or `null` when the queue has no such entry.
 */
export async function findDeadLetter(
  db: Queryable,
  queue: DeadLetterQueue,
  id: number,
): Promise<DeadLetter | null> {
  const [row] = await db.query<DeadLetterRow>(
    `select ${COLUMNS} from ${queue.table} where ${ownerCondition(queue)} and id = $${
      queue.ownerColumns.length + 1
    }`,
    [...queue.owner, id],
  );
  return row ? toDeadLetter(row) : null;
}

/**
 * Removes one entry and returns it (to requeue it in the same transaction).
 *
 * @param db Where to run.
 * @param queue The queue.
 * @param id The entry's id.
 * @returns The removed entry, or `null` when the queue has no such entry.
 */
export async function takeDeadLetter(
  db: Queryable,
  queue: DeadLetterQueue,
  id: number,
): Promise<DeadLetter | null> {
  const [row] = await db.query<DeadLetterRow>(
    `delete from ${queue.table} where ${ownerCondition(queue)} and id = $${
      queue.ownerColumns.length + 1
    } returning ${COLUMNS}`,
    [...queue.owner, id],
  );
  return row ? toDeadLetter(row) : null;
}

/**
 * Empties a queue.
 *
 * @param db Where to run.
 * @param queue The queue.
 * @returns How many entries were removed.
 */
export async function clearDeadLetters(db: Queryable, queue: DeadLetterQueue): Promise<number> {
  const rows = await db.query(
    `delete from ${queue.table} where ${ownerCondition(queue)} returning 1`,
    queue.owner,
  );
  return rows.length;
}
