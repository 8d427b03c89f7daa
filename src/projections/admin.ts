/**
 * Operator actions on projections: status, pause and resume, checkpoint
 * resets, rebuild resets and dead-letter handling. Each is one statement or
 * one transaction.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import { ENVELOPE_COLUMNS, type EventRow, toEnvelope } from "../events/envelope.ts";
import { readWatermark } from "../events/watermark.ts";
import { setProjectionPosition } from "../telemetry/metrics.ts";
import {
  clearDeadLetters,
  type DeadLetter,
  errorText,
  findDeadLetter,
  listDeadLetters,
  takeDeadLetter,
} from "../processing/dead_letters.ts";
import type { Projection } from "../events/projection.ts";
import { upcastIsolating } from "./read_batch.ts";
import { handlerTx, inSchema, projectionDeadLetters } from "./tick.ts";

/** Where a projection stands. */
export interface ProjectionStatus {
  /** The projection's name. */
  readonly name: string;
  /** Whether the daemon asked has a handler registered under this name. */
  readonly registered: boolean;
  /** `paused`, `backoff` (waiting to retry), `behind` (events to apply) or `idle` (caught up). */
  readonly state: "paused" | "backoff" | "behind" | "idle";
  /** The last global position passed. */
  readonly checkpoint: number;
  /** The head it can read: the watermark. */
  readonly head: number;
  /** `head − checkpoint` (positions, so events of other types and rolled-back gaps count). */
  readonly lag: number;
  /** Whether it is paused. */
  readonly paused: boolean;
  /** The worker holding a live lease, or `null`. */
  readonly leaseOwner: string | null;
  /** When that lease expires, or `null`. */
  readonly leaseExpiresAt: Date | null;
  /** The lease's fencing token. */
  readonly fencingToken: number;
  /** Failed attempts on the event after the checkpoint. */
  readonly attempts: number;
  /** When the next attempt is due (while backing off), or `null`. */
  readonly nextAttemptAt: Date | null;
  /** The most recent error's text, or `null`. */
  readonly lastError: string | null;
  /** When it happened, or `null`. */
  readonly lastErrorAt: Date | null;
  /** Entries in the dead-letter queue. */
  readonly deadLetters: number;
}

interface StatusRow {
  name: string;
  checkpoint: number;
  paused: boolean;
  lease_owner: string | null;
  lease_expires_at: Date | string | null;
  fencing_token: number;
  attempts: number;
  next_attempt_at: Date | string | null;
  backing_off: boolean;
  last_error: string | null;
  last_error_at: Date | string | null;
  dead_letters: number;
}

const date = (value: Date | string | null) => value === null ? null : new Date(value);

/**
 * Reads the status of some or all projections.
 *
 * @param context The store context.
 * @param names Only these (all when undefined).
 * @param registered Names with a registered handler.
 * @returns The statuses, by name.
 */
export async function readStatuses(
  context: StoreContext,
  names: readonly string[] | undefined,
  registered: ReadonlySet<string>,
): Promise<ProjectionStatus[]> {
  const { position: head } = await readWatermark(context.executor, context);
  const rows = await context.executor.query<StatusRow>(
    `select p.name, p.checkpoint, p.paused, p.fencing_token, p.attempts, p.last_error, p.last_error_at,
            case when p.lease_expires_at > clock_timestamp() then p.lease_owner end as lease_owner,
            case when p.lease_expires_at > clock_timestamp() then p.lease_expires_at end as lease_expires_at,
            case when p.next_attempt_at > clock_timestamp() then p.next_attempt_at end as next_attempt_at,
            coalesce(p.next_attempt_at > clock_timestamp(), false) as backing_off,
            (select count(*) from ${context.table("projection_dead_letters")} d
              where d.projection = p.name)::int as dead_letters
       from ${context.table("projections")} p
      where $1::text[] is null or p.name = any($1::text[])
      order by p.name`,
    [names ?? null],
  );
  return rows.map((row) => {
    const lag = Math.max(0, head - row.checkpoint);
    const status: ProjectionStatus = {
      name: row.name,
      registered: registered.has(row.name),
      state: row.paused ? "paused" : row.backing_off ? "backoff" : lag > 0 ? "behind" : "idle",
      checkpoint: row.checkpoint,
      head,
      lag,
      paused: row.paused,
      leaseOwner: row.lease_owner,
      leaseExpiresAt: date(row.lease_expires_at),
      fencingToken: row.fencing_token,
      attempts: row.attempts,
      nextAttemptAt: date(row.next_attempt_at),
      lastError: row.last_error,
      lastErrorAt: date(row.last_error_at),
      deadLetters: row.dead_letters,
    };
    setProjectionPosition(context, row.name, status);
    return status;
  });
}

/**
 * The error for a name with neither a row nor a registration.
 *
 * @param name The projection.
 * @returns The error.
 */
export function unknownProjection(name: string): RillflowError {
  return new RillflowError(
    "UNKNOWN_PROJECTION",
    `Unknown projection "${name}": it is neither registered nor recorded in the database`,
    { details: { projection: name } },
  );
}

/**
 * Updates a projection's row; throws `UNKNOWN_PROJECTION` when there is none.
 *
 * @param context The store context.
 * @param name The projection.
 * @param set The assignments (trusted constant text; `$2…` are `params`).
 * @param params The values after the name.
 */
export async function updateProjection(
  context: StoreContext,
  name: string,
  set: string,
  params: readonly unknown[] = [],
): Promise<void> {
  const rows = await context.executor.query(
    `update ${context.table("projections")} set ${set}, updated_at = clock_timestamp()
      where name = $1 returning 1`,
    [name, ...params],
  );
  if (rows.length === 0) throw unknownProjection(name);
}

/**
 * Moves a projection's checkpoint and clears its retry state.
 *
 * @param context The store context.
 * @param name The projection.
 * @param position The new checkpoint: events after it are applied next.
 * @throws {RangeError} For a negative or non-integer position.
 * @throws {RillflowError} `INVALID_INPUT` when the position is past the head;
 *   `UNKNOWN_PROJECTION`.
 */
export async function resetCheckpoint(
  context: StoreContext,
  name: string,
  position: number,
): Promise<void> {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new RangeError(`A checkpoint must be a non-negative integer, got ${position}`);
  }
  const { position: head } = await readWatermark(context.executor, context);
  if (position > head) {
    throw new RillflowError(
      "INVALID_INPUT",
      `Cannot move projection "${name}" to position ${position}: the head is ${head}`,
      { details: { projection: name, position, head } },
    );
  }
  await updateProjection(
    context,
    name,
    "checkpoint = $2, attempts = 0, next_attempt_at = null",
    [position],
  );
}

/**
 * Clears a projection for a rebuild, in one transaction: its `reset` (the
 * read model) and `setup`, then checkpoint 0, retry state and dead letters.
 * The read model is reset first so that a batch still running elsewhere
 * either commits before it or is discarded by its checkpoint check.
 *
 * @param context The store context.
 * @param name The projection.
 * @param projection Its handlers.
 */
export async function resetForRebuild(
  context: StoreContext,
  name: string,
  projection: Projection,
): Promise<void> {
  await inSchema(context, async (tx) => {
    await projection.reset?.(handlerTx(tx));
    await projection.setup?.(handlerTx(tx));
    const rows = await tx.query(
      `update ${context.table("projections")}
          set checkpoint = 0, attempts = 0, next_attempt_at = null, last_error = null,
              last_error_at = null, updated_at = clock_timestamp()
        where name = $1 returning 1`,
      [name],
    );
    if (rows.length === 0) throw unknownProjection(name);
    await clearDeadLetters(tx, projectionDeadLetters(context, name));
  });
}

/**
 * Lists a projection's dead letters, oldest first.
 *
 * @param context The store context.
 * @param name The projection.
 * @param limit At most this many (default 100).
 * @returns The entries.
 * @throws {RangeError} For a non-positive limit.
 */
export function deadLetters(
  context: StoreContext,
  name: string,
  limit = 100,
): Promise<DeadLetter[]> {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }
  return listDeadLetters(context.executor, projectionDeadLetters(context, name), limit);
}

function missingDeadLetter(name: string, id: number): RillflowError {
  return new RillflowError(
    "INVALID_INPUT",
    `Projection "${name}" has no dead letter with id ${id}`,
    { details: { projection: name, id } },
  );
}

function assertId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new RangeError(`A dead-letter id must be a positive integer, got ${id}`);
  }
}

/**
 * Deletes one dead letter.
 *
 * @param context The store context.
 * @param name The projection.
 * @param id The entry.
 * @throws {RillflowError} `INVALID_INPUT` when there is no such entry.
 */
export async function deleteDeadLetter(
  context: StoreContext,
  name: string,
  id: number,
): Promise<void> {
  assertId(id);
  const taken = await takeDeadLetter(context.executor, projectionDeadLetters(context, name), id);
  if (!taken) throw missingDeadLetter(name, id);
}

/**
 * Applies one dead letter again and removes it, in one transaction; nothing
 * after it is re-applied and the checkpoint does not move. The event is
 * re-read and upcast (an upcaster may have been fixed); the stored envelope
 * is used when the event is gone. On failure the entry stays, with the new
 * error and one more attempt, and the error is rethrown.
 *
 * @param context The store context.
 * @param name The projection.
 * @param id The entry.
 * @param projection The projection's handlers.
 * @throws {RillflowError} `INVALID_INPUT` when there is no such entry.
 */
export async function requeueDeadLetter(
  context: StoreContext,
  name: string,
  id: number,
  projection: Projection,
): Promise<void> {
  assertId(id);
  const queue = projectionDeadLetters(context, name);
  const entry = await findDeadLetter(context.executor, queue, id);
  if (!entry) throw missingDeadLetter(name, id);
  const rows = await context.executor.query<EventRow>(
    `select ${ENVELOPE_COLUMNS} from ${context.table("events")} where global_seq = $1`,
    [entry.globalSeq],
  );
  const [fresh] = await upcastIsolating(context, rows.map(toEnvelope));
  const envelope = fresh && !("upcastError" in fresh) ? fresh.envelope : entry.envelope;
  let taken = false;
  try {
    await inSchema(context, async (tx) => {
      taken = (await takeDeadLetter(tx, queue, id)) !== null;
      if (!taken) throw missingDeadLetter(name, id);
      await projection.apply(envelope, handlerTx(tx));
    });
  } catch (error) {
    if (taken) {
      await context.executor.query(
        `update ${queue.table} set error = $2, attempts = attempts + 1 where id = $1`,
        [id, errorText(error)],
      );
    }
    throw error;
  }
}
