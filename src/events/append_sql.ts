/**
 * The text of the append statement. Each expected-version kind, event shape
 * and option gets its own small statement (built once per store and cached):
 * a statement that does only what its append needs is planned and run faster
 * than one general statement with switches.
 *
 * Every variant is ONE statement: the stream CTE takes the invariant-1 lock,
 * checks the expected version while bumping (or creating) the stream row and
 * yields the new version; the insert numbers the events from it. With an
 * idempotency key, a third CTE records the key and the result; a concurrent
 * duplicate fails on the key's primary key and the whole statement writes
 * nothing.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { ENVELOPE_COLUMNS } from "./envelope.ts";
import { appendLockSql } from "./watermark.ts";

/**
 * How the stream row is checked: `any` upserts, `create` (noStream, exact 0)
 * inserts or takes over a version-0 row left by an alias, `exact` and
 * `exists` update an existing row.
 */
export type StreamCheck = "any" | "create" | "exact" | "exists";

/**
 * How events are passed: `one` as scalars, `many` as arrays sharing one
 * headers/causation/correlation, `mixed` with those per event too.
 */
export type EventShape = "one" | "many" | "mixed";

/** Which statement an append needs. */
export interface AppendShape {
  readonly check: StreamCheck;
  readonly events: EventShape;
  /** With an idempotency key and request hash. */
  readonly keyed: boolean;
  /** Return full envelope rows (for inline projections) instead of positions. */
  readonly envelopes: boolean;
}

/** The named values an append statement may take. */
export interface AppendValues {
  /** The stream id. */
  stream: string;
  /** How many events. */
  count: number;
  /** Type(s), data, version(s), headers, causation and correlation id(s): scalars or arrays. */
  types: unknown;
  datas: unknown;
  versions: unknown;
  headers: unknown;
  causation: unknown;
  correlation: unknown;
  /** The category recorded on a stream that has none. */
  category: string | null;
  /** The exact version required (`exact` only). */
  expected: number | null;
  /** The idempotency key and request hash (keyed only). */
  key: string | null;
  hash: string | null;
}

/** A statement with the order its named values bind in. */
export interface AppendStatement {
  readonly text: string;
  readonly names: readonly (keyof AppendValues)[];
}

function streamCte(context: StoreContext, shape: AppendShape): string {
  const streams = context.table("streams");
  const gate = `${appendLockSql(context)}${
    shape.keyed
      ? ` and not exists (select 1 from ${context.table("idempotency_keys")} where key = {key})`
      : ""
  }`;
  const sameCategory = (existing: string, given: string) =>
    `(${given} is null or ${existing}.category is null or ${existing}.category = ${given})`;
  if (shape.check === "any" || shape.check === "create") {
    const bump = shape.check === "any" ? "version = s.version + {count}" : "version = {count}";
    const onlyEmpty = shape.check === "create" ? "s.version = 0 and " : "";
    return `insert into ${streams} as s (stream_id, version, category)
      select {stream}, {count}, {category}::text where ${gate}
      on conflict (stream_id) do update
        set ${bump}, updated_at = now(), category = coalesce(s.category, excluded.category)
        where ${onlyEmpty}s.archived_at is null and ${sameCategory("s", "excluded.category")}
      returning ${returned(shape)}`;
  }
  const version = shape.check === "exact" ? "s.version = {expected}::int" : "s.version > 0";
  return `update ${streams} as s
         set version = s.version + {count}, updated_at = now(),
             category = coalesce(s.category, {category}::text)
       where s.stream_id = {stream} and ${version} and s.archived_at is null
         and ${sameCategory("s", "{category}::text")} and ${gate}
      returning ${returned(shape)}`;
}

/**
 * What the stream CTE returns: the new version and, for batches, the shared
 * headers parsed once (a parameter cast in the event rows would be parsed
 * again for every row under a generic plan).
 */
function returned(shape: AppendShape): string {
  return shape.events === "many" ? "version, {headers}::text::jsonb as headers" : "version";
}

function eventRows(shape: AppendShape, tenant: string): string {
  switch (shape.events) {
    case "one":
      return `select {stream}, stream.version, {types}::text, {datas}::text::jsonb, {versions}::int,
                     {headers}::text::jsonb, {causation}::text, {correlation}::text, ${tenant}
                from stream`;
    case "many":
      return `select {stream}, stream.version - {count} + e.ord, e.type, e.data::jsonb, e.version,
                     stream.headers, {causation}::text, {correlation}::text, ${tenant}
                from stream, unnest({types}::text[], {datas}::text[], {versions}::int[])
                     with ordinality as e(type, data, version, ord)
               order by e.ord`;
    case "mixed":
      return `select {stream}, stream.version - {count} + e.ord, e.type, e.data::jsonb, e.version,
                     e.headers::jsonb, e.causation, e.correlation, ${tenant}
                from stream, unnest({types}::text[], {datas}::text[], {versions}::int[],
                                    {headers}::text[], {causation}::text[], {correlation}::text[])
                     with ordinality as e(type, data, version, headers, causation, correlation, ord)
               order by e.ord`;
  }
}

/** Replaces `{name}` placeholders by `$n`, numbered by first appearance. */
function number(template: string): AppendStatement {
  const names: (keyof AppendValues)[] = [];
  const text = template.replace(/\{([a-z]+)\}/g, (_, name: keyof AppendValues) => {
    let index = names.indexOf(name);
    if (index < 0) index = names.push(name) - 1;
    return `$${index + 1}`;
  });
  return { text, names };
}

/**
 * The one row a positions-mode statement returns: the first and last global
 * position written, the stream's new version, how many events were written
 * and, only when the positions are not consecutive (another statement drew
 * from the sequence in between), all of them. A single event's statement
 * returns just its position and the version (every column less to parse
 * counts on the fastest path).
 */
export interface PositionsRow {
  first: number | null;
  version: number | null;
  /** Absent for a single event (the row is then the event's own). */
  count?: number;
  last?: number | null;
  seqs?: number[] | null;
}

const POSITIONS = `select min(global_seq) as first, max(global_seq) as last,
         max(stream_seq) as version, count(*)::int as count,
         case when max(global_seq) - min(global_seq) + 1 <> count(*)
              then array_agg(global_seq order by global_seq) end as seqs
    from written`;

/**
 * Builds the statement for one shape.
 *
 * Positions mode returns one {@linkcode PositionsRow} (for a batch, one row
 * with three numbers parses much faster than a row per event); envelope mode
 * returns every written row.
 *
 * @param context The store context (table names).
 * @param shape The variant.
 * @returns The SQL text and the order of its named values.
 */
export function buildAppendSql(context: StoreContext, shape: AppendShape): AppendStatement {
  // The tenant is a validated name (lowercase letters, digits, `_`): safe as a literal.
  const tenant = context.tenant === null ? "null::text" : `'${context.tenant}'::text`;
  const insert = (returning: string) =>
    `insert into ${context.table("events")}
      (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
       tenant_id)
    ${eventRows(shape, tenant)}
    returning ${returning}`;
  const stream = `with stream as (${streamCte(context, shape)})`;
  if (!shape.keyed && !shape.envelopes && shape.events === "one") {
    return number(
      `${stream}\n${insert("global_seq as first, stream_seq as version")}`,
    );
  }
  const written = `${stream}, written as (${
    insert(shape.envelopes ? ENVELOPE_COLUMNS : "global_seq, stream_seq")
  })`;
  const kept = shape.keyed
    ? `, kept as (
      insert into ${context.table("idempotency_keys")}
        (key, stream_id, stream_version, global_seqs, request_hash)
      select {key}, {stream}, max(stream_seq), array_agg(global_seq order by stream_seq), {hash}
        from written having count(*) > 0)`
    : "";
  const result = shape.envelopes
    ? `select ${ENVELOPE_COLUMNS} from written order by global_seq`
    : POSITIONS;
  return number(`${written}${kept}\n${result}`);
}

const cache = new WeakMap<StoreContext, Map<string, AppendStatement>>();

/**
 * The (cached) statement for one shape.
 *
 * @param context The store context.
 * @param shape The variant.
 * @returns The SQL text and the order of its named values.
 */
export function appendStatement(context: StoreContext, shape: AppendShape): AppendStatement {
  let statements = cache.get(context);
  if (!statements) cache.set(context, statements = new Map());
  const key = `${shape.check}/${shape.events}/${shape.keyed}/${shape.envelopes}`;
  let statement = statements.get(key);
  if (!statement) statements.set(key, statement = buildAppendSql(context, shape));
  return statement;
}
