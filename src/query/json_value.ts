/**
 * JSON values: what a document may hold, checked before a value is bound as a
 * parameter (a predicate's operand, a patch's value).
 *
 * @module
 */

/**
 * Checks that a value can be stored in a document.
 *
 * @param value The value.
 * @param what What it is, for the message.
 * @returns The value.
 * @throws {TypeError} For undefined, functions, symbols and bigints.
 * @throws {RangeError} For NaN and infinities.
 */
export function assertJsonValue(value: unknown, what: string): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new RangeError(`${what} must be a finite number, got ${value}`);
  }
  if (
    value === undefined || typeof value === "function" || typeof value === "symbol" ||
    typeof value === "bigint"
  ) {
    throw new TypeError(`${what} must be a JSON value, got ${typeof value}`);
  }
  return value;
}
