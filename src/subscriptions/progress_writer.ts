/**
 * One writer per member for its progress: writes run one at a time (two
 * statements of one member touching the same partition and member rows in
 * different orders could deadlock), and writes queued meanwhile are merged
 * into one statement (acks issued concurrently commit together). Checkpoints
 * are computed from the tracker when the statement runs, so a write never
 * carries a checkpoint computed before an earlier write failed.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import type { EventEnvelope } from "../events/envelope.ts";
import { addDeadLetter } from "../processing/dead_letters.ts";
import { groupDeadLetterQueue } from "./dead_letters.ts";
import { type HeldLease, type ProgressWrite, writeProgress } from "./progress.ts";
import type { DeliveryTracker } from "./tracker.ts";

/** A write submitted to the {@linkcode ProgressWriter}. */
export interface QueuedWrite extends Omit<ProgressWrite, "checkpoints"> {
  /** Partitions (among `leases`) whose checkpoint to move as far as the tracker allows. */
  readonly fold?: readonly number[];
  /** An event to park in the dead-letter queue, in the same transaction. */
  readonly deadLetter?: { envelope: EventEnvelope; error: unknown; attempts: number };
  /** Undoes the caller's tracker changes when the write fails. */
  readonly onFailure?: () => void;
}

interface Pending {
  readonly write: QueuedWrite;
  readonly resolve: (held: number[]) => void;
  readonly reject: (error: unknown) => void;
}

/** Whether `next` can join a batch holding these lease tokens (updates them when it can). */
function joins(tokens: Map<number, number>, next: QueuedWrite): boolean {
  if (next.retry || next.deadLetter) return false;
  if (next.leases.some((l) => (tokens.get(l.partition) ?? l.token) !== l.token)) return false;
  for (const l of next.leases) tokens.set(l.partition, l.token);
  return true;
}

function merge(writes: readonly QueuedWrite[]): QueuedWrite {
  const leases = new Map<number, number>();
  const fold = new Set<number>();
  for (const w of writes) {
    for (const l of w.leases) leases.set(l.partition, l.token);
    for (const p of w.fold ?? []) fold.add(p);
  }
  return {
    leases: [...leases].map(([partition, token]) => ({ partition, token })),
    fold: [...fold],
    acks: writes.flatMap((w) => w.acks ?? []),
    clearRetries: writes.flatMap((w) => w.clearRetries ?? []),
    release: writes.reduce((sum, w) => sum + (w.release ?? 0), 0),
  };
}

/** Serialises and merges one member's progress writes. */
export class ProgressWriter {
  readonly #context: StoreContext;
  readonly #member: Parameters<typeof writeProgress>[2];
  readonly #tracker: DeliveryTracker;
  readonly #written = new Map<number, number>();
  #queue: Pending[] = [];
  #running = false;

  /**
   * @param context The store context.
   * @param member The member writing.
   * @param tracker Its delivery tracker (checkpoints come from it).
   */
  constructor(
    context: StoreContext,
    member: Parameters<typeof writeProgress>[2],
    tracker: DeliveryTracker,
  ) {
    this.#context = context;
    this.#member = member;
    this.#tracker = tracker;
  }

  /**
   * Whether any of these partitions' checkpoints may move past what was written.
   *
   * @param leases The leases to check.
   * @returns `true` when a flush would move a checkpoint.
   */
  checkpointsMoved(leases: readonly HeldLease[]): boolean {
    const partitions = leases.map((l) => l.partition);
    const checkpoints = this.#tracker.checkpoints(partitions);
    return partitions.some((p, i) => checkpoints[i]! > (this.#written.get(p) ?? -1));
  }

  /** Forgets what was written (the member rejoined after an eviction). */
  reset(): void {
    this.#written.clear();
  }

  /**
   * Queues a write.
   *
   * @param write What to write.
   * @returns The partitions whose lease matched when it ran.
   */
  submit(write: QueuedWrite): Promise<number[]> {
    const { promise, resolve, reject } = Promise.withResolvers<number[]>();
    this.#queue.push({ write, resolve, reject });
    if (!this.#running) this.#drain().catch((error: unknown) => this.#abandon(error));
    return promise;
  }

  /** Fails the writes still queued when the drain itself failed: they would wait forever. */
  #abandon(error: unknown): void {
    for (const pending of this.#queue.splice(0)) pending.reject(error);
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const batch = [this.#queue.shift()!];
        const first = batch[0]!.write;
        if (!first.retry && !first.deadLetter) {
          const tokens = new Map(first.leases.map((l) => [l.partition, l.token]));
          while (this.#queue.length > 0 && joins(tokens, this.#queue[0]!.write)) {
            batch.push(this.#queue.shift()!);
          }
        }
        const write = batch.length === 1 ? batch[0]!.write : merge(batch.map((p) => p.write));
        try {
          const held = await this.#run(write);
          for (const pending of batch) pending.resolve(held);
        } catch (error) {
          for (const pending of batch) pending.write.onFailure?.();
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  async #run(write: QueuedWrite): Promise<number[]> {
    const fold = new Set(write.fold ?? []);
    const folded = write.leases.filter((l) => fold.has(l.partition)).map((l) => l.partition);
    const computed = new Map(
      this.#tracker.checkpoints(folded).map((cp, i) => [folded[i]!, cp]),
    );
    const progress: ProgressWrite = {
      ...write,
      checkpoints: write.leases.map((l) => computed.get(l.partition)),
    };
    const held = write.deadLetter
      ? await this.#runWithDeadLetter(progress, write.deadLetter)
      : (await writeProgress(this.#context.executor, this.#context, this.#member, progress)).held;
    for (const [partition, checkpoint] of computed) {
      if (!held.includes(partition)) continue;
      this.#written.set(partition, Math.max(checkpoint, this.#written.get(partition) ?? -1));
    }
    return held;
  }

  #runWithDeadLetter(
    progress: ProgressWrite,
    dead: NonNullable<QueuedWrite["deadLetter"]>,
  ): Promise<number[]> {
    const { subscription, group } = this.#member;
    return this.#context.executor.transaction(async (tx) => {
      const { held } = await writeProgress(tx, this.#context, this.#member, progress);
      if (held.length === progress.leases.length) {
        const queue = groupDeadLetterQueue(this.#context, subscription, group);
        await addDeadLetter(tx, queue, dead.envelope, dead.error, dead.attempts);
      }
      return held;
    });
  }
}
