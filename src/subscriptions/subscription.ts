/**
 * A subscription member: an async iterable of envelopes with ack, ackInTx,
 * nack and close. It reads its partitions with the no-skip reader, delivers
 * in global order (per stream across retries), bounds what is in flight with
 * the group's credits, checkpoints per batch (auto) or per ack (manual), and
 * sleeps on NOTIFY with polling as the fallback.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import type { Tx } from "../db/executor.ts";
import type { EventEnvelope } from "../events/envelope.ts";
import { isRillflowError } from "../errors.ts";
import { NotifyListener, Wakeup } from "../db/notify_listener.ts";
import { eventsChannel as EVENTS_CHANNEL } from "../events/notify.ts";
import {
  setSubscriptionGauges,
  type SubscriptionLabels,
} from "../telemetry/subscription_metrics.ts";
import { reserveCredits } from "./credits.ts";
import { readSubscription, unknownSubscription } from "./definitions.ts";
import { ensureGroup } from "./groups.ts";
import { beatIntervalMs, leaveGroup } from "./membership.ts";
import { MemberClose } from "./member_close.ts";
import { MemberSession } from "./member_session.ts";
import type { OpenMembers } from "./open_members.ts";
import { scanPartitions, scanRequeued, ScanWindow } from "./scan.ts";
import { Settlement } from "./settlement.ts";
import { reportError, type ResolvedSubscribeOptions } from "./subscribe_options.ts";

/**
 * A member of a subscription's consumer group: iterate it for events, settle
 * each with `ack`, `ackInTx` or `nack` (manual mode), and `close` it to release
 * its lease at once.
 */
export interface Subscription extends AsyncIterable<EventEnvelope> {
  /** The subscription's name. */
  readonly name: string;
  /** The consumer group. */
  readonly group: string;
  /** This member's id. */
  readonly memberId: string;
  /**
   * Acknowledges an event: it will not be delivered to the group again.
   *
   * @param globalSeq The event's position.
   * @throws {RillflowError} `LEASE_LOST` when the member lost the event's partition.
   * @throws {RangeError} When the event was not delivered to this member.
   */
  ack(globalSeq: number): Promise<void>;
  /**
   * Acknowledges an event inside the caller's transaction: the ack commits or
   * rolls back with the caller's writes. Call it last in the transaction.
   *
   * @param tx The caller's transaction.
   * @param globalSeq The event's position.
   * @throws {RillflowError} `LEASE_LOST` (roll the transaction back).
   */
  ackInTx(tx: Tx, globalSeq: number): Promise<void>;
  /**
   * Gives an event back: it is delivered again after `retryAfterMs` (default:
   * the backoff), events of its stream wait behind it, and after the last
   * attempt it goes to the dead-letter queue.
   *
   * @param globalSeq The event's position.
   * @param options The delay and the error to record.
   */
  nack(globalSeq: number, options?: NackOptions): Promise<void>;
  /**
   * Runs `fn` in a transaction on the subscription's store (`search_path` set
   * to its schema), for side effects that commit together with `ackInTx`.
   *
   * @param fn The work; it must use the given `tx` only.
   * @returns What `fn` returned, once committed.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Stops: settles what auto mode owes, writes the checkpoint, releases the
   * lease. An iteration waiting for its next event ends once this is done.
   */
  close(): Promise<void>;
  /** Closes at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@linkcode Subscription.nack}. */
export interface NackOptions {
  /** Deliver again after this long (default: the subscription's backoff). */
  retryAfterMs?: number;
  /** The failure, recorded with the retry and in the dead-letter queue. */
  error?: unknown;
}

/** The implementation of {@linkcode Subscription}. */
export class SubscriptionMember implements Subscription {
  readonly name: string;
  readonly group: string;
  readonly memberId: string;
  readonly #context: StoreContext;
  readonly #options: ResolvedSubscribeOptions;
  readonly #session: MemberSession;
  readonly #settle: Settlement;
  readonly #labels: SubscriptionLabels;
  readonly #wakeup = new Wakeup();
  readonly #window: ScanWindow;
  readonly #close: MemberClose;
  #listener: NotifyListener | null = null;
  #spare = 0;
  #head = 0;
  #closed = false;
  #fatal: unknown;
  #chain: Promise<unknown> = Promise.resolve();
  #beatTimer?: ReturnType<typeof setTimeout>;
  #beating: Promise<void> = Promise.resolve();
  /** Whether the last turn of the loop failed to reach the database (reported once). */
  #unreachable = false;
  #beatRun?: Promise<void>;

  private constructor(
    context: StoreContext,
    name: string,
    options: ResolvedSubscribeOptions,
    partitionCount: number,
    openMembers: OpenMembers,
  ) {
    this.#context = context;
    this.name = name;
    this.group = options.group;
    this.memberId = options.memberId;
    this.#options = options;
    const member = { subscription: name, group: options.group, memberId: options.memberId };
    this.#session = new MemberSession(
      context,
      member,
      options.mode,
      partitionCount,
      options.leaseTtlMs,
    );
    this.#labels = {
      schema: context.schema,
      tenant: context.tenant ?? "",
      subscription: name,
      group: options.group,
    };
    this.#window = new ScanWindow(options.batchSize);
    this.#settle = new Settlement(
      context,
      this.#session,
      options,
      this.#labels,
      () => this.#wakeup.wake(),
    );
    this.#close = new MemberClose(
      (waitForNext) => this.#shutDown(waitForNext),
      options.onError,
      () => openMembers.delete(this),
    );
  }

  /**
   * Joins the group (creating it on first use) and claims what it may.
   *
   * @param context The store context.
   * @param name The subscription.
   * @param options Resolved options.
   * @param openMembers The store's open members: this one joins them until it is closed.
   * @returns The member.
   */
  static async open(
    context: StoreContext,
    name: string,
    options: ResolvedSubscribeOptions,
    openMembers: OpenMembers,
  ): Promise<SubscriptionMember> {
    const count = await ensureGroup(context, name, options.group, options.mode, options.partitions);
    const member = new SubscriptionMember(context, name, options, count, openMembers);
    try {
      await member.#beat();
      if (options.useNotify) await member.#listen();
    } catch (error) {
      // The beat may have claimed leases before it failed: give them back.
      member.#close.start(false, "close after a failed join");
      await member.#close.ended();
      throw error;
    }
    openMembers.add(member);
    member.#scheduleBeat();
    member.#close.closeOn(options.signal);
    return member;
  }

  async #listen(): Promise<void> {
    try {
      this.#listener = await NotifyListener.start(this.#context.executor, {
        channel: EVENTS_CHANNEL,
        accept: (payload) => payload === this.#context.schema,
        onWake: () => this.#wakeup.wake(),
        probeIntervalMs: Math.max(1_000, this.#options.pollIntervalMs * 10),
        probeTimeoutMs: Math.max(500, this.#options.pollIntervalMs * 5),
      });
    } catch (error) {
      // A store that cannot LISTEN at all (a transaction pooler without directUrl) fails the
      // subscribe: polling forever would hide a configuration mistake.
      if (isRillflowError(error, "INVALID_INPUT")) throw error;
      reportError(this.#options.onError, error, "LISTEN (falling back to polling)");
    }
  }

  #scheduleBeat(): void {
    if (this.#closed || this.#fatal !== undefined) return;
    // Beat faster while partitions change hands, so a rebalance takes milliseconds, not beats.
    const beat = beatIntervalMs(this.#options.leaseTtlMs);
    const interval = this.#session.rebalancing ? Math.min(beat, 50) : beat;
    this.#beatTimer = setTimeout(() => {
      this.#beating = this.#beat().catch((error) => {
        if (this.#fatal === undefined) reportError(this.#options.onError, error, "heartbeat");
      }).finally(() => this.#scheduleBeat());
    }, interval);
  }

  /** Beats, or joins the beat in progress (the timer and an evicted reservation may both ask). */
  #beat(): Promise<void> {
    this.#beatRun ??= this.#runBeat().finally(() => this.#beatRun = undefined);
    return this.#beatRun;
  }

  async #runBeat(): Promise<void> {
    if (this.#closed) return;
    try {
      await readSubscription(this.#context.executor, this.#context, this.name);
    } catch (error) {
      // Deleted while consuming: the iteration ends with the error.
      if (isRillflowError(error, "UNKNOWN_SUBSCRIPTION")) this.#fatal = error;
      this.#wakeup.wake();
      throw error;
    }
    const outcome = await this.#session.beat();
    if (outcome.evicted) this.#spare = 0;
    this.#settle.forget(outcome.evicted, outcome.lostCredits);
    const partitions = this.#session.scanPartitions;
    const requeued = await scanRequeued(this.#context, this.#session.member, partitions, 100);
    this.#session.tracker.addFetched([], requeued, 0);
    setSubscriptionGauges(this.#labels, {
      inFlight: outcome.heartbeat.inFlight,
      checkpoint: outcome.heartbeat.checkpoint,
      head: Math.max(this.#head, outcome.heartbeat.checkpoint),
    });
    if (outcome.changed || requeued.length > 0) this.#wakeup.wake();
  }

  /** Iterates the events; breaking out of the loop closes the subscription. */
  [Symbol.asyncIterator](): AsyncIterator<EventEnvelope> {
    return {
      next: () => {
        // A close waits for the pending step (#chain), never for the caller's promise, which
        // waits for the close in turn: the loop ends once the leases are released.
        const step = this.#chain.then(() => this.#next());
        this.#chain = step.catch(() => {});
        return step.then(async (result) => {
          if (result.done) await this.#close.ended();
          return result;
        }, async (error) => {
          // An iteration that failed is over: release the lease rather than hold it idle.
          this.#close.start(false, "close after a failed iteration");
          await this.#close.ended();
          throw error;
        });
      },
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  async #next(): Promise<IteratorResult<EventEnvelope>> {
    this.#settle.autoAckPrevious();
    while (!this.#closed) {
      if (this.#options.signal?.aborted) break;
      if (this.#fatal !== undefined) throw this.#fatal;
      let step: IteratorResult<EventEnvelope> | "continue" | "break";
      try {
        step = await this.#step();
        this.#unreachable = false;
      } catch (error) {
        // The database went away (a restart, a cut): reported once, then the loop waits a poll
        // and goes on. What was not written stays pending and is written again (settlement).
        if (!isRillflowError(error, "CONNECTION_ERROR")) throw error;
        if (!this.#unreachable) {
          reportError(
            this.#options.onError,
            error,
            "delivery (retrying until the database answers)",
          );
        }
        this.#unreachable = true;
        await this.#idle();
        continue;
      }
      if (step === "break") break;
      if (step !== "continue") return step;
    }
    // Ending by itself (caught up): shut down, and fail with the close's failure. A close
    // already under way (close(), the signal, the store) waits for this call, so it is the
    // caller's promise in next() that waits for that one.
    if (!this.#close.started) {
      this.#close.start(false);
      await this.#close.closing();
    }
    return { done: true, value: undefined };
  }

  /** One turn of the delivery loop: an event to deliver, or whether to go on. */
  async #step(): Promise<IteratorResult<EventEnvelope> | "continue" | "break"> {
    await this.#settle.resolveTentative(false);
    const tracker = this.#session.tracker;
    const next = tracker.nextDeliverable(Date.now(), this.#session.handingOver);
    if (next && this.#spare > 0) {
      this.#spare--;
      return { done: false, value: this.#settle.deliver(next) };
    }
    if (next) {
      if (await this.#reserve()) return "continue";
    } else {
      await this.#flush();
      const found = await this.#scan();
      if (found === "fetched") return "continue";
      if (found === "caught-up" && this.#options.stopWhenCaughtUp) return "break";
    }
    await this.#idle();
    return "continue";
  }

  async #reserve(): Promise<boolean> {
    await this.#settle.resolveTentative(true);
    await this.#flush();
    const want = Math.min(this.#options.batchSize, Math.max(1, this.#session.tracker.undelivered));
    const reservation = await reserveCredits(
      this.#context,
      this.#session.member,
      want,
      this.#options.maxInFlight,
    );
    if (reservation.deleted) throw (this.#fatal = unknownSubscription(this.name));
    if (reservation.evicted) await this.#beat();
    else this.#spare += reservation.granted;
    setSubscriptionGauges(this.#labels, {
      inFlight: reservation.groupInFlight,
      checkpoint: reservation.checkpoint,
      head: Math.max(this.#head, reservation.checkpoint),
    });
    return reservation.granted > 0;
  }

  /** Writes checkpoints that moved and gives back unused credits. */
  async #flush(): Promise<void> {
    const release = this.#spare;
    this.#spare = 0;
    await this.#settle.flush(release);
  }

  async #scan(): Promise<"fetched" | "caught-up" | "busy"> {
    const session = this.#session;
    const tracker = session.tracker;
    if (tracker.undelivered >= this.#options.batchSize * 4) return "busy";
    const partitions = session.scanPartitions;
    const epoch = session.epoch;
    const result = await scanPartitions(
      this.#context,
      session.member,
      session.partitionCount,
      partitions,
      tracker.frontiers(partitions),
      this.#options.batchSize,
      this.#window.size,
    );
    this.#head = result.head;
    if (epoch !== session.epoch) return "busy";
    tracker.addFetched(partitions, result.events, result.scannedTo);
    this.#window.adapt(result.events.length, this.#options.batchSize);
    if (result.events.length > 0 || result.scannedTo < result.head) return "fetched";
    return tracker.size === 0 ? "caught-up" : "busy";
  }

  async #idle(): Promise<void> {
    const due = this.#session.tracker.nextDueAtMs();
    const untilDue = due === undefined ? Infinity : Math.max(1, due - Date.now());
    await this.#wakeup.wait(Math.min(this.#options.pollIntervalMs, untilDue), this.#options.signal);
    await this.#listener?.check();
  }

  ack(globalSeq: number): Promise<void> {
    return this.#settle.ack(globalSeq);
  }

  ackInTx(tx: Tx, globalSeq: number): Promise<void> {
    return this.#settle.ackInTx(tx, globalSeq);
  }

  nack(globalSeq: number, options: NackOptions = {}): Promise<void> {
    return this.#settle.nack(globalSeq, options);
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (typeof fn !== "function") throw new TypeError("transaction() takes a function of tx");
    return this.#context.executor.transaction(
      (tx) => fn({ query: tx.query, sql: tx.sql }),
      { searchPath: this.#context.schema },
    );
  }

  close(): Promise<void> {
    this.#close.start(true);
    return this.#close.closing();
  }

  /**
   * Closes on the store's behalf (the store is closing), or waits for a close
   * under way. Never rejects: a failure goes to `onError`.
   *
   * @returns Once the close has ended.
   */
  closeWithStore(): Promise<void> {
    this.#close.start(true, "close (the store is closing)");
    return this.#close.ended();
  }

  async #shutDown(waitForNext: boolean): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#beatTimer);
    this.#wakeup.wake();
    await this.#beating;
    if (waitForNext) await this.#chain;
    await this.#listener?.close();
    try {
      await this.#settle.resolveTentative(true);
      this.#settle.autoAckAll();
      await this.#flush();
      await this.#session.releaseAll();
    } finally {
      await leaveGroup(this.#context, this.#session.member);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
