/**
 * One member's delivery state, in memory: which events of its partitions are
 * fetched, delivered, awaiting a transactional ack or waiting for a retry, how
 * far each partition has been scanned, and so how far each partition's
 * checkpoint may move. No I/O: the consumer writes what this computes.
 *
 * @module
 */
import type { EventEnvelope } from "../events/envelope.ts";

/** Where a tracked event stands. Acknowledged events are no longer tracked. */
export type TrackedState = "queued" | "delivered" | "tentative" | "waiting";

/** An event of one of the member's partitions that is not acknowledged yet. */
export interface TrackedEvent {
  readonly envelope: EventEnvelope;
  readonly partition: number;
  state: TrackedState;
  /** Nacks so far (stored in subscription_retries). */
  attempts: number;
  /** For `waiting`: when it may be delivered again (epoch ms). */
  dueAtMs: number;
  /** A dead letter put back by dlq-requeue: delivered on its own, never holds the checkpoint. */
  readonly requeued: boolean;
  /** For `tentative`: the caller's transaction id. */
  xid?: string;
}

/** A fetched event with what the retry table says about it. */
export interface FetchedEvent {
  readonly envelope: EventEnvelope;
  readonly partition: number;
  readonly attempts: number;
  /** Epoch ms before which it must not be delivered (0: now). */
  readonly dueAtMs: number;
  readonly requeued: boolean;
}

/** Delivery bookkeeping for the partitions one member holds. */
export class DeliveryTracker {
  readonly #frontier = new Map<number, number>();
  readonly #events = new Map<number, TrackedEvent>();
  #order: number[] = [];
  #start = 0;

  /** The partitions held, ascending. */
  get partitions(): number[] {
    return [...this.#frontier.keys()].sort((a, b) => a - b);
  }

  /** How many events are tracked (queued, delivered, tentative or waiting). */
  get size(): number {
    return this.#events.size;
  }

  /**
   * Starts tracking a partition just claimed.
   *
   * @param partition The partition.
   * @param checkpoint Its stored checkpoint: scanning resumes after it.
   */
  addPartition(partition: number, checkpoint: number): void {
    this.#frontier.set(partition, checkpoint);
  }

  /**
   * Stops tracking a partition (released or lost).
   *
   * @param partition The partition.
   * @returns The events of it that had been delivered and not acknowledged.
   */
  removePartition(partition: number): TrackedEvent[] {
    this.#frontier.delete(partition);
    const dropped: TrackedEvent[] = [];
    for (const [seq, tracked] of this.#events) {
      if (tracked.partition !== partition) continue;
      this.#events.delete(seq);
      if (tracked.state === "delivered" || tracked.state === "tentative") dropped.push(tracked);
    }
    return dropped;
  }

  /** The scan frontier of each partition (events above it are not fetched yet). */
  frontiers(partitions: readonly number[] = this.partitions): number[] {
    return partitions.map((p) => this.#frontier.get(p)!);
  }

  /**
   * Records a scan's result.
   *
   * @param partitions The partitions scanned.
   * @param fetched The events found, ascending.
   * @param scannedTo Every matching event of those partitions up to here was returned.
   */
  addFetched(partitions: readonly number[], fetched: readonly FetchedEvent[], scannedTo: number) {
    let outOfOrder = false;
    const last = this.#order[this.#order.length - 1] ?? 0;
    for (const f of fetched) {
      const seq = f.envelope.globalSeq;
      if (this.#events.has(seq) || !this.#frontier.has(f.partition)) continue;
      this.#events.set(seq, {
        envelope: f.envelope,
        partition: f.partition,
        state: f.dueAtMs > 0 ? "waiting" : "queued",
        attempts: f.attempts,
        dueAtMs: f.dueAtMs,
        requeued: f.requeued,
      });
      if (seq < last) outOfOrder = true;
      this.#order.push(seq);
    }
    if (outOfOrder) this.#resort();
    for (const p of partitions) {
      const frontier = this.#frontier.get(p);
      if (frontier !== undefined && scannedTo > frontier) this.#frontier.set(p, scannedTo);
    }
  }

  /**
   * The next event to deliver: the lowest queued (or due waiting) event whose
   * stream has no earlier event waiting for a retry.
   *
   * @param nowMs The current time.
   * @param exclude Partitions not to deliver from (being handed over).
   * @returns The event, or undefined when nothing is deliverable now.
   */
  nextDeliverable(nowMs: number, exclude?: ReadonlySet<number>): TrackedEvent | undefined {
    this.#compact();
    const blocked = new Set<string>();
    for (let i = this.#start; i < this.#order.length; i++) {
      const seq = this.#order[i]!;
      const tracked = this.#events.get(seq);
      if (!tracked || exclude?.has(tracked.partition)) continue;
      const stream = tracked.envelope.streamId;
      if (tracked.state === "waiting" && tracked.dueAtMs > nowMs) {
        if (!tracked.requeued) blocked.add(stream);
        continue;
      }
      if (tracked.state !== "queued" && tracked.state !== "waiting") continue;
      if (!tracked.requeued && blocked.has(stream)) continue;
      return tracked;
    }
    return undefined;
  }

  /** Sorts the live part of the order (after an insertion below its end). */
  #resort(): void {
    this.#order = this.#order.slice(this.#start).sort((a, b) => a - b);
    this.#start = 0;
  }

  /** Drops positions no longer tracked from the order (from the front at once, else in bulk). */
  #compact(): void {
    while (this.#start < this.#order.length && !this.#events.has(this.#order[this.#start]!)) {
      this.#start++;
    }
    if (this.#order.length - this.#start > 2 * this.#events.size + 64 || this.#start > 4096) {
      const seen = new Set<number>();
      this.#order = this.#order.slice(this.#start).filter((seq) =>
        this.#events.has(seq) && !seen.has(seq) && seen.add(seq)
      );
      this.#start = 0;
    }
  }

  /**
   * The earliest time a waiting event becomes due.
   *
   * @returns Epoch ms, or undefined when nothing waits.
   */
  nextDueAtMs(): number | undefined {
    let earliest: number | undefined;
    for (const tracked of this.#events.values()) {
      if (tracked.state === "waiting" && (earliest === undefined || tracked.dueAtMs < earliest)) {
        earliest = tracked.dueAtMs;
      }
    }
    return earliest;
  }

  /** How many tracked events are queued or waiting (fetched, not delivered). */
  get undelivered(): number {
    let count = 0;
    for (const t of this.#events.values()) {
      if (t.state === "queued" || t.state === "waiting") count++;
    }
    return count;
  }

  /**
   * The tracked event at a position.
   *
   * @param seq The global position.
   * @returns It, or undefined when not tracked.
   */
  get(seq: number): TrackedEvent | undefined {
    return this.#events.get(seq);
  }

  /** Every tracked event in the given state. */
  inState(state: TrackedState): TrackedEvent[] {
    return [...this.#events.values()].filter((t) => t.state === state);
  }

  /**
   * Forgets an acknowledged (or dead-lettered) event.
   *
   * @param seq The global position.
   */
  remove(seq: number): void {
    this.#events.delete(seq);
  }

  /**
   * Tracks an event again after a failed write (its partition still held).
   *
   * @param tracked The event as it was.
   */
  restore(tracked: TrackedEvent): void {
    const seq = tracked.envelope.globalSeq;
    if (!this.#frontier.has(tracked.partition) || this.#events.has(seq)) return;
    this.#events.set(seq, tracked);
    if (!this.#order.includes(seq)) {
      this.#order.push(seq);
      this.#resort();
    }
  }

  /**
   * Drops queued events of the given partitions (not delivered: nothing owes them).
   *
   * @param partitions The partitions.
   */
  dropQueued(partitions: ReadonlySet<number>): void {
    for (const [seq, t] of this.#events) {
      if (partitions.has(t.partition) && (t.state === "queued" || t.state === "waiting")) {
        this.#events.delete(seq);
        const frontier = this.#frontier.get(t.partition)!;
        if (seq <= frontier) this.#frontier.set(t.partition, Math.min(frontier, seq - 1));
      }
    }
  }

  /** Whether a partition still has delivered events awaiting an ack. */
  hasOutstanding(partition: number): boolean {
    for (const t of this.#events.values()) {
      if (t.partition === partition && (t.state === "delivered" || t.state === "tentative")) {
        return true;
      }
    }
    return false;
  }

  /**
   * How far each partition's checkpoint may move: up to the scan frontier but
   * below its lowest event not acknowledged (requeued dead letters excepted:
   * their retry row keeps them).
   *
   * @param partitions The partitions (all held by default).
   * @returns The checkpoint per partition, in the order given.
   */
  checkpoints(partitions: readonly number[] = this.partitions): number[] {
    const lowest = new Map<number, number>();
    for (const [seq, t] of this.#events) {
      if (t.requeued) continue;
      const current = lowest.get(t.partition);
      if (current === undefined || seq < current) lowest.set(t.partition, seq);
    }
    return partitions.map((p) => {
      const frontier = this.#frontier.get(p)!;
      const low = lowest.get(p);
      return low === undefined ? frontier : Math.min(frontier, low - 1);
    });
  }
}
