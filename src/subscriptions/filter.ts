/**
 * What a subscription delivers: its stored filter (event types, streams,
 * categories) and the names it is known by.
 *
 * @module
 */
import { assertUuid } from "../ids.ts";

/** Which events a subscription delivers. Each list narrows the feed; all given lists must match. */
export interface SubscriptionFilter {
  /** Only events of these types. */
  eventTypes?: string[];
  /** Only events of these streams (UUIDs). */
  streamIds?: string[];
  /** Only events of streams in these categories (`orders` for a stream aliased `orders:42`). */
  categories?: string[];
}

/** Options of {@linkcode Subscriptions.create}: the filter and where new groups start. */
export interface CreateSubscriptionOptions extends SubscriptionFilter {
  /**
   * The position after which a group starts when it is first used (default 0: the beginning).
   * Groups that already have a checkpoint keep it.
   */
  startFrom?: number;
}

/** A validated filter as stored: sorted, without duplicates, empty lists dropped. */
export interface StoredFilter {
  /** Only events of these types. */
  readonly eventTypes?: readonly string[];
  /** Only events of these streams (lowercase UUIDs). */
  readonly streamIds?: readonly string[];
  /** Only events of streams in these categories. */
  readonly categories?: readonly string[];
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * Checks a subscription or group name.
 *
 * @param name The candidate.
 * @param what "subscription" or "group", for the message.
 * @returns The name.
 * @throws {TypeError} When it is not 1 to 128 letters, digits, `.`, `_`, `:` or `-`.
 */
export function validateName(name: unknown, what: "subscription" | "group"): string {
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw new TypeError(
      `Invalid ${what} name ${JSON.stringify(name)}: use 1 to 128 letters, digits, ".", "_", ":" ` +
        `or "-", starting with a letter or digit`,
    );
  }
  return name;
}

function stringList(value: unknown, what: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v.length === 0)) {
    throw new TypeError(`${what} must be an array of non-empty strings`);
  }
  const unique = [...new Set(value as string[])].sort();
  return unique.length === 0 ? undefined : unique;
}

/**
 * Validates and normalises a filter.
 *
 * @param options The caller's filter.
 * @returns The stored form.
 * @throws {TypeError} For lists that are not non-empty strings, or stream ids that are not UUIDs.
 */
export function normalizeFilter(options: SubscriptionFilter): StoredFilter {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Subscription options must be an object");
  }
  const eventTypes = stringList(options.eventTypes, "eventTypes");
  const streamIds = stringList(options.streamIds, "streamIds")?.map((id) => id.toLowerCase());
  streamIds?.forEach((id) => assertUuid(id, "stream id"));
  const categories = stringList(options.categories, "categories");
  return {
    ...(eventTypes && { eventTypes }),
    ...(streamIds && { streamIds }),
    ...(categories && { categories }),
  };
}

/**
 * Describes a filter for people: `types A, B; streams 1; categories orders`.
 *
 * @param filter The stored filter.
 * @returns A short description; `all events` when nothing narrows it.
 */
export function describeFilter(filter: StoredFilter): string {
  const parts = [
    filter.eventTypes && `types ${filter.eventTypes.join(", ")}`,
    filter.streamIds && `streams ${filter.streamIds.join(", ")}`,
    filter.categories && `categories ${filter.categories.join(", ")}`,
  ].filter(Boolean);
  return parts.length === 0 ? "all events" : parts.join("; ");
}

/**
 * Checks a position argument (`startFrom`, `reset`).
 *
 * @param value The candidate.
 * @param what Its name, for the message.
 * @returns The position.
 * @throws {RangeError} When it is not a non-negative safe integer.
 */
export function assertPosition(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
  }
  return value;
}
