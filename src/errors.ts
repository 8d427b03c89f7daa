/**
 * Typed errors raised by Rillflow.
 *
 * Conditions a caller is expected to handle raise {@linkcode RillflowError}
 * with a string {@linkcode ErrorCode}; caller bugs (wrong argument types,
 * invalid identifiers) raise the built-in `TypeError` or `RangeError`.
 *
 * @module
 */

/** Every code a {@linkcode RillflowError} can carry. */
export const ERROR_CODES = [
  "CONCURRENCY_CONFLICT",
  "DOCUMENT_VERSION_CONFLICT",
  "DOCUMENT_NOT_FOUND",
  "IDEMPOTENCY_CONFLICT",
  "STREAM_ARCHIVED",
  "TENANT_REQUIRED",
  "TENANT_NOT_FOUND",
  "UNKNOWN_PROJECTION",
  "UNKNOWN_SUBSCRIPTION",
  "LEASE_LOST",
  "UPCASTING_FAILED",
  "INVALID_INPUT",
  "DATABASE_ERROR",
  "CONNECTION_ERROR",
] as const;

/** A machine-readable error code, stable across releases. */
export type ErrorCode = typeof ERROR_CODES[number];

/** Codes whose operations may succeed when simply tried again. */
const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "CONCURRENCY_CONFLICT",
  "DOCUMENT_VERSION_CONFLICT",
  "LEASE_LOST",
  "CONNECTION_ERROR",
]);

/** Options accepted by the {@linkcode RillflowError} constructor. */
export interface RillflowErrorOptions {
  /** The underlying error (usually the driver's). */
  cause?: unknown;
  /** Overrides the default retryability of the code. */
  retryable?: boolean;
  /** Structured facts about the failure (expected and actual versions, keys, …). */
  details?: Record<string, unknown>;
}

/**
 * The error type for every condition a Rillflow caller can handle.
 *
 * @example Telling a version conflict apart
 * ```ts
 * import { RillflowError } from "@rillflow/rillflow";
 *
 * try {
 *   throw new RillflowError("CONCURRENCY_CONFLICT", "Expected version 3 but found 4");
 * } catch (error) {
 *   if (error instanceof RillflowError && error.code === "CONCURRENCY_CONFLICT") {
 *     console.log(error.retryable); // true
 *   }
 * }
 * ```
 */
export class RillflowError extends Error {
  /** The stable, machine-readable code. */
  readonly code: ErrorCode;
  /** Whether trying the same operation again may succeed. */
  readonly retryable: boolean;
  /** Structured facts about the failure; never contains secrets. */
  readonly details: Readonly<Record<string, unknown>>;

  /**
   * Creates an error.
   *
   * @param code The stable error code.
   * @param message A sentence saying what happened and with what.
   * @param options The cause, retryability and details.
   */
  constructor(code: ErrorCode, message: string, options: RillflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RillflowError";
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.details = Object.freeze({ ...options.details });
  }
}

/**
 * Tells whether a value is a {@linkcode RillflowError}, optionally with a given code.
 *
 * @param error The value to test.
 * @param code When given, the code the error must carry.
 * @returns `true` when `error` is a RillflowError (with that code).
 */
export function isRillflowError(error: unknown, code?: ErrorCode): error is RillflowError {
  return error instanceof RillflowError && (code === undefined || error.code === code);
}
