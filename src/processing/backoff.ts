/**
 * Exponential backoff for failing handlers: how long to wait before attempt
 * `n + 1`, and when to give up and dead-letter. Shared by the projection
 * daemon and subscriptions.
 *
 * @module
 */

/** How failing events are retried. */
export interface BackoffOptions {
  /** The delay after the first failure, in milliseconds (default 500). */
  baseMs?: number;
  /** The longest delay, in milliseconds (default 60 000). */
  maxMs?: number;
  /** Attempts in all, the first included, before the event is dead-lettered (default 5). */
  maxAttempts?: number;
}

/** {@linkcode BackoffOptions} with every field set. */
export type ResolvedBackoff = Required<BackoffOptions>;

/** The defaults of {@linkcode BackoffOptions}. */
export const DEFAULT_BACKOFF: ResolvedBackoff = Object.freeze({
  baseMs: 500,
  maxMs: 60_000,
  maxAttempts: 5,
});

/**
 * Fills in and checks backoff options.
 *
 * @param options The caller's options.
 * @returns Every field set.
 * @throws {RangeError} For a negative delay, `maxMs < baseMs` or `maxAttempts < 1`.
 */
export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  const resolved = { ...DEFAULT_BACKOFF, ...stripUndefined(options) };
  for (const key of ["baseMs", "maxMs"] as const) {
    if (!Number.isSafeInteger(resolved[key]) || resolved[key] < 0) {
      throw new RangeError(`backoff.${key} must be a non-negative integer, got ${resolved[key]}`);
    }
  }
  if (resolved.maxMs < resolved.baseMs) {
    throw new RangeError(
      `backoff.maxMs (${resolved.maxMs}) must not be below backoff.baseMs (${resolved.baseMs})`,
    );
  }
  if (!Number.isSafeInteger(resolved.maxAttempts) || resolved.maxAttempts < 1) {
    throw new RangeError(
      `backoff.maxAttempts must be a positive integer, got ${resolved.maxAttempts}`,
    );
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The delay before the next attempt after `failures` failed attempts:
 * `baseMs · 2^(failures − 1)`, capped at `maxMs`.
 *
 * @param failures Failed attempts so far (≥ 1).
 * @param options The resolved backoff.
 * @returns The delay in milliseconds.
 */
export function backoffDelayMs(failures: number, options: ResolvedBackoff): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 52);
  return Math.min(options.maxMs, options.baseMs * 2 ** exponent);
}

/**
 * Whether an event that has failed `failures` times goes to the dead-letter queue.
 *
 * @param failures Failed attempts so far.
 * @param options The resolved backoff.
 * @returns `true` once the attempts are used up.
 */
export function exhausted(failures: number, options: ResolvedBackoff): boolean {
  return failures >= options.maxAttempts;
}
