/**
 * Expected stream versions for optimistic appends.
 *
 * @module
 */

/** What an append expects of the stream's current version. */
export type ExpectedVersion =
  | { readonly kind: "any" }
  | { readonly kind: "noStream" }
  | { readonly kind: "streamExists" }
  | { readonly kind: "exact"; readonly version: number };

/**
 * The expected-version values: `any`, `noStream`, `streamExists` and `exact(n)`.
 *
 * @example
 * ```ts
 * import { Expected } from "@rillflow/rillflow";
 *
 * Expected.exact(3); // the stream must be at version 3
 * ```
 */
export const Expected: {
  /** Append whatever the stream's version. */
  readonly any: ExpectedVersion;
  /** The stream must not exist yet. */
  readonly noStream: ExpectedVersion;
  /** The stream must already exist. */
  readonly streamExists: ExpectedVersion;
  /**
   * The stream must be at exactly this version (0 means it must not exist).
   *
   * @param version A non-negative integer.
   * @returns The expectation.
   * @throws {RangeError} When `version` is not a non-negative integer.
   */
  exact(version: number): ExpectedVersion;
} = Object.freeze({
  any: Object.freeze({ kind: "any" as const }),
  noStream: Object.freeze({ kind: "noStream" as const }),
  streamExists: Object.freeze({ kind: "streamExists" as const }),
  exact(version: number): ExpectedVersion {
    if (!Number.isSafeInteger(version) || version < 0) {
      throw new RangeError(`Expected version must be a non-negative integer, got ${version}`);
    }
    return Object.freeze({ kind: "exact" as const, version });
  },
});

/**
 * Describes an expectation for messages: `any`, `no stream`, `an existing stream`, `3`.
 *
 * @param expected The expectation.
 * @returns A short description.
 */
export function describeExpected(expected: ExpectedVersion): string {
  switch (expected.kind) {
    case "any":
      return "any";
    case "noStream":
      return "no stream";
    case "streamExists":
      return "an existing stream";
    case "exact":
      return String(expected.version);
  }
}

/**
 * Validates a value as an {@linkcode ExpectedVersion}.
 *
 * @param value The candidate.
 * @throws {TypeError} When it is not one of the `Expected` values.
 */
export function assertExpected(value: unknown): asserts value is ExpectedVersion {
  const kind = (value as { kind?: unknown } | null)?.kind;
  if (
    !(kind === "any" || kind === "noStream" || kind === "streamExists" ||
      (kind === "exact" && Number.isSafeInteger((value as { version?: unknown }).version)))
  ) {
    throw new TypeError(
      "Expected version must be one of Expected.any, noStream, streamExists, exact(n)",
    );
  }
}
