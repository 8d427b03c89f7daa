/**
 * Id validation shared by documents and streams.
 *
 * @module
 */

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks that a value is a UUID string.
 *
 * @param value The candidate id.
 * @param what What the id names, for the message ("document id", "stream id").
 * @throws {TypeError} When the value is not a UUID string.
 */
export function assertUuid(value: unknown, what: string): asserts value is string {
  if (typeof value !== "string" || !UUID_PATTERN.test(value)) {
    throw new TypeError(`Invalid ${what} ${JSON.stringify(value)}: expected a UUID string`);
  }
}

/**
 * Tells whether a value is a UUID string.
 *
 * @param value The candidate.
 * @returns `true` for a UUID string (any case).
 */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID_PATTERN.test(value);
}
