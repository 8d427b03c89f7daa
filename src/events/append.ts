/**
 * The append statement: version check, stream bump, the invariant-1
 * watermark lock and the event insert in ONE statement, runnable on the pool
 * or inside a transaction.
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import { isUniqueViolation } from "../db/_pg_errors.ts";
import { assertUuid } from "../ids.ts";
import { assertExpected, type ExpectedVersion } from "./expected.ts";
import {
  assertEventVersion,
  type NewEvent,
  serializeEventData,
  serializeMetadata,
} from "./new_event.ts";
import {
  type AppendShape,
  appendStatement,
  type AppendValues,
  jsonArray,
  type PositionsRow,
  STREAM_SEQ_CONSTRAINT,
  type StreamCheck,
} from "./append_sql.ts";
import { type EventRow } from "./envelope.ts";
import {
  diagnoseEmptyAppend,
  idempotencyConflict,
  lostRace,
  requestHash,
} from "./append_errors.ts";
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
  /** Merged headers JSON: shared by all events, or one per event when events carry metadata. */
  readonly headers: string | readonly string[];
  readonly causationId: string | null;
  readonly correlationId: string | null;
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
  withMetadata: boolean,
): string | string[] {
  if (options.headers !== undefined) serializeMetadata("Append headers", options.headers);
  const base = options.headers === undefined
    ? context.settings.sessionHeaders
    : { ...context.settings.sessionHeaders, ...options.headers };
  if (!withMetadata) return JSON.stringify(base);
  return events.map((e) =>
    e.metadata === undefined ? JSON.stringify(base) : JSON.stringify({ ...base, ...e.metadata })
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
  // One pass, no closures: this runs on every append, usually on a path the CPU has not
  // just run, where each extra function costs (bench/README.md).
  const count = events.length;
  const types = new Array<string>(count);
  const datas = new Array<string>(count);
  const versions = new Array<number>(count);
  const upcasters = context.settings.upcasters;
  let withMetadata = false;
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
    if (e!.metadata !== undefined) {
      serializeMetadata(`Event "${type}" metadata`, e!.metadata);
      withMetadata = true;
    }
  }
  validateEventData(context, types, versions, datas);
  return {
    // PostgreSQL's own form of the uuid: one key per stream in the combiner's queues, the guesses
    // and the per-stream advisory lock, whatever case the caller wrote it in.
    streamId: streamId.toLowerCase(),
    expected,
    count,
    types,
    datas,
    versions,
    headers: mergedHeaders(context, options, events, withMetadata),
    causationId: optionalString(options.causationId, "causationId") ??
      context.settings.causationId ?? null,
    correlationId: optionalString(options.correlationId, "correlationId") ??
      context.settings.correlationId ?? null,
    category: optionalString(options.category, "category", 200),
    idempotencyKey: optionalString(options.idempotencyKey, "idempotencyKey", MAX_KEY_LENGTH),
  };
}

function checkOf(expected: ExpectedVersion): StreamCheck {
  switch (expected.kind) {
    case "any":
      return "any";
    case "noStream":
      return "create";
    case "streamExists":
      return "exists";
    case "exact":
      return expected.version === 0 ? "create" : "exact";
  }
}

/**
 * The statement shape of a prepared append.
 *
 * @param prepared The append.
 * @param envelopes Whether to return envelope rows.
 * @returns The shape.
 */
export function shapeOf(prepared: PreparedAppend, envelopes: boolean): AppendShape {
  return {
    check: checkOf(prepared.expected),
    events: prepared.count === 1 ? "one" : typeof prepared.headers === "string" ? "many" : "mixed",
    keyed: prepared.idempotencyKey !== null,
    categorized: prepared.category !== null,
    envelopes,
    plain: prepared.headers === "{}" && prepared.causationId === null &&
      prepared.correlationId === null,
    uniform: isUniform(prepared),
  };
}

/** Whether several events share one type and one version (sent once, as scalars). */
function isUniform({ count, types, versions }: PreparedAppend): boolean {
  if (count === 1) return false;
  for (let i = 1; i < count; i++) {
    if (types[i] !== types[0] || versions[i] !== versions[0]) return false;
  }
  return true;
}

function valuesOf(
  _context: StoreContext,
  prepared: PreparedAppend,
  shape: AppendShape,
  hash: string | null,
): AppendValues {
  const one = shape.events === "one";
  const perEvent = <T>(value: T) =>
    shape.events === "mixed" ? prepared.types.map(() => value) : value;
  const headers = prepared.headers;
  return {
    stream: prepared.streamId,
    count: prepared.count,
    types: one || shape.uniform ? prepared.types[0] : prepared.types,
    datas: one ? prepared.datas[0] : jsonArray(prepared.datas),
    versions: one || shape.uniform ? prepared.versions[0] : prepared.versions,
    headers: typeof headers === "string" ? headers : one ? headers[0] : jsonArray(headers),
    causation: perEvent(prepared.causationId),
    correlation: perEvent(prepared.correlationId),
    category: prepared.category,
    expected: prepared.expected.kind === "exact" ? prepared.expected.version : null,
    key: prepared.idempotencyKey,
    hash,
  };
}

/**
 * Runs an append statement and turns "no rows" and a repeated key into typed errors.
 *
 * @param db Where to run.
 * @param context The store context.
 * @param shape The statement shape.
 * @param values Its values.
 * @param prepared The append (or, for a combined append, one standing for the group).
 * @returns The written rows, in order.
 * @throws {RillflowError} `CONCURRENCY_CONFLICT`, `STREAM_ARCHIVED`, `IDEMPOTENCY_CONFLICT`,
 *   `INVALID_INPUT` (a category other than the stream's); a lost race (another writer took
 *   the stream's next version after this statement read it) is a `CONCURRENCY_CONFLICT` that
 *   `retryingRaces` retries or completes.
 */
export function executeAppend<R>(
  db: Queryable,
  context: StoreContext,
  shape: AppendShape,
  values: AppendValues,
  prepared: PreparedAppend,
): Promise<R[]> {
  // A promise chain, not an async function: this is the hot path of every append.
  const statement = appendStatement(context, shape);
  const params = new Array<unknown>(statement.names.length);
  for (let i = 0; i < params.length; i++) params[i] = values[statement.names[i]!];
  return db.query<R>(statement.text, params).then(
    (rows) => {
      const first = rows[0] as PositionsRow | undefined;
      // A batch's positions row has a count (0: nothing written); a single event's has none.
      const written = shape.envelopes || !first ? rows.length : first.count ?? 1;
      return written === 0 ? diagnosed(db, context, prepared, values.hash) : rows;
    },
    async (error) => {
      if (!(error instanceof RillflowError)) throw error;
      if (isUniqueViolation(error, STREAM_SEQ_CONSTRAINT)) throw lostRace(prepared, error);
      if (shape.keyed && isUniqueViolation(error, "idempotency_keys_pkey")) {
        throw await idempotencyConflict(db, context, prepared, values.hash!, error);
      }
      throw error;
    },
  );
}

async function diagnosed(
  db: Queryable,
  context: StoreContext,
  prepared: PreparedAppend,
  hash: string | null,
): Promise<never> {
  throw await diagnoseEmptyAppend(db, context, prepared, hash);
}

/**
 * Runs a prepared append on `db` (the pool or a transaction) and returns what
 * it wrote: one {@linkcode PositionsRow}, or with `envelopes` the envelope row
 * of every written event, in order.
 *
 * @param db Where to run.
 * @param context The store context.
 * @param prepared From {@linkcode prepareAppend}.
 * @param envelopes Return the envelope columns of every written event.
 * @returns The rows.
 * @throws {RillflowError} As {@linkcode executeAppend}.
 */
export function writeAppend<R extends PositionsRow | EventRow>(
  db: Queryable,
  context: StoreContext,
  prepared: PreparedAppend,
  envelopes = false,
): Promise<R[]> {
  const shape = shapeOf(prepared, envelopes);
  const run = (hash: string | null) =>
    executeAppend<R>(db, context, shape, valuesOf(context, prepared, shape, hash), prepared);
  return shape.keyed ? requestHash(prepared).then(run) : run(null);
}

/**
 * Runs a prepared append on `db` (the pool or a transaction).
 *
 * @param db Where to run.
 * @param context The store context.
 * @param prepared From {@linkcode prepareAppend}.
 * @returns The new stream version and global positions.
 * @throws {RillflowError} `CONCURRENCY_CONFLICT` with `details.expected` and `details.actual`;
 *   `STREAM_ARCHIVED`; `IDEMPOTENCY_CONFLICT` naming the key.
 */
export function runAppend(
  db: Queryable,
  context: StoreContext,
  prepared: PreparedAppend,
): Promise<AppendResult> {
  const { expected } = prepared;
  return writeAppend<PositionsRow>(db, context, prepared).then((rows) =>
    resultOfPositions(rows[0]!, expected.kind === "exact" ? expected.version : 0)
  );
}

/**
 * Runs an `Expected.any` append as if it started its stream (the statement
 * of `noStream`: its events from version 1, no version read). When the
 * stream has events the unique index refuses the first one and nothing is
 * written: a lost race (`isLostRace`), and on a connection outside a
 * transaction nothing else is lost.
 *
 * @param db Where to run.
 * @param context The store context.
 * @param prepared The append.
 * @returns Its positions row.
 * @throws {RillflowError} A lost race when the stream has events; as {@linkcode executeAppend}.
 */
export function writeFirstGuess(
  db: Queryable,
  context: StoreContext,
  prepared: PreparedAppend,
): Promise<PositionsRow[]> {
  const shape: AppendShape = { ...shapeOf(prepared, false), check: "create" };
  return executeAppend(db, context, shape, valuesOf(context, prepared, shape, null), prepared);
}

/**
 * The result of a {@linkcode PositionsRow}.
 *
 * @param row The row of a statement that wrote events.
 * @param from The stream's version before the append, for a row without one (the version was
 *   known beforehand: 0 for a new stream, n for `Expected.exact(n)`).
 * @returns The new stream version and the global positions.
 */
export function resultOfPositions(row: PositionsRow, from = 0): AppendResult {
  const first = row.first!;
  let globalSeqs = row.seqs;
  if (!globalSeqs) {
    // A loop, not Array.from with a mapper: several times faster for a batch.
    const count = row.count ?? 1;
    globalSeqs = new Array<number>(count);
    for (let i = 0; i < count; i++) globalSeqs[i] = first + i;
  }
  return { streamVersion: row.version ?? from + globalSeqs.length, globalSeqs };
}

/**
 * The result of written envelope rows.
 *
 * @param rows The rows, in stream order.
 * @returns The new stream version and global positions.
 */
export function resultOf(
  rows: readonly Pick<EventRow, "global_seq" | "stream_seq">[],
): AppendResult {
  return {
    streamVersion: rows[rows.length - 1]!.stream_seq,
    globalSeqs: rows.map((row) => row.global_seq),
  };
}
