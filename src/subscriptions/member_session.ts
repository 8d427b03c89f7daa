/**
 * One member's standing in its group: the partitions it leases (with their
 * fencing tokens), the delivery tracker of those partitions, partitions it
 * offers or hands over after a rebalance, and deliveries it lost with a lease.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import type { GroupMode } from "./groups.ts";
import {
  acquirePartitions,
  assignedMember,
  desiredPartitions,
  type Heartbeat,
  heartbeat,
  releasePartitions,
} from "./membership.ts";
import type { HeldLease, MemberRef } from "./progress.ts";
import { ProgressWriter } from "./progress_writer.ts";
import { DeliveryTracker } from "./tracker.ts";

/** What a beat changed. */
export interface BeatOutcome {
  /** The heartbeat's figures. */
  readonly heartbeat: Heartbeat;
  /** Whether partitions were gained or lost (scans in flight must be discarded). */
  readonly changed: boolean;
  /** Credits held by deliveries lost with a lease (to give back). */
  readonly lostCredits: number;
  /** The member's row had vanished (reset or reaped): its credits went with it. */
  readonly evicted: boolean;
}

/**
 * The error for an ack or nack whose lease is gone.
 *
 * @param member The member.
 * @param globalSeq The event.
 * @returns A `LEASE_LOST` error.
 */
export function leaseLost(member: MemberRef, globalSeq: number): RillflowError {
  return new RillflowError(
    "LEASE_LOST",
    `Cannot settle event ${globalSeq} of subscription "${member.subscription}", group ` +
      `"${member.group}": member "${member.memberId}" no longer holds its partition ` +
      "(the event will be delivered again)",
    { details: { ...member, globalSeq } },
  );
}

/** A member's partitions, leases and delivery state. */
export class MemberSession {
  readonly tracker: DeliveryTracker = new DeliveryTracker();
  /** Writes this member's progress, one statement at a time. */
  readonly writer: ProgressWriter;
  /** Incremented whenever the partition set changes. */
  epoch = 0;
  readonly #context: StoreContext;
  readonly #leases = new Map<number, number>();
  readonly #handover = new Map<number, number>();
  /** Partitions another member should hold, kept until it beats: who, and its beat then. */
  readonly #offered = new Map<number, { receiver: string; lastBeat: string | undefined }>();
  readonly #lost = new Set<number>();
  #joined = false;
  #rebalancing = false;

  /**
   * @param context The store context.
   * @param member Who this member is.
   * @param mode The group's mode.
   * @param partitionCount The group's partition count.
   * @param leaseTtlMs The lease time to live.
   */
  constructor(
    context: StoreContext,
    readonly member: MemberRef,
    readonly mode: GroupMode,
    readonly partitionCount: number,
    readonly leaseTtlMs: number,
  ) {
    this.#context = context;
    this.writer = new ProgressWriter(context, member, this.tracker);
  }

  /** The leases held, by partition. */
  get leases(): HeldLease[] {
    return [...this.#leases].map(([partition, token]) => ({ partition, token }))
      .sort((a, b) => a.partition - b.partition);
  }

  /** Whether partitions are changing hands (the member beats more often meanwhile). */
  get rebalancing(): boolean {
    return this.#rebalancing;
  }

  /** Partitions being handed over: no new deliveries from them. */
  get handingOver(): ReadonlySet<number> {
    return new Set(this.#handover.keys());
  }

  /** Partitions to scan: held and not being handed over. */
  get scanPartitions(): number[] {
    return this.tracker.partitions.filter((p) => !this.#handover.has(p));
  }

  /**
   * The fencing token of a held partition.
   *
   * @param partition The partition.
   * @returns The token, or undefined when not held.
   */
  tokenOf(partition: number): number | undefined {
    return this.#leases.get(partition);
  }

  /**
   * Whether an event was delivered and then lost with its lease (forgets it).
   *
   * @param globalSeq The event.
   * @returns `true` once for each lost delivery.
   */
  takeLost(globalSeq: number): boolean {
    return this.#lost.delete(globalSeq);
  }

  /**
   * Forgets a partition (lost or released).
   *
   * @param partition The partition.
   * @returns Credits held by its deliveries, now lost.
   */
  lose(partition: number): number {
    if (!this.#leases.delete(partition)) return 0;
    this.#handover.delete(partition);
    this.#offered.delete(partition);
    this.epoch++;
    const dropped = this.tracker.removePartition(partition);
    for (const tracked of dropped) this.#lost.add(tracked.envelope.globalSeq);
    return dropped.length;
  }

  /**
   * Beats: upserts the member, renews and claims leases, starts handing over
   * partitions another member should now hold, and releases drained ones.
   *
   * @returns What changed.
   */
  async beat(): Promise<BeatOutcome> {
    const epoch = this.epoch;
    let lostCredits = 0;
    const beat = await heartbeat(this.#context, this.member, this.leaseTtlMs);
    // A row created again means this member was evicted (reset or reaped): start afresh.
    const evicted = beat.joined && this.#joined;
    if (evicted) { for (const partition of [...this.#leases.keys()]) this.lose(partition); }
    this.#joined = true;
    const desired = desiredPartitions(
      this.mode,
      this.partitionCount,
      beat.liveMembers,
      this.member.memberId,
    );
    const wanted = [...new Set([...this.#leases.keys(), ...desired])].sort((a, b) => a - b);
    const acquired = await acquirePartitions(this.#context, this.member, wanted, this.leaseTtlMs);
    const byPartition = new Map(acquired.map((a) => [a.partition, a]));
    for (const [partition, token] of [...this.#leases]) {
      if (byPartition.get(partition)?.token !== token) lostCredits += this.lose(partition);
    }
    for (const a of acquired) {
      if (this.#leases.has(a.partition)) continue;
      this.#leases.set(a.partition, a.token);
      this.tracker.addPartition(a.partition, a.checkpoint);
      this.epoch++;
    }
    lostCredits += await this.#handOver(new Set(desired), beat);
    // Standbys of exclusive groups wait for the lease at the normal pace.
    this.#rebalancing = this.mode === "shared" &&
      (this.#handover.size > 0 || this.#offered.size > 0 ||
        desired.some((p) => !this.#leases.has(p)));
    return { heartbeat: beat, changed: epoch !== this.epoch, lostCredits, evicted };
  }

  /**
   * Offers undesired partitions to the members they are assigned to, starts
   * handing over those whose receiver beat since the offer, and releases those
   * drained (or overdue).
   */
  async #handOver(desired: ReadonlySet<number>, beat: Heartbeat): Promise<number> {
    if (this.mode === "exclusive") return 0;
    const now = Date.now();
    for (const partition of this.#leases.keys()) {
      if (desired.has(partition)) {
        this.#handover.delete(partition);
        this.#offered.delete(partition);
      } else if (!this.#handover.has(partition) && this.#receiverBeat(partition, beat)) {
        this.#offered.delete(partition);
        this.#handover.set(partition, now + this.leaseTtlMs);
        this.tracker.dropQueued(new Set([partition]));
      }
    }
    return await this.#releaseDrained(now);
  }

  /**
   * Whether the member a partition is now assigned to beat since the partition
   * was offered to it (the offer is recorded, or renewed for a new receiver,
   * otherwise). A member killed a moment ago still counts as live for two
   * beats: it is never handed a partition it would not claim, and the
   * partition is served here meanwhile.
   */
  #receiverBeat(partition: number, beat: Heartbeat): boolean {
    const receiver = assignedMember(beat.liveMembers, partition);
    const lastBeat = beat.lastBeats.get(receiver);
    const offer = this.#offered.get(partition);
    if (offer?.receiver === receiver) return offer.lastBeat !== lastBeat;
    this.#offered.set(partition, { receiver, lastBeat });
    return false;
  }

  /** Releases partitions handed over once their deliveries are settled (or their time is up). */
  async #releaseDrained(now: number): Promise<number> {
    let lostCredits = 0;
    for (const [partition, deadline] of [...this.#handover]) {
      if (this.tracker.hasOutstanding(partition) && now < deadline) continue;
      const token = this.#leases.get(partition)!;
      await this.writer.submit({ leases: [{ partition, token }], fold: [partition] });
      await releasePartitions(this.#context, this.member, [partition]);
      lostCredits += this.lose(partition);
    }
    return lostCredits;
  }

  /** Releases every lease at once (a close). */
  async releaseAll(): Promise<void> {
    const partitions = [...this.#leases.keys()];
    await releasePartitions(this.#context, this.member, partitions);
    for (const partition of partitions) this.lose(partition);
  }
}
