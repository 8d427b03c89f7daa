/**
 * Events to append, built with {@linkcode event}.
 *
 * @module
 */

/** An event not yet appended. */
export interface NewEvent<D = unknown> {
  /** The event type, e.g. `"OrderPlaced"`. */
  readonly type: string;
  /** The event's data, JSON-serialisable. */
  readonly data: D;
  /** The schema version of `data`; appends use the type's current version when absent. */
  readonly version?: number;
  /**
   * Per-event headers, merged over the append's headers (and those over the
   * store's session headers) into the envelope's `headers`.
   */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** Options of {@linkcode event}. */
export interface EventOptions {
  /** The schema version of `data` (a positive integer; 1 unless upcasters say otherwise). */
  version?: number;
  /**
   * Headers of this event only, merged over the append's headers into
   * `envelope.headers` (a key given here wins).
   */
  metadata?: Record<string, unknown>;
}

/**
 * Builds an event to append.
 *
 * @example An event with a version and per-event metadata
 * ```ts
 * import { event } from "@rillflow/rillflow";
 *
 * const placed = event("OrderPlaced", { orderId: 42 }, { version: 2, metadata: { source: "web" } });
 * console.log(placed.version, placed.metadata); // 2 { source: "web" }
 * ```
 *
 * @param type The event type (non-empty).
 * @param data The event's data: JSON-serialisable (no BigInt, cycles, functions or symbols).
 * @param options The data's schema version (omit it to store the type's current version,
 *   see `UpcasterRegistry.currentVersion`) and per-event metadata.
 * @returns The event (frozen).
 * @throws {TypeError} When the type is empty, the version not a positive integer, or the data
 *   or metadata not JSON-serialisable.
 */
export function event<D>(type: string, data: D, options: EventOptions = {}): NewEvent<D> {
  if (typeof type !== "string" || type.length === 0) {
    throw new TypeError("An event type must be a non-empty string");
  }
  const { version, metadata } = options;
  if (version !== undefined) assertEventVersion(type, version);
  serializeEventData(type, data);
  if (metadata !== undefined) serializeMetadata(`Event "${type}" metadata`, metadata);
  return Object.freeze(
    metadata === undefined ? { type, data, version } : { type, data, version, metadata },
  );
}

const MAX_INT = 2147483647;

/**
 * Checks an event version.
 *
 * @param type The event type, for the message.
 * @param version The candidate.
 * @throws {TypeError} When it is not a positive safe integer.
 */
export function assertEventVersion(type: string, version: unknown): asserts version is number {
  if (!Number.isSafeInteger(version) || (version as number) < 1 || (version as number) > MAX_INT) {
    throw new TypeError(
      `Event "${type}" has version ${version}: expected a positive integer below 2^31`,
    );
  }
}

/**
 * Serialises event data to JSON text, rejecting what JSON cannot carry.
 *
 * @param type The event type, for the message.
 * @param data The data.
 * @returns The JSON text.
 * @throws {TypeError} For BigInt values, cycles, functions, symbols, undefined data, U+0000
 *   or lone surrogates.
 */
export function serializeEventData(type: string, data: unknown): string {
  return serializeJson(data, `Event "${type}" data`);
}

/**
 * Serialises per-event metadata or an append's headers: a plain JSON object.
 *
 * @param what What it is, for the message (`Event "Placed" metadata`, `Append headers`).
 * @param value The candidate.
 * @returns The JSON text of the object.
 * @throws {TypeError} When it is not a JSON-serialisable object.
 */
export function serializeMetadata(what: string, value: unknown): string {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(`${what} must be a plain object`);
  }
  return serializeJson(value, what);
}

/**
 * Serialises a value to JSON text that PostgreSQL's jsonb accepts.
 *
 * @param value The value.
 * @param what What it is, for the message.
 * @returns The JSON text.
 * @throws {TypeError} For what JSON or jsonb cannot carry, nothing being dropped silently.
 */
function serializeJson(value: unknown, what: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw notJson(what, error instanceof Error ? error.message : String(error), error);
  }
  if (json === undefined) throw notJson(what, "it is undefined");
  // JSON.stringify drops functions and symbols silently; a caller bug must not lose data.
  const dropped = findDropped(value, 0);
  if (dropped) throw notJson(what, `a ${dropped} is not JSON data`);
  // JSON.stringify writes \u escapes only for control characters and lone surrogates.
  if (json.includes("\\u")) {
    if (NUL.test(json)) throw notJson(what, "PostgreSQL cannot store the character U+0000");
    if (LONE_SURROGATE.test(json)) {
      throw notJson(what, "it holds a lone UTF-16 surrogate (not valid Unicode)");
    }
  }
  return json;
}

/** A `\u0000` escape not preceded by an escaped backslash. */
const NUL = /(?:^|[^\\])(?:\\\\)*\\u0000/;
/** A `\udXXX` surrogate escape (JSON.stringify escapes only lone ones). */
const LONE_SURROGATE = /(?:^|[^\\])(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/i;

function notJson(what: string, reason: string, cause?: unknown): TypeError {
  return new TypeError(`${what} is not JSON-serialisable: ${reason}`, { cause });
}

/** Finds a function or symbol JSON.stringify would drop; runs after stringify ruled out cycles. */
function findDropped(value: unknown, depth: number): string | undefined {
  if (typeof value === "function" || typeof value === "symbol") return typeof value;
  if (value === null || typeof value !== "object" || depth > 1000) return undefined;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return undefined;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findDropped(item, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const found = findDropped((value as Record<string, unknown>)[key], depth + 1);
    if (found) return found;
  }
  return undefined;
}
