/**
 * `store.subscriptions`: stored, filtered catch-up feeds consumed by groups of
 * members with their own checkpoints and leases.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import { readWatermark } from "../events/watermark.ts";
import {
  deleteSubscription,
  listSubscriptions,
  readSubscription,
  setPaused,
  type SubscriptionInfo,
  upsertSubscription,
} from "./definitions.ts";
import {
  deleteDeadLetter,
  listDeadLetters,
  requeueDeadLetter,
  type SubscriptionDeadLetter,
} from "./dead_letters.ts";
import {
  assertPosition,
  type CreateSubscriptionOptions,
  normalizeFilter,
  validateName,
} from "./filter.ts";
import { type GroupStatus, resetGroups, setGroupMaxInFlight } from "./groups.ts";
import { readGroupStatuses } from "./group_status.ts";
import type { OpenMembers } from "./open_members.ts";
import { resolveSubscribeOptions, type SubscribeOptions } from "./subscribe_options.ts";
import { type Subscription, SubscriptionMember } from "./subscription.ts";

/** A subscription with the state of its groups. */
export interface SubscriptionStatus extends SubscriptionInfo {
  /** The store's head (the watermark) when the status was read. */
  readonly head: number;
  /** Its consumer groups, by name. */
  readonly groups: GroupStatus[];
}

function positiveId(id: unknown): number {
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 1) {
    throw new RangeError(`A dead letter id must be a positive integer, got ${id}`);
  }
  return id;
}

/**
 * Subscriptions of a store, reached as `store.subscriptions`.
 *
 * @example Consume with manual acks
 * ```ts
 * import { event, Expected, Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory");
 * await store.subscriptions.create("pings", { eventTypes: ["Ping"] });
 * await store.events.append(crypto.randomUUID(), Expected.any, [event("Ping", { n: 1 })]);
 * const sub = await store.subscriptions.subscribe("pings", {
 *   ackMode: "manual",
 *   stopWhenCaughtUp: true,
 * });
 * for await (const envelope of sub) {
 *   console.log(envelope.type, envelope.data);
 *   await sub.ack(envelope.globalSeq);
 * }
 * ```
 */
export class Subscriptions {
  readonly #context: StoreContext;
  readonly #openMembers: OpenMembers;

  /**
   * Created by the store; use `store.subscriptions`.
   *
   * @param context The store's context.
   * @param openMembers The open members of the store that owns the connections: closing it
   *   closes them.
   */
  constructor(context: StoreContext, openMembers: OpenMembers) {
    this.#context = context;
    this.#openMembers = openMembers;
  }

  /**
   * Creates a subscription, or replaces the filter of an existing one (its
   * groups keep their checkpoints; `startFrom` applies to groups created later).
   *
   * SQL: `insert into subscriptions (name, filter, start_from) values (…)
   * on conflict (name) do update set filter = excluded.filter, start_from = excluded.start_from`.
   *
   * @param name 1 to 128 letters, digits, `.`, `_`, `:` or `-`.
   * @param options Event types, stream ids, categories (all given lists must match) and `startFrom`.
   * @throws {TypeError} For an invalid name or filter; nothing is written.
   * @throws {RangeError} For a negative `startFrom`.
   */
  async create(name: string, options: CreateSubscriptionOptions = {}): Promise<void> {
    validateName(name, "subscription");
    const filter = normalizeFilter(options);
    const startFrom = assertPosition(options.startFrom ?? 0, "startFrom");
    await upsertSubscription(this.#context, name, filter, startFrom);
  }

  /**
   * Lists every subscription, by name.
   *
   * @returns Their definitions.
   */
  list(): Promise<SubscriptionInfo[]> {
    return listSubscriptions(this.#context);
  }

  /**
   * A subscription's definition and the state of its groups.
   *
   * @param name The subscription.
   * @returns Its status.
   * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION`.
   */
  async status(name: string): Promise<SubscriptionStatus> {
    const info = await readSubscription(this.#context.executor, this.#context, name);
    const groups = await readGroupStatuses(this.#context, name);
    const head = groups[0]?.head ??
      (await readWatermark(this.#context.executor, this.#context)).position;
    return { ...info, head, groups };
  }

  /**
   * Pauses delivery to every group (members keep their leases and wait).
   *
   * @param name The subscription.
   * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION`.
   */
  pause(name: string): Promise<void> {
    return setPaused(this.#context, name, true);
  }

  /**
   * Resumes delivery.
   *
   * @param name The subscription.
   * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION`.
   */
  resume(name: string): Promise<void> {
    return setPaused(this.#context, name, false);
  }

  /**
   * Moves the checkpoints of every group (or one) to `position`: delivery
   * resumes after it. Acks and retries of those groups are forgotten and their
   * members rejoin.
   *
   * @param name The subscription.
   * @param position The new checkpoint.
   * @param options `group`: reset only this group.
   * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION` for an unknown subscription or group.
   * @throws {RangeError} For a negative position.
   */
  reset(name: string, position: number, options: { group?: string } = {}): Promise<void> {
    assertPosition(position, "position");
    if (options.group !== undefined) validateName(options.group, "group");
    return resetGroups(this.#context, name, position, options.group);
  }

  /**
   * Deletes a subscription with its groups, checkpoints and dead letters.
   *
   * @param name The subscription.
   * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION`.
   */
  delete(name: string): Promise<void> {
    return deleteSubscription(this.#context, name);
  }

  /**
   * Joins a consumer group of a subscription (created on first use, starting
   * after the subscription's `startFrom`) and returns the member.
   *
   * @param name The subscription.
   * @param options Group, sharing mode, ack mode, batch size, in-flight bound, signal, lease, backoff.
   * @returns The member: iterate it, settle events, close it.
   * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION`; `INVALID_INPUT` when the group has the other mode.
   * @throws {TypeError | RangeError} For invalid options.
   */
  subscribe(name: string, options: SubscribeOptions = {}): Promise<Subscription> {
    validateName(name, "subscription");
    return SubscriptionMember.open(
      this.#context,
      name,
      resolveSubscribeOptions(options),
      this.#openMembers,
    );
  }

  /**
   * The state of every group of a subscription.
   *
   * @param name The subscription.
   * @returns The groups, by name.
   * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION`.
   */
  async groups(name: string): Promise<GroupStatus[]> {
    await readSubscription(this.#context.executor, this.#context, name);
    return readGroupStatuses(this.#context, name);
  }

  /**
   * The state of one group: checkpoint, head, lag, members, leases.
   *
   * @param name The subscription.
   * @param group The group.
   * @returns Its status.
   * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION` for an unknown subscription or group.
   */
  async groupStatus(name: string, group: string): Promise<GroupStatus> {
    await readSubscription(this.#context.executor, this.#context, name);
    const [status] = await readGroupStatuses(this.#context, name, group);
    if (!status) {
      throw new RillflowError(
        "UNKNOWN_SUBSCRIPTION",
        `Subscription "${name}" has no group "${group}": groups are created by subscribe()`,
        { details: { subscription: name, group } },
      );
    }
    return status;
  }

  /**
   * Sets a group's in-flight bound at runtime (members apply it at their next
   * reservation), or unsets it with `null`.
   *
   * @param name The subscription.
   * @param group The group.
   * @param value The bound (a positive integer) or null.
   * @throws {RillflowError} `UNKNOWN_SUBSCRIPTION` for an unknown subscription or group.
   * @throws {RangeError} For a bound that is not a positive integer.
   */
  setGroupMaxInFlight(name: string, group: string, value: number | null): Promise<void> {
    if (value !== null && (!Number.isSafeInteger(value) || value < 1 || value > 2 ** 31 - 1)) {
      throw new RangeError(`maxInFlight must be a positive integer or null, got ${value}`);
    }
    return setGroupMaxInFlight(this.#context, name, group, value);
  }

  /**
   * Lists dead letters, oldest first.
   *
   * @param name The subscription.
   * @param options One group only; at most `limit` (default 100).
   * @returns The dead letters.
   */
  dlqList(
    name: string,
    options: { group?: string; limit?: number } = {},
  ): Promise<SubscriptionDeadLetter[]> {
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`limit must be a positive integer, got ${options.limit}`);
    }
    return listDeadLetters(this.#context, name, { group: options.group, limit });
  }

  /**
   * Puts a dead letter back: its event is delivered again to its group (out of
   * global order), with fresh attempts.
   *
   * @param name The subscription.
   * @param id The dead letter's id.
   * @throws {RillflowError} `INVALID_INPUT` when there is no such dead letter.
   */
  dlqRequeue(name: string, id: number): Promise<void> {
    return requeueDeadLetter(this.#context, name, positiveId(id));
  }

  /**
   * Deletes a dead letter.
   *
   * @param name The subscription.
   * @param id The dead letter's id.
   * @throws {RillflowError} `INVALID_INPUT` when there is no such dead letter.
   */
  dlqDelete(name: string, id: number): Promise<void> {
    return deleteDeadLetter(this.#context, name, positiveId(id));
  }
}
