/**
 * The append statement: the second step of the append pipeline
 * (docs/internals/append.md). ONE statement checks the expected version,
 * takes the invariant-1 watermark lock and inserts the events; it reports
 * what it found, so that an append that wrote nothing needs no second round
 * trip to say why.
 *
 * One event without key or category (most appends) is a bare
 * `INSERT … SELECT` of scalars with the lock and the checks in its WHERE: a
 * CTE and `unnest` cost measurably more (bench/README.md). It
 * returns the written row, or nothing, which one lookup then explains.
 *
 * ```sql
 * insert into events (…) select $stream, <next version>, $type, $data, …
 *  where <watermark lock> [and <expected version exists> and not <archived>]
 * returning global_seq, stream_seq
 * ```
 *
 * Every other append (several events, a key, a category); a uniform append
 * sends its shared values once, as scalars, and only the data per event:
 *
 * ```sql
 * with v as (select <version> as version, <archived> as archived
 *             where <watermark lock>)            -- evaluated once, before any nextval
 *    [, meta as (<record or check the category>)]
 *    , written as (insert into events (…)
 *                  select $stream, v.version + e.ord, e.… from v, rows from (unnest(…)) e
 *                   where <expected version> and not v.archived [and <key unused>]
 *                   order by e.ord
 *                  returning …)
 *    [, kept as (<record the idempotency key>)]
 * select v.version, v.archived, array(select global_seq from written …) as seqs from v
 * ```
 *
 * Two writers that read the same version both try to insert its successor:
 * the `(stream_id, stream_seq)` unique index lets the first commit win and
 * fails the other (invariant 3); the recovery step maps that failure.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { ENVELOPE_COLUMNS } from "./envelope.ts";
import { appendLockSql } from "./watermark.ts";

/**
 * The version check: `any` none, `create` (noStream, exact 0) version 0
 * without reading the stream, `exact` the given version, `exists` a version
 * above 0.
 */
export type StreamCheck = "any" | "create" | "exact" | "exists";

/** Which statement an append needs. */
export interface AppendShape {
  readonly check: StreamCheck;
  /**
   * How the events travel: `one` event without key or category is the bare
   * insert of scalars; a `uniform` append (every event of one type, version,
   * headers, causation and correlation: most batches, and one event with a key
   * or category) sends those once, as scalars (measured in bench/README.md); a
   * `mixed` one sends them per event.
   */
  readonly events: "one" | "uniform" | "mixed";
  /** With an idempotency key and request hash. */
  readonly keyed: boolean;
  /** With a category to record on (or check against) the stream's metadata row. */
  readonly categorized: boolean;
  /** Return the written envelope rows (for inline projections) instead of a result row. */
  readonly envelopes: boolean;
}

/** Every shape, in a fixed order (the statement cache and the SQL snapshot test use it). */
export const APPEND_SHAPES: readonly AppendShape[] = (["any", "create", "exact", "exists"] as const)
  .flatMap((check) => [
    ...[false, true].map((envelopes) => ({
      check,
      events: "one" as const,
      keyed: false,
      categorized: false,
      envelopes,
    })),
    ...(["uniform", "mixed"] as const).flatMap((events) =>
      [false, true].flatMap((keyed) =>
        [false, true].flatMap((categorized) =>
          [false, true].map((envelopes) => ({ check, events, keyed, categorized, envelopes }))
        )
      )
    ),
  ]);

/**
 * The values a statement binds, by name. For one event, scalars; otherwise
 * every per-event value is an array (data and headers one JSON array text
 * each: no array literal to escape or parse, and each element is already
 * jsonb).
 */
export interface AppendValues {
  stream: string;
  types: string | readonly string[];
  datas: string;
  versions: number | readonly number[];
  headers: string;
  causation: string | null | readonly (string | null)[];
  correlation: string | null | readonly (string | null)[];
  /** The stream's category (categorized only). */
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

/** The row a statement in result mode returns. */
export interface AppendRow {
  /** The stream's version the statement read (0 for `create`, which reads nothing). */
  version: number;
  /** Whether the stream is archived (always false for `create`: the unique index refuses). */
  archived: boolean;
  /** The global positions written, in stream order; empty when nothing was written. */
  seqs: number[];
}

/** The row a one-event statement returns when it wrote. */
export interface OneRow {
  global_seq: number;
  stream_seq: number;
}

/** The name of the unique index a racing writer of the same stream fails on. */
export const STREAM_SEQ_CONSTRAINT = "events_stream_seq_unique";

/**
 * The `v` CTE: the version the events are numbered from and the archive
 * mark. `create` reads neither: its first event is version 1, and the unique
 * index refuses it when the stream has events (an archived stream keeps its
 * first event). The lock is the WHERE of a FROM-less select: evaluated
 * exactly once, before the insert draws its first position.
 */
function versionCte(context: StoreContext, check: StreamCheck): string {
  const lock = appendLockSql(context);
  if (check === "create") return `v as (select 0 as version, false as archived where ${lock})`;
  return `v as (
  select (select coalesce(max(stream_seq), 0) from ${context.table("events")}
           where stream_id = {stream}) as version,
         exists (select 1 from ${context.table("streams")}
                  where stream_id = {stream} and archived_at is not null) as archived
   where ${lock})`;
}

/** With a category: record it on the stream's row, or yield no row when it may not be used. */
function metaCte(context: StoreContext): string {
  return `meta as (
  insert into ${context.table("streams")} as s (stream_id, category)
  select {stream}, {category}::text from v
  on conflict (stream_id) do update set category = coalesce(s.category, excluded.category)
   where s.archived_at is null and (s.category is null or s.category = excluded.category)
  returning 1)`;
}

/** The condition every inserted row meets. */
function admitted(context: StoreContext, shape: AppendShape): string {
  const conditions = ["not v.archived"];
  if (shape.check === "exact") conditions.push("v.version = {expected}::int");
  if (shape.check === "exists") conditions.push("v.version > 0");
  if (shape.keyed) {
    conditions.push(
      `not exists (select 1 from ${context.table("idempotency_keys")} where key = {key})`,
    );
  }
  return conditions.join(" and ");
}

/** The bare insert of one event (see the module doc). */
function oneEventSql(context: StoreContext, shape: AppendShape): string {
  const events = context.table("events");
  const archived = `not exists (select 1 from ${context.table("streams")}
                  where stream_id = {stream} and archived_at is not null)`;
  const next = {
    any: `(select coalesce(max(stream_seq), 0) from ${events} where stream_id = {stream}) + 1`,
    create: "1",
    exact: "{expected}::int + 1",
    exists: `(select max(stream_seq) from ${events} where stream_id = {stream}) + 1`,
  }[shape.check];
  const checks = {
    any: [archived],
    create: [],
    exact: [
      `exists (select 1 from ${events} where stream_id = {stream} and stream_seq = {expected}::int)`,
      archived,
    ],
    exists: [`exists (select 1 from ${events} where stream_id = {stream})`, archived],
  }[shape.check];
  return `insert into ${events}
  (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
   tenant_id)
select {stream}, ${next},
       {types}::text, {datas}::text::jsonb, {versions}::int, {headers}::text::jsonb, {causation}::text, {correlation}::text, ${
    tenantLiteral(context)
  }
 where ${[appendLockSql(context), ...checks].join("\n   and ")}
returning ${shape.envelopes ? ENVELOPE_COLUMNS : "global_seq, stream_seq"}`;
}

/** The value of `tenant_id`: a validated name (lowercase letters, digits, `_`), safe as a literal. */
function tenantLiteral(context: StoreContext): string {
  return context.tenant === null ? "null::text" : `'${context.tenant}'::text`;
}

/** The rows of the events: per-event arrays, or for a uniform append only the data. */
function eventsSource(shape: AppendShape): { values: string; rows: string } {
  if (shape.events === "uniform") {
    return {
      values: `{types}::text, e.data, {versions}::int, {headers}::text::jsonb, {causation}::text,
         {correlation}::text`,
      rows:
        `rows from (jsonb_array_elements({datas}::text::jsonb)) with ordinality as e(data, ord)`,
    };
  }
  return {
    values: "e.type, e.data, e.version, e.headers, e.causation, e.correlation",
    rows: `rows from (unnest({types}::text[]), jsonb_array_elements({datas}::text::jsonb),
                    unnest({versions}::int[]), jsonb_array_elements({headers}::text::jsonb),
                    unnest({causation}::text[]), unnest({correlation}::text[]))
           with ordinality as e(type, data, version, headers, causation, correlation, ord)`,
  };
}

function writtenCte(context: StoreContext, shape: AppendShape): string {
  const source = eventsSource(shape);
  return `written as (
  insert into ${context.table("events")}
    (stream_id, stream_seq, type, data, event_version, headers, causation_id, correlation_id,
     tenant_id)
  select {stream}, v.version + e.ord, ${source.values}, ${tenantLiteral(context)}
    from v${shape.categorized ? ", meta" : ""},
         ${source.rows}
   where ${admitted(context, shape)}
   order by e.ord
  returning ${shape.envelopes ? ENVELOPE_COLUMNS : "global_seq, stream_seq"})`;
}

function keptCte(context: StoreContext): string {
  return `kept as (
  insert into ${context.table("idempotency_keys")}
    (key, stream_id, stream_version, global_seqs, request_hash)
  select {key}, {stream}, max(stream_seq), array_agg(global_seq order by stream_seq), {hash}
    from written having count(*) > 0)`;
}

/**
 * Replaces `{name}` placeholders by `$n`, numbered by first appearance.
 */
function numbered(template: string): AppendStatement {
  const names: (keyof AppendValues)[] = [];
  const text = template.replace(/\{([a-z]+)\}/g, (_, name: keyof AppendValues) => {
    let index = names.indexOf(name);
    if (index < 0) index = names.push(name) - 1;
    return `$${index + 1}`;
  });
  return { text, names };
}

/**
 * Builds the statement of one shape. Result mode returns one
 * {@linkcode AppendRow} (one event: the {@linkcode OneRow} written, if any); envelope mode
 * returns every written row.
 *
 * @param context The store context (table names, tenant).
 * @param shape The variant.
 * @returns The SQL text and the order of its named values.
 */
export function buildAppendSql(context: StoreContext, shape: AppendShape): AppendStatement {
  if (shape.events === "one") return numbered(oneEventSql(context, shape));
  const ctes = [versionCte(context, shape.check)];
  if (shape.categorized) ctes.push(metaCte(context));
  ctes.push(writtenCte(context, shape));
  if (shape.keyed) ctes.push(keptCte(context));
  const result = shape.envelopes
    ? `select ${ENVELOPE_COLUMNS} from written order by global_seq`
    : "select v.version, v.archived,\n" +
      "       array(select global_seq from written order by stream_seq) as seqs\n  from v";
  return numbered(`with ${ctes.join(",\n")}\n${result}`);
}

const STATEMENTS = {};

/**
 * The append statements of a store context, kept with it.
 *
 * @param context The store context.
 * @returns Its statements.
 */
export function statementsOf(context: StoreContext): AppendStatements {
  return context.stateOf(STATEMENTS, () => new AppendStatements(context));
}

/**
 * The statements of one store: each variant built once, on first use.
 */
export class AppendStatements {
  readonly #context: StoreContext;
  readonly #built = new Map<string, AppendStatement>();

  /** @param context The store context the statements write to. */
  constructor(context: StoreContext) {
    this.#context = context;
  }

  /**
   * The statement of a shape.
   *
   * @param shape The variant.
   * @returns Its SQL text and bind order.
   */
  of(shape: AppendShape): AppendStatement {
    const key = `${shape.check}${shape.events}${+shape.keyed}${+shape.categorized}${+shape
      .envelopes}`;
    let statement = this.#built.get(key);
    if (!statement) this.#built.set(key, statement = buildAppendSql(this.#context, shape));
    return statement;
  }
}
