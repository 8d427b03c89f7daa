/**
 * The first step of the append pipeline (docs/internals/append.md): an
 * append's input validated and serialised, before anything is sent. Bad input
 * throws here, so a rejected append never reaches the database.
 *
 * @module
 */
import { eventSettings } from "./settings.ts";
import type { StoreContext } from "../_context.ts";
import { assertUuid } from "../ids.ts";
import { assertExpected, type ExpectedVersion } from "./expected.ts";
import {
  assertEventVersion,
  type NewEvent,
  serializeEventData,
  serializeMetadata,
} from "./new_event.ts";
import { validateEventData } from "./event_schemas.ts";

/** Options of an append. */
export interface AppendOptions {
  /** Headers stored with every event of the append (over the store's session headers). */
  headers?: Record<string, unknown>;
  /** The id of the message that caused these events. */
  causationId?: string;
  /** The id correlating these events with a wider conversation. */
  correlationId?: string;
  /**
   * A key unique for all time in the store: a later append with the same key
   * writes nothing and raises `IDEMPOTENCY_CONFLICT` (whose `details` carry the
   * original result and whether the request was identical).
   */
  idempotencyKey?: string;
  /**
   * The stream's category (e.g. `"orders"`), recorded when the stream has none
   * yet; naming a different category than the stream's raises `INVALID_INPUT`.
   */
  category?: string;
}

/** What an append wrote. */
export interface AppendResult {
  /** The stream's version after the append. */
  readonly streamVersion: number;
  /** The global positions of the appended events, in order. */
  readonly globalSeqs: number[];
}

/** Validated, serialised input of one append. */
export interface PreparedAppend {
  /** The stream, in lowercase (PostgreSQL's form of a uuid). */
  readonly streamId: string;
  readonly expected: ExpectedVersion;
  readonly count: number;
  readonly types: readonly string[];
  readonly datas: readonly string[];
  readonly versions: readonly number[];
  /** Each event's merged headers JSON (the append's over the store's, under the event's own). */
  readonly headers: readonly string[];
  /** Each event's causation and correlation id. */
  readonly causationIds: readonly (string | null)[];
  readonly correlationIds: readonly (string | null)[];
  readonly category: string | null;
  readonly idempotencyKey: string | null;
}

const MAX_KEY_LENGTH = 512;

function optionalString(value: unknown, what: string, maxLength = 1024): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || value.length === 0 || value.length > maxLength) {
    throw new TypeError(`${what} must be a non-empty string of at most ${maxLength} characters`);
  }
  return value;
}

function mergedHeaders(
  context: StoreContext,
  options: AppendOptions,
  events: readonly NewEvent[],
): string[] {
  if (options.headers !== undefined) serializeMetadata("Append headers", options.headers);
  const base = options.headers === undefined
    ? context.settings.sessionHeaders
    : { ...context.settings.sessionHeaders, ...options.headers };
  const shared = JSON.stringify(base);
  return events.map((e) =>
    e.metadata === undefined ? shared : JSON.stringify({ ...base, ...e.metadata })
  );
}

/**
 * Validates and serialises an append; throws before anything is written.
 *
 * @param context The store context.
 * @param streamId The stream.
 * @param expected The expected version.
 * @param events The events.
 * @param options Headers, ids, idempotency key and category.
 * @returns The validated append.
 * @throws {TypeError} For a malformed id, expectation, event list, data or option.
 * @throws {RillflowError} `INVALID_INPUT` when data violates a registered JSON Schema.
 */
export function prepareAppend(
  context: StoreContext,
  streamId: string,
  expected: ExpectedVersion,
  events: readonly NewEvent[],
  options: AppendOptions = {},
): PreparedAppend {
  assertUuid(streamId, "stream id");
  assertExpected(expected);
  if (!Array.isArray(events) || events.length === 0) {
    throw new TypeError("An append needs at least one event");
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError("Append options must be an object");
  }
  const count = events.length;
  const types = new Array<string>(count);
  const datas = new Array<string>(count);
  const versions = new Array<number>(count);
  const upcasters = eventSettings(context).upcasters;
  for (let i = 0; i < count; i++) {
    const e = events[i];
    const type = e?.type;
    if (typeof type !== "string" || type.length === 0) {
      throw new TypeError("Every event needs a non-empty type: build events with event()");
    }
    types[i] = type;
    datas[i] = serializeEventData(type, e!.data);
    const version = e!.version ?? upcasters?.currentVersion(type) ?? 1;
    assertEventVersion(type, version);
    versions[i] = version;
    if (e!.metadata !== undefined) serializeMetadata(`Event "${type}" metadata`, e!.metadata);
  }
  validateEventData(eventSettings(context).eventSchemas, types, versions, datas);
  const causationId = optionalString(options.causationId, "causationId") ??
    context.settings.causationId ?? null;
  const correlationId = optionalString(options.correlationId, "correlationId") ??
    context.settings.correlationId ?? null;
  return {
    // PostgreSQL's own form of the uuid: one key per stream in the combiner's queues and the
    // per-stream advisory lock, whatever case the caller wrote it in.
    streamId: streamId.toLowerCase(),
    expected,
    count,
    types,
    datas,
    versions,
    headers: mergedHeaders(context, options, events),
    causationIds: new Array<string | null>(count).fill(causationId),
    correlationIds: new Array<string | null>(count).fill(correlationId),
    category: optionalString(options.category, "category", 200),
    idempotencyKey: optionalString(options.idempotencyKey, "idempotencyKey", MAX_KEY_LENGTH),
  };
}
