/**
 * Settling deliveries: auto acks, `ack`, `ackInTx`, `nack` (retry with
 * backoff, then the dead-letter queue), resolving transactional acks once
 * their transaction ended, and writing checkpoints and credits back.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import type { Tx } from "../db/executor.ts";
import type { EventEnvelope } from "../events/envelope.ts";
import {
  countSubscriptionEvents,
  type SubscriptionLabels,
} from "../telemetry/subscription_metrics.ts";
import { backoffDelayMs, exhausted } from "../processing/backoff.ts";
import { errorText } from "../processing/dead_letters.ts";
import { leaseLost, type MemberSession } from "./member_session.ts";
import { transactionStatuses, writeProgress } from "./progress.ts";
import type { ResolvedSubscribeOptions } from "./subscribe_options.ts";
import type { TrackedEvent } from "./tracker.ts";

/** The options of a nack. */
export interface NackInput {
  retryAfterMs?: number;
  error?: unknown;
}

function assertSeq(globalSeq: unknown): number {
  if (typeof globalSeq !== "number" || !Number.isSafeInteger(globalSeq) || globalSeq < 1) {
    throw new RangeError(`globalSeq must be a positive integer, got ${globalSeq}`);
  }
  return globalSeq;
}

/** The settling side of one member. */
export class Settlement {
  readonly #context: StoreContext;
  readonly #session: MemberSession;
  readonly #options: ResolvedSubscribeOptions;
  readonly #labels: SubscriptionLabels;
  readonly #wake: () => void;
  #lastDelivered: number | undefined;
  #maxDelivered = 0;
  #unreleased = 0;
  #acked: Array<[number, number]> = [];
  #clear: number[] = [];
  /** Events acknowledged in callers' transactions whose outcome is not known yet. */
  readonly #tentative = new Set<TrackedEvent>();

  /**
   * @param context The store context.
   * @param session The member's session.
   * @param options Its options.
   * @param labels Its metric labels.
   * @param wake Wakes the member's loop (credits were freed).
   */
  constructor(
    context: StoreContext,
    session: MemberSession,
    options: ResolvedSubscribeOptions,
    labels: SubscriptionLabels,
    wake: () => void,
  ) {
    this.#context = context;
    this.#session = session;
    this.#options = options;
    this.#labels = labels;
    this.#wake = wake;
  }

  /** Marks an event delivered (it holds one of the member's credits) and returns its envelope. */
  deliver(tracked: TrackedEvent): EventEnvelope {
    tracked.state = "delivered";
    const seq = tracked.envelope.globalSeq;
    if (seq > this.#maxDelivered) this.#maxDelivered = seq;
    if (this.#options.ackMode === "auto") this.#lastDelivered = seq;
    countSubscriptionEvents(this.#labels, "delivered");
    return tracked.envelope;
  }

  /** Auto mode: asking for the next event acknowledges the previous one. */
  autoAckPrevious(): void {
    if (this.#lastDelivered !== undefined) this.#implicitAck(this.#lastDelivered);
    this.#lastDelivered = undefined;
  }

  /** Auto mode: closing acknowledges every event delivered. */
  autoAckAll(): void {
    if (this.#options.ackMode !== "auto") return;
    for (const t of this.#session.tracker.inState("delivered")) {
      this.#implicitAck(t.envelope.globalSeq);
    }
    this.#lastDelivered = undefined;
  }

  #implicitAck(seq: number): void {
    const tracked = this.#session.tracker.get(seq);
    if (tracked?.state !== "delivered") return;
    this.#session.tracker.remove(seq);
    this.#unreleased++;
    this.#acked.push([seq, tracked.partition]);
    if (tracked.attempts > 0 || tracked.requeued) this.#clear.push(seq);
    countSubscriptionEvents(this.#labels, "acked");
  }

  /**
   * Adjusts after a beat: deliveries lost with a lease give their credits back,
   * unless the member was evicted (its credits went with its row).
   *
   * @param evicted Whether the member's row had vanished.
   * @param lostCredits Credits of deliveries lost with a lease.
   */
  forget(evicted: boolean, lostCredits: number): void {
    if (evicted) {
      this.#unreleased = 0;
      this.#acked = [];
      this.#clear = [];
    } else this.#unreleased += lostCredits;
  }

  /**
   * Learns which transactional acks committed (acknowledged) or rolled back
   * (delivered again, awaiting an ack or nack).
   *
   * @param force Check even when few are pending.
   */
  async resolveTentative(force: boolean): Promise<void> {
    const tracker = this.#session.tracker;
    for (const t of this.#tentative) {
      // Settled another way meanwhile (acked, nacked, lost with its partition).
      if (t.state !== "tentative" || tracker.get(t.envelope.globalSeq) !== t) {
        this.#tentative.delete(t);
      }
    }
    const tentative = [...this.#tentative].map((t) => ({ t, xid: t.xid! }));
    if (tentative.length === 0 || (!force && tentative.length < this.#options.batchSize)) return;
    const statuses = await transactionStatuses(this.#context, tentative.map(({ xid }) => xid));
    for (const { t, xid } of tentative) {
      // Another ackInTx of the same event since: its own transaction decides.
      if (t.xid !== xid || t.state !== "tentative") continue;
      const status = statuses.get(xid);
      if (status !== "in progress") this.#tentative.delete(t);
      if (status === "committed" && tracker.get(t.envelope.globalSeq) === t) {
        tracker.remove(t.envelope.globalSeq);
        this.#unreleased++;
        countSubscriptionEvents(this.#labels, "acked");
      } else if (status === "aborted") {
        t.state = "delivered";
        t.xid = undefined;
      }
    }
  }

  /**
   * Writes the checkpoints that moved, auto acks the checkpoint cannot cover
   * yet, and gives back credits.
   *
   * @param releaseSpare Reserved credits not used.
   */
  async flush(releaseSpare: number): Promise<void> {
    const leases = this.#session.leases;
    const release = this.#unreleased + releaseSpare;
    const moved = this.#session.writer.checkpointsMoved(leases);
    if (!moved && release === 0 && this.#acked.length === 0) return;
    const acks = this.#acked;
    const clearRetries = this.#clear;
    this.#unreleased = 0;
    this.#acked = [];
    this.#clear = [];
    await this.#session.writer.submit({
      leases,
      fold: leases.map((l) => l.partition),
      acks,
      clearRetries,
      release,
      onFailure: () => {
        this.#unreleased += release;
        this.#acked.push(...acks);
        this.#clear.push(...clearRetries);
      },
    });
  }

  /** Finds a delivered event to settle, or explains why it cannot be settled. */
  #settleable(globalSeq: number): TrackedEvent | undefined {
    assertSeq(globalSeq);
    const tracked = this.#session.tracker.get(globalSeq);
    if (!tracked) {
      if (this.#session.takeLost(globalSeq)) throw leaseLost(this.#session.member, globalSeq);
      if (globalSeq <= this.#maxDelivered) return undefined; // already settled
    }
    if (!tracked || tracked.state === "queued" || tracked.state === "waiting") {
      throw new RangeError(
        `Event ${globalSeq} is not awaiting an ack from member "${this.#session.member.memberId}"`,
      );
    }
    if (this.#lastDelivered === globalSeq) this.#lastDelivered = undefined;
    return tracked;
  }

  #lease(tracked: TrackedEvent) {
    const token = this.#session.tokenOf(tracked.partition);
    if (token === undefined) {
      throw leaseLost(this.#session.member, tracked.envelope.globalSeq);
    }
    return { partition: tracked.partition, token };
  }

  /** {@linkcode Subscription.ack}. */
  async ack(globalSeq: number): Promise<void> {
    const tracked = this.#settleable(globalSeq);
    if (!tracked) return;
    await this.#complete(tracked, this.#lease(tracked));
    countSubscriptionEvents(this.#labels, "acked");
    this.#wake();
  }

  /**
   * Writes an event as done (acknowledged, or parked as a dead letter): the
   * checkpoint moves or an ack row records it, its retry row goes, its credit returns.
   */
  async #complete(
    tracked: TrackedEvent,
    lease: { partition: number; token: number },
    deadLetter?: { error: unknown; attempts: number },
  ): Promise<void> {
    const tracker = this.#session.tracker;
    const seq = tracked.envelope.globalSeq;
    tracker.remove(seq);
    const held = await this.#session.writer.submit({
      leases: [lease],
      fold: [lease.partition],
      acks: [[seq, lease.partition]],
      clearRetries: [seq],
      release: 1,
      deadLetter: deadLetter && { envelope: tracked.envelope, ...deadLetter },
      onFailure: () => tracker.restore(tracked),
    });
    if (!held.includes(lease.partition)) throw leaseLost(this.#session.member, seq);
  }

  /** {@linkcode Subscription.ackInTx}. */
  async ackInTx(tx: Tx, globalSeq: number): Promise<void> {
    if (tx === null || typeof tx !== "object" || typeof tx.query !== "function") {
      throw new TypeError("ackInTx needs the transaction handle (tx) of the caller");
    }
    const tracked = this.#settleable(globalSeq);
    if (!tracked) return;
    const lease = this.#lease(tracked);
    // In the caller's transaction: no checkpoint or credit rows are touched, only the ack row.
    const { held, xid } = await writeProgress(tx, this.#context, this.#session.member, {
      leases: [lease],
      acks: [[globalSeq, lease.partition]],
      clearRetries: [globalSeq],
    });
    if (!held.includes(lease.partition)) throw leaseLost(this.#session.member, globalSeq);
    tracked.state = "tentative";
    tracked.xid = xid;
    this.#tentative.add(tracked);
  }

  /** {@linkcode Subscription.nack}. */
  async nack(globalSeq: number, options: NackInput = {}): Promise<void> {
    const delay = options.retryAfterMs;
    if (delay !== undefined && (!Number.isSafeInteger(delay) || delay < 0)) {
      throw new RangeError(`retryAfterMs must be a non-negative integer, got ${delay}`);
    }
    const tracked = this.#settleable(globalSeq);
    if (!tracked) return;
    const lease = this.#lease(tracked);
    const attempts = tracked.attempts + 1;
    if (exhausted(attempts, this.#options.backoff)) {
      await this.#complete(tracked, lease, { error: options.error ?? "nacked", attempts });
      countSubscriptionEvents(this.#labels, "deadLettered");
    } else {
      const delayMs = delay ?? backoffDelayMs(attempts, this.#options.backoff);
      const error = options.error === undefined ? null : errorText(options.error);
      const held = await this.#session.writer.submit({
        leases: [lease],
        retry: { globalSeq, partition: lease.partition, attempts, delayMs, error },
        release: 1,
      });
      if (!held.includes(lease.partition)) throw leaseLost(this.#session.member, globalSeq);
      tracked.state = "waiting";
      tracked.attempts = attempts;
      tracked.dueAtMs = Date.now() + delayMs;
    }
    countSubscriptionEvents(this.#labels, "nacked");
    this.#wake();
  }
}
