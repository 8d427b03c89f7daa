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
  /**
   * The schema version of `data`. When omitted, the append stores the current
   * version of the type in the store's upcaster registry (1 without one).
   */
  readonly version?: number;
}

/**
 * Builds an event to append.
 *
 * @example
 * ```ts
 * import { event } from "@rillflow/rillflow";
 *
 * const placed = event("OrderPlaced", { orderId: 42 });
 * const legacy = event("OrderPlaced", { id: 42 }, { version: 1 });
 * console.log(placed.version, legacy.version); // undefined 1
 * ```
 *
 * @param type The event type (non-empty).
 * @param data The event's data.
 * @param options The data's schema version; omit it to store the type's current
 *   version (see `UpcasterRegistry.currentVersion`).
 * @returns The event.
 * @throws {TypeError} When the type is empty or the data is not JSON-serialisable.
 */
export function event<D>(type: string, data: D, options: { version?: number } = {}): NewEvent<D> {
  if (typeof type !== "string" || type.length === 0) {
    throw new TypeError("An event type must be a non-empty string");
  }
  const version = options.version;
  if (version !== undefined && (!Number.isSafeInteger(version) || version < 1)) {
    throw new TypeError(`An event version must be a positive integer, got ${version}`);
  }
  serializeEventData(type, data);
  return Object.freeze(version === undefined ? { type, data } : { type, data, version });
}

/**
 * Serialises event data to JSON text, rejecting what JSON cannot carry.
 *
 * @param type The event type, for the message.
 * @param data The data.
 * @returns The JSON text.
 * @throws {TypeError} For BigInt values, cycles, functions or undefined data.
 */
export function serializeEventData(type: string, data: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data, (_key, value) => {
      if (typeof value === "function" || typeof value === "symbol") {
        throw new TypeError(`a ${typeof value} is not JSON data`);
      }
      return value;
    });
  } catch (error) {
    throw new TypeError(
      `Event "${type}" has data that is not JSON-serialisable: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
  if (json === undefined) throw new TypeError(`Event "${type}" has no JSON data`);
  return json;
}
