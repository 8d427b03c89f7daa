/**
 * The checks of an aggregate commit: the new events as they will be stored,
 * the validator run on the state after them, expected versions.
 *
 * @module
 */
import { eventSettings } from "./settings.ts";
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import type { Aggregate } from "./aggregate.ts";
import type { AppendOptions } from "./append_input.ts";
import type { EventEnvelope } from "./envelope.ts";
import { describeExpected, type ExpectedVersion } from "./expected.ts";
import { type NewEvent, serializeEventData } from "./new_event.ts";

/** Rejects a commit by throwing; receives the state after the new events. */
export type AggregateValidator<S> = (state: S) => void;

/**
 * The new events as a reader will see them once stored (data after a JSON
 * round trip, merged headers, current versions, upcast), before they have a
 * global position (`globalSeq` 0).
 *
 * @param context The store context.
 * @param streamId The stream.
 * @param version The stream version before them.
 * @param events The events.
 * @param options The append's headers and ids.
 * @returns The envelopes.
 */
export function pendingEnvelopes(
  context: StoreContext,
  streamId: string,
  version: number,
  events: readonly NewEvent[],
  options: AppendOptions,
): Promise<EventEnvelope[]> {
  const settings = eventSettings(context);
  const headers = { ...settings.sessionHeaders, ...options.headers };
  const createdAt = new Date();
  return settings.upcast(events.map((e, i) => ({
    globalSeq: 0,
    streamId,
    streamSeq: version + i + 1,
    type: e.type,
    data: JSON.parse(serializeEventData(e.type, e.data)),
    headers: structuredClone(headers),
    causationId: options.causationId ?? settings.causationId ?? null,
    correlationId: options.correlationId ?? settings.correlationId ?? null,
    eventVersion: e.version ?? settings.upcasters?.currentVersion(e.type) ?? 1,
    tenantId: null,
    userId: null,
    createdAt,
  })));
}

/**
 * Runs the validator on a state; a rejection becomes a typed error.
 *
 * @param aggregate The aggregate, for the message.
 * @param streamId The stream, for the message.
 * @param validator The validator.
 * @param state The state after the new events.
 * @throws {RillflowError} The validator's own RillflowError, or `INVALID_INPUT`
 *   carrying what it threw as `cause`.
 */
export function runValidator<S>(
  aggregate: Aggregate<S>,
  streamId: string,
  validator: AggregateValidator<S> | undefined,
  state: S,
): void {
  if (!validator) return;
  try {
    validator(state);
  } catch (error) {
    if (error instanceof RillflowError) throw error;
    throw new RillflowError(
      "INVALID_INPUT",
      `Aggregate "${aggregate.name}" rejected the commit to stream "${streamId}": ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error, retryable: false, details: { aggregate: aggregate.name, streamId } },
    );
  }
}

/**
 * Whether a stream at `version` satisfies `expected`.
 *
 * @param expected The expectation.
 * @param version The stream's version.
 * @returns True when an append with `expected` could succeed.
 */
export function satisfies(expected: ExpectedVersion, version: number): boolean {
  switch (expected.kind) {
    case "any":
      return true;
    case "noStream":
      return version === 0;
    case "streamExists":
      return version > 0;
    case "exact":
      return version === expected.version;
  }
}

/**
 * The error an append raises when the stream is not at the expected version.
 *
 * @param streamId The stream.
 * @param expected The expectation.
 * @param actual The version found.
 * @returns `CONCURRENCY_CONFLICT` with `details.expected` and `details.actual`.
 */
export function conflict(
  streamId: string,
  expected: ExpectedVersion,
  actual: number,
): RillflowError {
  const described = describeExpected(expected);
  return new RillflowError(
    "CONCURRENCY_CONFLICT",
    `Cannot append to stream "${streamId}": expected ${described} but found version ${actual}`,
    { details: { streamId, expected: described, actual } },
  );
}
