/**
 * Option checks shared by the projection daemon and subscription members: the
 * worker's name in leases, and positive integer settings (sizes, intervals, TTLs).
 *
 * @module
 */

/**
 * A default worker name: host, process id and a random suffix (two workers in one process differ).
 *
 * @returns `<hostname>:<pid>:<random>`, with `localhost` when the host name is not readable.
 */
export function defaultNodeName(): string {
  let host = "localhost";
  try {
    host = Deno.hostname();
  } catch { /* no --allow-sys: keep the fallback */ }
  return `${host}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Checks a worker's name in leases, or makes one up with {@linkcode defaultNodeName}.
 *
 * @param value The caller's name, if any.
 * @param optionName The option's name, for the message (`node`, `memberId`).
 * @returns The name.
 * @throws {TypeError} For an empty or blank name, or one longer than 200 characters.
 */
export function resolveWorkerName(value: string | undefined, optionName: string): string {
  const name = value ?? defaultNodeName();
  if (typeof name !== "string" || name.trim() === "" || name.length > 200) {
    throw new TypeError(`${optionName} must be a non-empty string of at most 200 characters`);
  }
  return name;
}

/**
 * Checks a positive integer option, or takes its default.
 *
 * @param value The caller's value, if any.
 * @param optionName The option's name, for the message.
 * @param fallback The default.
 * @param max The largest value allowed, if bounded.
 * @returns The value.
 * @throws {RangeError} For a value that is not a safe integer, below 1 or above `max`.
 */
export function positiveInteger(
  value: unknown,
  optionName: string,
  fallback: number,
  max?: number,
): number {
  const result = value ?? fallback;
  if (
    typeof result !== "number" || !Number.isSafeInteger(result) || result < 1 ||
    (max !== undefined && result > max)
  ) {
    const expected = max === undefined ? "a positive integer" : `an integer from 1 to ${max}`;
    throw new RangeError(`${optionName} must be ${expected}, got ${value}`);
  }
  return result;
}
