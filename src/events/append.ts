/**
 * The append pipeline (docs/internals/append.md):
 *
 * 1. **input** (`append_input.ts`): validate and serialise; bad input throws
 *    before anything is sent;
 * 2. **plan** ({@linkcode planAppend}): the route, from the append's options
 *    alone: a transaction (advisory lock or inline projections), the stream's
 *    queue (`Expected.any` without key or category, combined with the appends
 *    to the same stream that wait behind it), or one statement;
 * 3. **statement** (`append_sql.ts`): one statement checks the version,
 *    takes the watermark lock, inserts, and reports what it found;
 * 4. **recovery** (`append_recovery.ts`): a statement that wrote nothing is
 *    explained (a conflict, an archived stream, a used key); a lost race of
 *    `any` or `streamExists` runs again.
 *
 * @module
 */
import { eventSettings } from "./settings.ts";
import type { Queryable, Tx } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import { isUniqueViolation } from "../db/_pg_errors.ts";
import { quoteIdent } from "../db/identifiers.ts";
import type { Projection } from "./projection.ts";
import type { AppendResult, PreparedAppend } from "./append_input.ts";
import { type EventRow, toEnvelope } from "./envelope.ts";
import {
  type AppendRow,
  type AppendShape,
  type AppendValues,
  type OneRow,
  statementsOf,
  STREAM_SEQ_CONSTRAINT,
  type StreamCheck,
} from "./append_sql.ts";
import {
  archivedStream,
  diagnoseEmptyAppend,
  idempotencyConflict,
  LostRace,
  requestHash,
  retryingRaces,
  versionConflict,
} from "./append_recovery.ts";
import { lockNamespace } from "./watermark.ts";
import { AppendQueues } from "./append_combiner.ts";

const QUEUES = {};

/** The stream queues of a store context (the `queued` route), kept with it. */
function queuesOf(context: StoreContext): AppendQueues {
  return context.stateOf(QUEUES, () => new AppendQueues((p) => appendAlone(context, p)));
}

/** The way an append goes to the database. */
export type AppendRoute = "transaction" | "queued" | "statement";

/**
 * Plans an append's route from its options alone.
 *
 * @param context The store context (its inline projections).
 * @param prepared The append.
 * @param advisoryLock Whether the append takes its stream's advisory lock.
 * @returns `transaction` with an advisory lock or inline projections for these types;
 *   `queued` for `Expected.any` without idempotency key or category (it may be
 *   combined with other appends to its stream); `statement` otherwise.
 */
export function planAppend(
  context: StoreContext,
  prepared: PreparedAppend,
  advisoryLock: boolean,
): AppendRoute {
  if (advisoryLock || inlineProjectionsFor(context, prepared.types).length > 0) {
    return "transaction";
  }
  if (
    prepared.expected.kind === "any" && prepared.idempotencyKey === null &&
    prepared.category === null
  ) return "queued";
  return "statement";
}

/**
 * Runs an append on its planned route.
 *
 * @param context The store context.
 * @param prepared The append.
 * @param advisoryLock Whether the append takes its stream's advisory lock.
 * @returns The new stream version and global positions.
 * @throws {RillflowError} As {@linkcode runAppend}, after recovery.
 */
export function appendPlanned(
  context: StoreContext,
  prepared: PreparedAppend,
  advisoryLock: boolean,
): Promise<AppendResult> {
  switch (planAppend(context, prepared, advisoryLock)) {
    case "transaction":
      return retryingRaces(context, (retry) =>
        context.executor.transaction(
          (tx) =>
            appendInTransaction(tx, context, prepared, { advisoryLock: advisoryLock || retry }),
          { searchPath: context.schema },
        ));
    case "queued":
      return queuesOf(context).queued(prepared);
    case "statement":
      return appendAlone(context, prepared);
  }
}

/**
 * One append statement on the pool; after a lost race, in a transaction that
 * takes the stream's advisory lock first (see `retryingRaces`).
 *
 * @param context The store context.
 * @param prepared The append.
 * @returns Its result.
 */
export function appendAlone(
  context: StoreContext,
  prepared: PreparedAppend,
): Promise<AppendResult> {
  return retryingRaces(
    context,
    (retry) =>
      retry
        ? context.executor.transaction((tx) =>
          appendInTransaction(tx, context, prepared, { advisoryLock: true })
        )
        : runAppend(context.executor, context, prepared),
  );
}

function checkOf(prepared: PreparedAppend): StreamCheck {
  const { expected } = prepared;
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

function shapeOf(prepared: PreparedAppend, envelopes: boolean): AppendShape {
  const keyed = prepared.idempotencyKey !== null;
  const categorized = prepared.category !== null;
  return {
    check: checkOf(prepared),
    events: prepared.count === 1 && !keyed && !categorized
      ? "one"
      : isUniform(prepared)
      ? "uniform"
      : "mixed",
    keyed,
    categorized,
    envelopes,
  };
}

/** Whether every event shares type, version, headers, causation and correlation. */
function isUniform(p: PreparedAppend): boolean {
  for (let i = 1; i < p.count; i++) {
    if (
      p.types[i] !== p.types[0] || p.versions[i] !== p.versions[0] ||
      p.headers[i] !== p.headers[0] || p.causationIds[i] !== p.causationIds[0] ||
      p.correlationIds[i] !== p.correlationIds[0]
    ) return false;
  }
  return true;
}

function valuesOf(prepared: PreparedAppend, shape: AppendShape, hash: string | null): AppendValues {
  const shared = shape.events !== "mixed";
  return {
    stream: prepared.streamId,
    types: shared ? prepared.types[0]! : prepared.types,
    datas: shape.events === "one" ? prepared.datas[0]! : `[${prepared.datas.join(",")}]`,
    versions: shared ? prepared.versions[0]! : prepared.versions,
    headers: shared ? prepared.headers[0]! : `[${prepared.headers.join(",")}]`,
    causation: shared ? prepared.causationIds[0]! : prepared.causationIds,
    correlation: shared ? prepared.correlationIds[0]! : prepared.correlationIds,
    category: prepared.category,
    expected: prepared.expected.kind === "exact" ? prepared.expected.version : null,
    key: prepared.idempotencyKey,
    hash,
  };
}

/**
 * Runs the append statement of a shape and maps a refused version and a
 * repeated key to typed errors.
 */
async function execute<R>(
  db: Queryable,
  context: StoreContext,
  prepared: PreparedAppend,
  envelopes: boolean,
): Promise<{ rows: R[]; shape: AppendShape; hash: string | null }> {
  const shape = shapeOf(prepared, envelopes);
  const hash = shape.keyed ? await requestHash(prepared) : null;
  const statement = statementsOf(context).of(shape);
  const values = valuesOf(prepared, shape, hash);
  try {
    const rows = await db.query<R>(statement.text, statement.names.map((name) => values[name]));
    return { rows, shape, hash };
  } catch (error) {
    if (!(error instanceof RillflowError)) throw error;
    if (isUniqueViolation(error, STREAM_SEQ_CONSTRAINT)) throw new LostRace(prepared, error);
    if (shape.keyed && isUniqueViolation(error, "idempotency_keys_pkey")) {
      throw await idempotencyConflict(db, context, prepared, hash!, error);
    }
    throw error;
  }
}

/**
 * Runs one append statement on `db` (the pool or a transaction), without
 * retries.
 *
 * @param db Where to run.
 * @param context The store context.
 * @param prepared From `prepareAppend`.
 * @returns The new stream version and global positions.
 * @throws {RillflowError} `CONCURRENCY_CONFLICT` with `details.expected` and `details.actual`;
 *   `STREAM_ARCHIVED`; `IDEMPOTENCY_CONFLICT` naming the key; `INVALID_INPUT` for a category
 *   other than the stream's; a {@linkcode LostRace} for {@linkcode retryingRaces}.
 */
export async function runAppend(
  db: Queryable,
  context: StoreContext,
  prepared: PreparedAppend,
): Promise<AppendResult> {
  const { rows, shape, hash } = await execute<AppendRow | OneRow>(db, context, prepared, false);
  if (shape.events === "one") {
    const written = rows[0] as OneRow | undefined;
    if (written) return { streamVersion: written.stream_seq, globalSeqs: [written.global_seq] };
    throw await diagnoseEmptyAppend(db, context, prepared, hash);
  }
  const row = rows[0] as AppendRow;
  if (row.seqs.length > 0) {
    return { streamVersion: row.version + row.seqs.length, globalSeqs: row.seqs };
  }
  // Nothing written. Without a key or category (whose errors come first) the statement's own
  // report explains it; otherwise one lookup does.
  const { expected } = prepared;
  if (shape.keyed || shape.categorized) {
    throw await diagnoseEmptyAppend(db, context, prepared, hash);
  }
  if (row.archived) throw archivedStream(prepared);
  if (shape.check === "exact" && expected.kind === "exact" && row.version !== expected.version) {
    throw versionConflict(prepared, row.version);
  }
  if (shape.check === "exists" && row.version === 0) throw versionConflict(prepared, 0);
  throw await diagnoseEmptyAppend(db, context, prepared, hash);
}

/**
 * Runs one append statement in envelope mode: the written rows come back.
 *
 * @param tx The transaction.
 * @param context The store context.
 * @param prepared The append.
 * @returns The written envelope rows, in order.
 * @throws {RillflowError} As {@linkcode runAppend}.
 */
export async function writeEnvelopes(
  tx: Queryable,
  context: StoreContext,
  prepared: PreparedAppend,
): Promise<EventRow[]> {
  const { rows, hash } = await execute<EventRow>(tx, context, prepared, true);
  if (rows.length === 0) throw await diagnoseEmptyAppend(tx, context, prepared, hash);
  return rows;
}

/**
 * Takes the transaction-level advisory lock of a stream: concurrent holders
 * of the same stream's lock queue until the holder's transaction ends. The
 * two-key form (`objsubid = 2`) never collides with the watermark's locks.
 *
 * SQL: `select pg_advisory_xact_lock($namespace, hashtext($streamId))`.
 *
 * @param tx The transaction.
 * @param context The store context.
 * @param streamId The stream.
 */
export async function lockStream(
  tx: Queryable,
  context: StoreContext,
  streamId: string,
): Promise<void> {
  await tx.query("select pg_advisory_xact_lock($1::int, hashtext($2::text))::text as locked", [
    lockNamespace(context.schema),
    streamId,
  ]);
}

const NONE: ReadonlyArray<[string, Projection]> = Object.freeze([]);

/**
 * The inline projections that handle at least one of the given event types.
 *
 * @param context The store context.
 * @param types The appended events' types.
 * @returns The matching projections with their names.
 */
export function inlineProjectionsFor(
  context: StoreContext,
  types: readonly string[],
): ReadonlyArray<[string, Projection]> {
  const inline = eventSettings(context).inlineProjections;
  if (inline.size === 0) return NONE;
  const matching: Array<[string, Projection]> = [];
  for (const entry of inline) {
    const wanted = entry[1].eventTypes;
    if (!wanted || types.some((t) => wanted.includes(t))) matching.push(entry);
  }
  return matching;
}

/**
 * Runs an append inside `tx`: the stream's advisory lock when asked, the
 * append statement, then every matching inline projection, each event in
 * order. A failing projection rejects with its own error; the caller's
 * transaction then rolls back and nothing is written.
 *
 * @param tx The transaction (handed to projections as their {@linkcode Tx}).
 * @param context The store context.
 * @param prepared The append.
 * @param options Whether to take the stream's advisory lock first.
 * @returns The append's result.
 */
export async function appendInTransaction(
  tx: Tx,
  context: StoreContext,
  prepared: PreparedAppend,
  options: { advisoryLock: boolean },
): Promise<AppendResult> {
  if (options.advisoryLock) await lockStream(tx, context, prepared.streamId);
  const projections = inlineProjectionsFor(context, prepared.types);
  if (projections.length === 0) return runAppend(tx, context, prepared);
  // Handlers write unqualified read-model tables: the store's schema, for this transaction only
  // (whichever unit of work opened it: an append, a session, an aggregate commit).
  await tx.query("select set_config('search_path', $1, true)", [quoteIdent(context.schema)]);
  const rows = await writeEnvelopes(tx, context, prepared);
  const envelopes = await eventSettings(context).upcast(rows.map(toEnvelope));
  const handle: Tx = { query: tx.query, sql: tx.sql };
  for (const [, projection] of projections) {
    for (const envelope of envelopes) {
      if (projection.eventTypes && !projection.eventTypes.includes(envelope.type)) continue;
      await projection.apply(envelope, handle);
    }
  }
  return {
    streamVersion: rows[rows.length - 1]!.stream_seq,
    globalSeqs: rows.map((row) => row.global_seq),
  };
}
