/**
 * One batch of one projection: lease, read through the watermark, apply,
 * and move the checkpoint in the transaction that wrote the read model
 * (invariant 2), fenced by the lease's token (invariant 6).
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import type { InternalTx, Tx } from "../db/executor.ts";
import { quoteIdent } from "../db/identifiers.ts";
import { recordProjectionBatch, setProjectionPosition } from "../telemetry/metrics.ts";
import { withSpan } from "../telemetry/tracing.ts";
import { applyUntilFailure } from "./apply_batch.ts";
import { backoffDelayMs, exhausted } from "../processing/backoff.ts";
import { addDeadLetter, type DeadLetterQueue, errorText } from "../processing/dead_letters.ts";
import type { ResolvedDaemonOptions } from "./daemon_options.ts";
import {
  assertLeaseHeld,
  fenceCondition,
  type HeldLease,
  holdLease,
  type Lease,
  type LeaseTarget,
} from "../processing/lease.ts";
import type { Projection } from "../events/projection.ts";
import { type Batch, type BatchItem, readBatch } from "./read_batch.ts";

/** What one tick did. */
export interface TickResult {
  /**
   * `processed`: a batch committed (or was discarded for a concurrent reset: tick again);
   * `idle`: caught up; `paused`; `backoff`: waiting to retry a failing event;
   * `leased-by-other`: another worker holds the lease.
   */
  readonly status: "idle" | "paused" | "backoff" | "leased-by-other" | "processed";
  /** Events applied. */
  readonly count: number;
  /** Events moved to the dead-letter queue. */
  readonly deadLettered: number;
  /** When `status` is `backoff`: milliseconds until the next attempt. */
  readonly retryInMs?: number;
  /** The checkpoint after the tick (when this worker held the lease). */
  readonly checkpoint?: number;
  /** The head the projection can read (when this worker read it). */
  readonly head?: number;
}

/** A registered projection and its once-per-process preparation. */
export interface Registration {
  readonly name: string;
  readonly projection: Projection;
  prepared?: Promise<void>;
  /** The lease this worker believes it holds. */
  lease?: HeldLease;
}

/** What a tick needs from its daemon. */
export interface TickRuntime {
  readonly context: StoreContext;
  readonly options: ResolvedDaemonOptions;
}

interface StateRow extends Record<string, unknown> {
  checkpoint: number;
  paused: boolean;
  attempts: number;
  retry_in_ms: number;
}

/** The retry state written with the checkpoint. */
interface Outcome {
  readonly applied: number;
  readonly deadLettered: number;
  readonly failures: number;
  readonly checkpoint: number;
  readonly attempts: number;
  readonly retryInMs: number | null;
  readonly lastError: string | null;
}

/** The projection state read with the lease. */
const STATE_COLUMNS = [
  "checkpoint",
  "paused",
  "attempts",
  `coalesce(greatest(0, ceil(extract(epoch from next_attempt_at - clock_timestamp()) * 1000)), 0)::int
     as retry_in_ms`,
];

/** Thrown inside the batch transaction to roll it back when an operator moved the checkpoint. */
class Superseded extends Error {}

/**
 * The lease row of a projection.
 *
 * @param context The store context.
 * @param name The projection.
 * @returns The target.
 */
export function projectionLeaseTarget(context: StoreContext, name: string): LeaseTarget {
  return {
    table: context.table("projections"),
    keyColumns: ["name"],
    key: [name],
    label: `projection "${name}"`,
  };
}

/**
 * The dead-letter queue of a projection.
 *
 * @param context The store context.
 * @param name The projection.
 * @returns The queue.
 */
export function projectionDeadLetters(context: StoreContext, name: string): DeadLetterQueue {
  return {
    table: context.table("projection_dead_letters"),
    ownerColumns: ["projection"],
    owner: [name],
  };
}

/**
 * The handle a handler receives: only `query` and `sql` of the transaction.
 *
 * @param tx The transaction.
 * @returns The handler's view of it.
 */
export function handlerTx(tx: InternalTx): Tx {
  return { query: tx.query, sql: tx.sql };
}

/**
 * Runs `work` in a transaction whose search_path is the store's schema, so
 * handlers reach their read-model tables unqualified.
 *
 * @param context The store context.
 * @param work The transaction's work.
 * @returns What `work` returned.
 */
export function inSchema<T>(
  context: StoreContext,
  work: (tx: InternalTx) => Promise<T>,
): Promise<T> {
  return context.executor.transaction(work, { searchPath: quoteIdent(context.schema) });
}

/**
 * Creates the projection's bookkeeping row and runs its `setup`, once per
 * registration (again after a failure).
 *
 * @param context The store context.
 * @param registration The projection.
 */
export function prepareProjection(
  context: StoreContext,
  registration: Registration,
): Promise<void> {
  registration.prepared ??= (async () => {
    await context.executor.query(
      `insert into ${
        context.table("projections")
      } (name) values ($1) on conflict (name) do nothing`,
      [registration.name],
    );
    const { setup } = registration.projection;
    if (setup) {
      await inSchema(context, async (tx) => {
        // Concurrent `create table if not exists` can still collide in the catalog.
        await tx.query("select pg_advisory_xact_lock(hashtextextended($1, 0))", [
          `rillflow:setup:${context.schema}:${registration.name}`,
        ]);
        await setup.call(registration.projection, handlerTx(tx));
      });
    }
  })().catch((error) => {
    registration.prepared = undefined;
    throw error;
  });
  return registration.prepared;
}

/**
 * Runs one batch of a projection.
 *
 * @param runtime The daemon's context and options.
 * @param registration The projection.
 * @returns What happened.
 * @throws {RillflowError} `LEASE_LOST` when another worker took the lease during the batch
 *   (nothing of the batch is committed); database errors as they come.
 */
export async function tickProjection(
  runtime: TickRuntime,
  registration: Registration,
): Promise<TickResult> {
  const started = performance.now();
  await prepareProjection(runtime.context, registration);
  const ready = await leaseAndRead(runtime, registration);
  if ("status" in ready) return ready;
  const writing = performance.now();
  let outcome: Outcome;
  try {
    outcome = await withSpan(
      "rillflow.projection.batch",
      {
        "rillflow.schema": runtime.context.schema,
        "rillflow.projection": registration.name,
        "rillflow.batch.events": ready.batch.items.length,
        "rillflow.batch.from": ready.row.checkpoint,
      },
      () => inSchema(runtime.context, (tx) => applyAndCommit(runtime, registration, tx, ready)),
    );
  } catch (error) {
    if (error instanceof Superseded) return { status: "processed", count: 0, deadLettered: 0 };
    registration.lease = undefined;
    throw error;
  }
  // The fenced checkpoint write renewed the lease.
  registration.lease = { ...ready.lease, renewedAt: writing };
  return report(runtime, registration, ready.batch, outcome, started);
}

/** A batch ready to apply under a lease. */
interface ReadyBatch {
  readonly lease: HeldLease;
  readonly row: StateRow;
  readonly batch: Batch;
}

/** Holds the lease, checks pause and backoff, and reads the batch (or says why not). */
async function leaseAndRead(
  runtime: TickRuntime,
  registration: Registration,
): Promise<ReadyBatch | TickResult> {
  const { context, options } = runtime;
  const acquired = await holdLease<StateRow>(
    context.executor,
    projectionLeaseTarget(context, registration.name),
    options.node,
    options.leaseTtlMs,
    STATE_COLUMNS,
    registration.lease,
  );
  registration.lease = acquired?.lease;
  if (!acquired) return { status: "leased-by-other", count: 0, deadLettered: 0 };
  const { lease, row } = acquired;
  const { checkpoint } = row;
  if (row.paused) return { status: "paused", count: 0, deadLettered: 0, checkpoint };
  if (row.retry_in_ms > 0) {
    return { status: "backoff", count: 0, deadLettered: 0, retryInMs: row.retry_in_ms, checkpoint };
  }
  const { eventTypes } = registration.projection;
  const batch = await readBatch(context, checkpoint, options.batchSize, eventTypes);
  if (batch.items.length === 0 && batch.end === checkpoint) {
    setProjectionPosition(context, registration.name, { checkpoint, head: batch.head });
    return { status: "idle", count: 0, deadLettered: 0, checkpoint, head: batch.head };
  }
  return { lease, row, batch };
}

/** Records a committed batch's metrics and builds its result. */
function report(
  runtime: TickRuntime,
  registration: Registration,
  batch: Batch,
  outcome: Outcome,
  started: number,
): TickResult {
  const { context } = runtime;
  recordProjectionBatch(context, registration.name, {
    applied: outcome.applied,
    deadLettered: outcome.deadLettered,
    failures: outcome.failures,
    seconds: (performance.now() - started) / 1000,
  });
  setProjectionPosition(context, registration.name, {
    checkpoint: outcome.checkpoint,
    head: batch.head,
  });
  const moved = outcome.applied > 0 || outcome.deadLettered > 0;
  const status = outcome.retryInMs !== null && !moved ? "backoff" : moved ? "processed" : "idle";
  return {
    status,
    count: outcome.applied,
    deadLettered: outcome.deadLettered,
    checkpoint: outcome.checkpoint,
    head: batch.head,
    ...(outcome.retryInMs !== null ? { retryInMs: outcome.retryInMs } : {}),
  };
}

/** Applies the batch, dead-letters or schedules a retry for failures, and writes the checkpoint. */
async function applyAndCommit(
  runtime: TickRuntime,
  registration: Registration,
  tx: InternalTx,
  { lease, row, batch }: ReadyBatch,
): Promise<Outcome> {
  const { context, options } = runtime;
  const { projection } = registration;
  const apply = async (item: BatchItem, savepoint: InternalTx) => {
    if ("upcastError" in item) throw item.upcastError;
    await projection.apply(item.envelope, handlerTx(savepoint));
  };
  const queue = projectionDeadLetters(context, registration.name);
  const { items } = batch;
  let applied = 0, deadLettered = 0, failures = 0, position = 0;
  let lastError: string | null = null;
  let retry: { checkpoint: number; attempts: number; retryInMs: number } | null = null;
  while (position < items.length && !retry) {
    const failure = await applyUntilFailure(tx, items, position, apply);
    const stop = failure?.index ?? items.length;
    applied += stop - position;
    position = stop;
    if (!failure) break;
    failures++;
    lastError = errorText(failure.error);
    // The stored attempts belong to the first event after the checkpoint.
    const attempts = (failure.index === 0 ? row.attempts : 0) + 1;
    const failed = items[failure.index]!.envelope;
    if (exhausted(attempts, options.backoff)) {
      await addDeadLetter(tx, queue, failed, failure.error, attempts);
      deadLettered++;
      position++;
    } else {
      const retryInMs = backoffDelayMs(attempts, options.backoff);
      retry = { checkpoint: failed.globalSeq - 1, attempts, retryInMs };
    }
  }
  const outcome: Outcome = {
    applied,
    deadLettered,
    failures,
    lastError,
    ...(retry ?? { checkpoint: batch.end, attempts: 0, retryInMs: null }),
  };
  await writeCheckpoint(runtime, registration, tx, lease, row, outcome);
  return outcome;
}

/**
 * The fenced checkpoint write: only while the lease is ours with our token and
 * the checkpoint is the one the batch started from.
 */
async function writeCheckpoint(
  runtime: TickRuntime,
  registration: Registration,
  tx: InternalTx,
  lease: Lease,
  row: StateRow,
  outcome: Outcome,
): Promise<void> {
  const { context, options } = runtime;
  const written = await tx.query(
    `update ${context.table("projections")}
        set checkpoint = $3, attempts = $4,
            next_attempt_at = case when $5::int is null then null
                                   else clock_timestamp() + $5::int * interval '1 millisecond' end,
            last_error = coalesce($6::text, last_error),
            last_error_at = case when $6::text is null then last_error_at else clock_timestamp() end,
            lease_expires_at = clock_timestamp() + $7::int * interval '1 millisecond',
            updated_at = clock_timestamp()
      where name = $1 and checkpoint = $2 and ${fenceCondition("$8", "$9")}
      returning 1`,
    [
      registration.name,
      row.checkpoint,
      outcome.checkpoint,
      outcome.attempts,
      outcome.retryInMs,
      outcome.lastError,
      options.leaseTtlMs,
      lease.owner,
      lease.token,
    ],
  );
  if (written.length > 0) return;
  await assertLeaseHeld(tx, projectionLeaseTarget(context, registration.name), lease);
  throw new Superseded();
}
