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
 * @param options The data's schema version and per-event metadata.
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
  if (metadata !== undefined) serializeMetadata(type, metadata);
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
 * @throws {TypeError} For BigInt values, cycles, functions, symbols or undefined data.
 */
export function serializeEventData(type: string, data: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw notJson(type, "data", error instanceof Error ? error.message : String(error), error);
  }
  if (json === undefined) throw new TypeError(`Event "${type}" has no JSON data`);
  // JSON.stringify drops functions and symbols silently; a caller bug must not lose data.
  const dropped = findDropped(data, 0);
  if (dropped) throw notJson(type, "data", `a ${dropped} is not JSON data`);
  // JSON.stringify writes \u escapes only for control characters and lone surrogates.
  if (json.includes("\\u")) {
    if (NUL.test(json)) throw notJson(type, "data", "PostgreSQL cannot store the character U+0000");
    if (LONE_SURROGATE.test(json)) {
      throw notJson(type, "data", "it holds a lone UTF-16 surrogate (not valid Unicode)");
    }
  }
  return json;
}

/**
 * Serialises per-event metadata or append headers.
 *
 * @param type The event type (or a label), for the message.
 * @param metadata The candidate: a plain object.
 * @returns The JSON text of the object.
 * @throws {TypeError} When it is not a JSON-serialisable object.
 */
export function serializeMetadata(type: string, metadata: unknown): string {
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
    throw new TypeError(`Event "${type}" has metadata that is not an object`);
  }
  return serializeEventData(type, metadata);
}

/** A `\u0000` escape not preceded by an escaped backslash. */
const NUL = /(?:^|[^\\])(?:\\\\)*\\u0000/;
/** A `\udXXX` surrogate escape (JSON.stringify escapes only lone ones). */
const LONE_SURROGATE = /(?:^|[^\\])(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/i;

function notJson(type: string, what: string, reason: string, cause?: unknown): TypeError {
  return new TypeError(`Event "${type}" has ${what} that is not JSON-serialisable: ${reason}`, {
    cause,
  });
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
