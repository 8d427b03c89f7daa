/**
 * The append statement: version check, stream bump, watermark lock and event
 * insert in ONE statement, runnable on the pool or inside a transaction.
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import { assertUuid } from "../ids.ts";
import { assertExpected, describeExpected, type ExpectedVersion } from "./expected.ts";
import { type NewEvent, serializeEventData } from "./new_event.ts";
import { appendLockSql, lockNamespace } from "./watermark.ts";

/** Options of an append. */
export interface AppendOptions {
  /** Headers stored with every event of the append (over the store's session headers). */
  headers?: Record<string, unknown>;
  /** The id of the message that caused these events. */
  causationId?: string;
  /** The id correlating these events with a wider conversation. */
  correlationId?: string;
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
  readonly streamId: string;
  readonly expected: ExpectedVersion;
  readonly params: unknown[];
  readonly count: number;
}

/**
 * Validates and serialises an append; throws before anything is written.
 *
 * @param context The store context.
 * @param streamId The stream.
 * @param expected The expected version.
 * @param events The events.
 * @param options Headers and ids.
 * @returns The statement parameters.
 * @throws {TypeError} For a malformed id, expectation, event list or data.
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
  const types = events.map((e) => {
    if (typeof e?.type !== "string" || e.type.length === 0) {
      throw new TypeError("Every event needs a non-empty type: build events with event()");
    }
    return e.type;
  });
  const datas = events.map((e) => serializeEventData(e.type, e.data));
  const versions = events.map((e) =>
    e.version ?? context.settings.upcasters?.currentVersion(e.type) ?? 1
  );
  const headers = JSON.stringify({ ...context.settings.sessionHeaders, ...options.headers });
  const insertable = expected.kind === "any" || expected.kind === "noStream" ||
    (expected.kind === "exact" && expected.version === 0);
  return {
    streamId,
    expected,
    count: events.length,
    params: [
      streamId,
      events.length,
      insertable,
      expected.kind === "exact" ? expected.version : null,
      expected.kind === "any",
      types,
      datas,
      versions,
      headers,
      options.causationId ?? context.settings.causationId ?? null,
      options.correlationId ?? context.settings.correlationId ?? null,
      lockNamespace(context.schema),
    ],
  };
}

/**
 * The append statement. `$3` says whether the stream may be created, `$4` the
 * exact version required, `$5` whether any version goes. The lock gate in both
 * stream CTEs runs before the main insert draws positions from the sequence.
 */
function appendSql(context: StoreContext): string {
  const { table } = context;
  const lock = appendLockSql(context, "$12");
  return `with bumped as (
      update ${table("streams")} set version = version + $2, updated_at = now()
       where stream_id = $1 and not $3::boolean and ($4::int is null or version = $4::int)
         and archived_at is null and ${lock}
      returning version
    ), created as (
      insert into ${table("streams")} as s (stream_id, version)
      select $1, $2 where $3::boolean and ${lock}
      on conflict (stream_id) do update set version = s.version + $2, updated_at = now()
       where $5::boolean and s.archived_at is null
      returning version
    ), stream as (select version from bumped union all select version from created)
    insert into ${table("events")}
      (stream_id, stream_seq, type, data, headers, causation_id, correlation_id, event_version)
    select $1, stream.version - $2 + e.ord, e.type, e.data::jsonb, $9::jsonb, $10, $11, e.version
      from stream, unnest($6::text[], $7::text[], $8::int[]) with ordinality as e(type, data, version, ord)
     order by e.ord
    returning global_seq, stream_seq`;
}

const statements = new WeakMap<StoreContext, string>();

/**
 * Runs a prepared append on `db` (the pool or a transaction).
 *
 * @param db Where to run.
 * @param context The store context.
 * @param prepared From {@linkcode prepareAppend}.
 * @returns The new stream version and global positions.
 * @throws {RillflowError} `CONCURRENCY_CONFLICT` with `details.expected` and `details.actual`.
 */
export async function runAppend(
  db: Queryable,
  context: StoreContext,
  prepared: PreparedAppend,
): Promise<AppendResult> {
  let text = statements.get(context);
  if (!text) statements.set(context, text = appendSql(context));
  const rows = await db.query<{ global_seq: number; stream_seq: number }>(text, prepared.params);
  if (rows.length === 0) {
    const [row] = await db.query<{ version: number; archived: boolean }>(
      `select version, archived_at is not null as archived from ${context.table("streams")}
        where stream_id = $1`,
      [prepared.streamId],
    );
    if (row?.archived) {
      throw new RillflowError(
        "STREAM_ARCHIVED",
        `Cannot append to stream "${prepared.streamId}": it is archived`,
        { details: { streamId: prepared.streamId } },
      );
    }
    const actual = row?.version ?? 0;
    throw new RillflowError(
      "CONCURRENCY_CONFLICT",
      `Cannot append to stream "${prepared.streamId}": expected ${
        describeExpected(prepared.expected)
      } but found version ${actual}`,
      {
        details: {
          streamId: prepared.streamId,
          expected: describeExpected(prepared.expected),
          actual,
        },
      },
    );
  }
  return {
    streamVersion: rows[rows.length - 1]!.stream_seq,
    globalSeqs: rows.map((row) => row.global_seq),
  };
}
