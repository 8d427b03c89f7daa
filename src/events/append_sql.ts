/**
 * The text of the append statement. Each expected-version kind, event shape
 * and option gets its own small statement (built once per store and cached):
 * a statement that does only what its append needs is planned and run faster
 * than one general statement with switches.
 *
 * Every variant is ONE statement. The `v` CTE takes the invariant-1 lock and
 * reads the stream's version, its highest `stream_seq`, through the
 * `events (stream_id, stream_seq)` unique index (one backward index probe);
 * the insert checks the expected version against it, refuses an archived
 * stream and numbers the events from it. Two writers that read the same
 * version both try to insert its successor: the unique index lets the first
 * commit win and fails the other with a unique violation on
 * `events_stream_seq_unique`, which the caller maps to a conflict (or, for
 * `Expected.any`, retries). Invariant 3 is that index plus that mapping; a
 * plain append writes nothing but its events.
 *
 * With a category, a CTE records it on the stream's metadata row (or checks
 * it against the recorded one); with an idempotency key, a CTE records the
 * key and the result, and a concurrent duplicate fails on the key's primary
 * key.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { ENVELOPE_COLUMNS } from "./envelope.ts";
import { appendLockSql } from "./watermark.ts";

/**
 * The version check: `any` none, `create` (noStream, exact 0, and the guess
 * that an `any` append starts its stream) version 0, `exact` the given
 * version, `exists` a version above 0.
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
  /** With a category to record on (or check against) the stream's metadata row. */
  readonly categorized: boolean;
  /** Return full envelope rows (for inline projections) instead of positions. */
  readonly envelopes: boolean;
  /**
   * Shared empty headers and no causation or correlation id: those columns
   * take their defaults and are not sent (fewer parameters to bind and parse).
   */
  readonly plain: boolean;
  /**
   * Several events of one type and one version: those are sent once, as
   * scalars, not as arrays to parse and unnest (≈ 3–4 % of a 50-event batch's
   * statement).
   */
  readonly uniform: boolean;
}

/** The named values an append statement may take. */
export interface AppendValues {
  /** The stream id. */
  stream: string;
  /** How many events. */
  count: number;
  /**
   * Type(s), data, version(s), headers, causation and correlation id(s): scalars, or for
   * several events arrays (type and version stay scalars for a uniform batch), except data
   * and per-event headers, which are then ONE JSON array text ({@linkcode jsonArray}): no
   * array literal to escape on the client or parse on the server, and each element is
   * already jsonb.
   */
  types: unknown;
  datas: unknown;
  versions: unknown;
  headers: unknown;
  causation: unknown;
  correlation: unknown;
  /** The stream's category (categorized only). */
  category: string | null;
  /** The exact version required (`exact` only). */
  expected: number | null;
  /** The idempotency key and request hash (keyed only). */
  key: string | null;
  hash: string | null;
}

/**
 * Joins JSON texts into the text of one JSON array.
 *
 * @param texts Valid JSON texts (as `JSON.stringify` writes them).
 * @returns `[t1,t2,…]`.
 */
export function jsonArray(texts: readonly string[]): string {
  return `[${texts.join(",")}]`;
}

/** A statement with the order its named values bind in. */
export interface AppendStatement {
  readonly text: string;
  readonly names: readonly (keyof AppendValues)[];
}

/** The name of the unique index a racing writer of the same stream fails on. */
export const STREAM_SEQ_CONSTRAINT = "events_stream_seq_unique";

/** The check on `v.version` left for the insert (`create` and `exact` check in `v`). */
function versionCheck(check: StreamCheck): string {
  return check === "exists" ? " and v.version > 0" : "";
}

/**
 * The version the events are numbered from. `create` needs no read: its
 * first event is version 1, and the unique index refuses it if the stream
 * has events. `exact` only asks whether its version exists (a point probe);
 * the index refuses the successor if it exists too. `any` and `exists` read
 * the highest version (one backward probe).
 */
function versionSql(context: StoreContext, check: StreamCheck): string {
  const events = context.table("events");
  switch (check) {
    case "create":
      return "0";
    case "exact":
      return "{expected}::int";
    case "any":
    case "exists":
      return `(select coalesce(max(stream_seq), 0) from ${events} where stream_id = {stream})`;
  }
}

/**
 * Whether the statement is a bare `INSERT … SELECT` without a FROM: one
 * uncategorized event at a version known beforehand (1, or the exact
 * version's successor) needs neither the `v` CTE nor its scan. Its WHERE
 * (the lock, and for `exact` the version probe) has no column references: the
 * planner evaluates it once, before the row (and its position) is produced.
 */
function flat(shape: AppendShape): boolean {
  return shape.events === "one" && !shape.categorized &&
    (startsStream(shape) || shape.check === "exact");
}

/** For `exact`: the probe that the expected version exists (its successor the index checks). */
function versionExists(context: StoreContext, shape: AppendShape): string {
  return shape.check === "exact"
    ? ` and exists (select 1 from ${
      context.table("events")
    } where stream_id = {stream} and stream_seq = {expected}::int)`
    : "";
}

/** Whether the events are numbered from version 1 without reading the stream. */
function startsStream(shape: AppendShape): boolean {
  return shape.check === "create";
}

/**
 * The CTEs before the insert: `v` (lock, version) and, with a category,
 * `meta`, which yields a row only when the category may be used. None for a
 * {@linkcode flat} statement.
 */
function streamCtes(context: StoreContext, shape: AppendShape): string[] {
  if (flat(shape)) return [];
  // The lock is the WHERE of a FROM-less select: evaluated exactly once, before the insert
  // draws its first position (as a filter of the index scan it would run only on a hit).
  const v = `v as (
      select ${versionSql(context, shape.check)} as version${
    shape.events === "many" && !shape.plain ? ", {headers}::text::jsonb as headers" : ""
  }
       where ${appendLockSql(context)}${versionExists(context, shape)})`;
  if (!shape.categorized) return [v];
  const streams = context.table("streams");
  return [
    v,
    `meta as (
      insert into ${streams} as s (stream_id, category)
      select {stream}, {category}::text from v where true${versionCheck(shape.check)}${
      keyUnused(context, shape)
    }
      on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
        where s.archived_at is null and (s.category is null or s.category = excluded.category)
      returning 1)`,
  ];
}

/**
 * The condition every inserted row meets: the expected version, a key not
 * used before and a stream that is not archived. The archive mark needs no
 * look-up when the `meta` CTE checks it, or when the events start at version
 * 1: an archived stream keeps its first event (docs/events.md, archived
 * streams), so the unique index refuses those appends by itself.
 */
function admitted(context: StoreContext, shape: AppendShape): string {
  const archived = shape.categorized || startsStream(shape) ? "" : ` and not exists (
         select 1 from ${context.table("streams")}
          where stream_id = {stream} and archived_at is not null)`;
  return `true${versionCheck(shape.check)}${archived}${keyUnused(context, shape)}`;
}

function keyUnused(context: StoreContext, shape: AppendShape): string {
  return shape.keyed
    ? ` and not exists (select 1 from ${context.table("idempotency_keys")} where key = {key})`
    : "";
}

/** The inserted columns after `stream_id, stream_seq, type, data, event_version`. */
function extraColumns(shape: AppendShape): string {
  return shape.plain ? "tenant_id" : "headers, causation_id, correlation_id, tenant_id";
}

function eventRows(context: StoreContext, shape: AppendShape, tenant: string): string {
  const from = shape.categorized ? "v, meta" : "v";
  const where = admitted(context, shape);
  switch (shape.events) {
    case "one":
      return `select {stream}, ${
        !flat(shape) ? "v.version + 1" : shape.check === "exact" ? "{expected}::int + 1" : "1"
      }, {types}::text, {datas}::text::jsonb, {versions}::int,
                     ${
        shape.plain ? "" : "{headers}::text::jsonb, {causation}::text, {correlation}::text, "
      }${tenant}
                ${
        flat(shape)
          ? `where ${appendLockSql(context)}${versionExists(context, shape)}${
            where === "true" ? "" : ` and ${where}`
          }`
          : `from ${from} where ${where}`
      }`;
    case "many":
    case "mixed":
      return severalEvents(shape, from, where, tenant);
  }
}

/**
 * The rows of several events: `rows from` the per-event arrays, in order;
 * type and version are scalars for a uniform batch, and headers, causation and
 * correlation ids are per event only in the `mixed` shape.
 */
function severalEvents(shape: AppendShape, from: string, where: string, tenant: string): string {
  const mixed = shape.events === "mixed";
  const sources: string[] = [];
  const names: string[] = [];
  const perEvent = (source: string, name: string) => (sources.push(source), names.push(name));
  if (!shape.uniform) perEvent("unnest({types}::text[])", "type");
  perEvent("jsonb_array_elements({datas}::text::jsonb)", "data");
  if (!shape.uniform) perEvent("unnest({versions}::int[])", "version");
  if (mixed) {
    perEvent("jsonb_array_elements({headers}::text::jsonb)", "headers");
    perEvent("unnest({causation}::text[])", "causation");
    perEvent("unnest({correlation}::text[])", "correlation");
  }
  const extras = mixed
    ? "e.headers, e.causation, e.correlation, "
    : shape.plain
    ? ""
    : "v.headers, {causation}::text, {correlation}::text, ";
  return `select {stream}, v.version + e.ord, ${shape.uniform ? "{types}::text" : "e.type"}, e.data,
                 ${shape.uniform ? "{versions}::int" : "e.version"}, ${extras}${tenant}
            from ${from}, rows from (${sources.join(", ")})
                 with ordinality as e(${names.join(", ")}, ord)
           where ${where}
           order by e.ord`;
}

/**
 * Replaces `{name}` placeholders by `$n`, numbered by first appearance, and
 * collapses whitespace (no literal of these statements holds any): the
 * driver hashes the text on every execution to find its prepared statement.
 */
function number(template: string): AppendStatement {
  const names: (keyof AppendValues)[] = [];
  const text = template.replace(/\{([a-z]+)\}/g, (_, name: keyof AppendValues) => {
    let index = names.indexOf(name);
    if (index < 0) index = names.push(name) - 1;
    return `$${index + 1}`;
  }).replace(/\s+/g, " ");
  return { text, names };
}

/**
 * The one row a positions-mode statement returns: the first and last global
 * position written, the stream's new version, how many events were written
 * and, only when the positions are not consecutive (another statement drew
 * from the sequence in between), all of them. A single event's statement
 * returns just its position and the version, or only its position when the
 * version is known beforehand (every column less to send and parse counts on
 * the fastest path).
 */
export interface PositionsRow {
  first: number | null;
  /** Absent for one event that starts its stream or has an exact expected version. */
  version?: number | null;
  /** Absent for a single event (the row is then the event's own). */
  count?: number;
  last?: number | null;
  seqs?: number[] | null;
}

// The list of positions is a subquery in the CASE, built only when they are not consecutive: as
// an aggregate beside the others it would be built (and sorted) for every batch (≈ 3 %).
const POSITIONS = `select first, last, version, count,
         case when last - first + 1 <> count
              then (select array_agg(global_seq order by global_seq) from written) end as seqs
    from (select min(global_seq) as first, max(global_seq) as last,
                 max(stream_seq) as version, count(*)::int as count
            from written) as p`;

/** The value of `tenant_id`: a validated name (lowercase letters, digits, `_`), safe as a literal. */
function tenantLiteral(context: StoreContext): string {
  return context.tenant === null ? "null::text" : `'${context.tenant}'::text`;
}

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
  const tenant = tenantLiteral(context);
  const insert = (returning: string) =>
    `insert into ${context.table("events")}
      (stream_id, stream_seq, type, data, event_version, ${extraColumns(shape)})
    ${eventRows(context, shape, tenant)}
    returning ${returning}`;
  const ctes = streamCtes(context, shape);
  if (!shape.keyed && !shape.envelopes && shape.events === "one") {
    const head = ctes.length > 0 ? `with ${ctes.join(", ")}\n` : "";
    // Starting a stream or at an exact version, the caller knows the new version: one column less
    // to send and parse (≈ 3 % of the append).
    const known = flat(shape) || shape.check === "exact";
    return number(
      `${head}${
        insert(known ? "global_seq as first" : "global_seq as first, stream_seq as version")
      }`,
    );
  }
  const written = `with ${[...ctes, ""].join(", ")}written as (${
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

/**
 * The statement that starts several streams at once: the guessed appends of
 * different new streams (docs/events.md, guesses) sent together, each
 * stream's events from version 1 as `noStream` would write them (so an
 * archived stream, which keeps its first event, is refused too). Every
 * value is per event: stream ids (`$1`), stream versions (`$2`), types,
 * data (one JSON array text), versions, headers (one JSON array text),
 * causation and correlation ids. One row per event comes back: its stream,
 * stream version and global position. When any stream has events the unique
 * index refuses the whole statement and nothing is written.
 *
 * @param context The store context.
 * @returns The SQL text (cached per store).
 */
export function startStreamsSql(context: StoreContext): string {
  let text = startStreams.get(context);
  if (text === undefined) {
    const tenant = tenantLiteral(context);
    text = `insert into ${context.table("events")}
        (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
         tenant_id)
      select e.stream, e.seq, e.type, e.data, e.version, e.headers, e.causation, e.correlation,
             ${tenant}
        from rows from (unnest($1::uuid[]), unnest($2::int[]), unnest($3::text[]),
                        jsonb_array_elements($4::text::jsonb), unnest($5::int[]),
                        jsonb_array_elements($6::text::jsonb), unnest($7::text[]),
                        unnest($8::text[]))
             with ordinality as e(stream, seq, type, data, version, headers, causation,
                                  correlation, ord)
       where ${appendLockSql(context)}
       order by e.ord
      returning stream_id::text as stream, stream_seq as version, global_seq as first`
      .replace(/\s+/g, " ");
    startStreams.set(context, text);
  }
  return text;
}

const startStreams = new WeakMap<StoreContext, string>();

const cache = new WeakMap<StoreContext, AppendStatement[]>();
const CHECKS: readonly StreamCheck[] = ["any", "create", "exact", "exists"];
const SHAPES: readonly EventShape[] = ["one", "many", "mixed"];

/**
 * The (cached) statement for one shape.
 *
 * @param context The store context.
 * @param shape The variant.
 * @returns The SQL text and the order of its named values.
 */
export function appendStatement(context: StoreContext, shape: AppendShape): AppendStatement {
  let statements = cache.get(context);
  if (!statements) cache.set(context, statements = []);
  // A number, not a string key: this lookup runs on every append.
  const key = ((CHECKS.indexOf(shape.check) * 3 + SHAPES.indexOf(shape.events)) << 5) |
    (shape.uniform ? 16 : 0) | (shape.keyed ? 8 : 0) | (shape.categorized ? 4 : 0) |
    (shape.envelopes ? 2 : 0) | (shape.plain ? 1 : 0);
  return statements[key] ??= buildAppendSql(context, shape);
}
