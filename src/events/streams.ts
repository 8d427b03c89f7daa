/**
 * Stream aliases (human names such as `orders:42` for stream UUIDs) and
 * stream metadata, reached as `store.streams`.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { isUuid } from "../ids.ts";

/** What the store knows about a stream. */
export interface StreamInfo {
  /** The stream's id. */
  readonly streamId: string;
  /** Its version: its newest event's `streamSeq` (0 when it only has an alias or metadata). */
  readonly version: number;
  /** Its category (the part of its alias before `:`, or given on the first append). */
  readonly category: string | null;
  /** Whether it is archived. */
  readonly archived: boolean;
  /** Its aliases, sorted. */
  readonly aliases: string[];
  /** When it was created (first alias or first append). */
  readonly createdAt: Date;
  /** When it last changed. */
  readonly updatedAt: Date;
}

const MAX_ALIAS_LENGTH = 512;

function assertAlias(alias: unknown): asserts alias is string {
  if (typeof alias !== "string" || alias.length === 0 || alias.length > MAX_ALIAS_LENGTH) {
    throw new TypeError(
      `Invalid stream alias ${
        JSON.stringify(alias)
      }: expected a non-empty string of at most ${MAX_ALIAS_LENGTH} characters`,
    );
  }
}

/**
 * The category of an alias: the part before the first `:`, or `null`.
 *
 * @param alias The alias.
 * @returns `"orders"` for `"orders:42"`; `null` for `"orders"` or `":42"`.
 */
export function categoryOf(alias: string): string | null {
  const colon = alias.indexOf(":");
  return colon > 0 ? alias.slice(0, colon) : null;
}

/**
 * Stream aliases and metadata.
 *
 * @example Name a stream
 * ```ts
 * import { event, Expected, Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory");
 * const id = await store.streams.resolve("orders:42"); // created on first use, then stable
 * await store.events.append(id, Expected.noStream, [event("OrderPlaced", { orderId: 42 })]);
 * console.log((await store.streams.describe("orders:42"))?.category); // "orders"
 * ```
 */
export class Streams {
  readonly #context: StoreContext;

  /**
   * Created by the store; use `store.streams`.
   *
   * @param context The store's context.
   */
  constructor(context: StoreContext) {
    this.#context = context;
  }

  /**
   * The stream id of an alias, created on first use. Concurrent first calls
   * (from any connection or process) agree on one id. A new alias with a
   * category (the part before the first `:`) also records it on the stream's
   * metadata row; the stream has version 0 until its first append
   * (`Expected.noStream` included).
   *
   * SQL: `select stream_id from stream_aliases where alias = $1`; when absent,
   * `insert into stream_aliases … on conflict (alias) do update set alias = excluded.alias
   * returning stream_id` (the update returns the row a concurrent caller inserted).
   *
   * @param alias The alias, e.g. `"orders:42"`.
   * @returns The stream id (a UUID).
   * @throws {TypeError} When the alias is not a non-empty string (at most 512 characters).
   */
  async resolve(alias: string): Promise<string> {
    assertAlias(alias);
    const found = await this.lookup(alias);
    if (found) return found;
    const { executor, table } = this.#context;
    const [row] = await executor.query<{ stream_id: string }>(
      `with alias as (
         insert into ${table("stream_aliases")} as a (alias, stream_id) values ($1, $2)
         on conflict (alias) do update set alias = excluded.alias
         returning stream_id
       ), stream as (
         insert into ${table("streams")} (stream_id, category)
         select stream_id, $3 from alias where $3::text is not null
         on conflict (stream_id) do nothing
       )
       select stream_id from alias`,
      [alias, crypto.randomUUID(), categoryOf(alias)],
    );
    return row!.stream_id;
  }

  /**
   * The stream id of an existing alias, without creating one.
   *
   * @param alias The alias.
   * @returns The stream id, or `null` when the alias is unknown.
   * @throws {TypeError} When the alias is not a non-empty string.
   */
  async lookup(alias: string): Promise<string | null> {
    assertAlias(alias);
    const [row] = await this.#context.executor.query<{ stream_id: string }>(
      `select stream_id from ${this.#context.table("stream_aliases")} where alias = $1`,
      [alias],
    );
    return row?.stream_id ?? null;
  }

  /**
   * Describes a stream given its id or an alias (never creating one).
   *
   * @param streamIdOrAlias A stream id (UUID) or alias.
   * @returns Version, category, archived flag, aliases and times; `null` when unknown.
   * @throws {TypeError} When the argument is not a non-empty string.
   */
  async describe(streamIdOrAlias: string): Promise<StreamInfo | null> {
    assertAlias(streamIdOrAlias);
    const byId = isUuid(streamIdOrAlias) ? await this.#describeId(streamIdOrAlias) : null;
    if (byId) return byId;
    const id = await this.lookup(streamIdOrAlias);
    return id ? await this.#describeId(id) : null;
  }

  /**
   * A stream is known when it has events, a metadata row or an alias. Its
   * version and last change come from its newest event, its creation from the
   * earliest of its first event, metadata row and aliases.
   */
  async #describeId(streamId: string): Promise<StreamInfo | null> {
    const { executor, table } = this.#context;
    const [row] = await executor.query<{
      version: number;
      category: string | null;
      archived: boolean;
      aliases: string[];
      created_at: Date;
      updated_at: Date;
    }>(
      `select coalesce(last.stream_seq, 0) as version, s.category,
              s.archived_at is not null as archived, a.aliases,
              least(first.created_at, s.created_at, a.created_at) as created_at,
              coalesce(last.created_at, least(s.created_at, a.created_at)) as updated_at
         from (select $1::uuid as stream_id) as id
         left join ${table("streams")} s on s.stream_id = id.stream_id
         left join lateral (
           select stream_seq, created_at from ${table("events")}
            where stream_id = id.stream_id order by stream_seq desc limit 1) last on true
         left join lateral (
           select created_at from ${table("events")}
            where stream_id = id.stream_id order by stream_seq limit 1) first on true
         cross join lateral (
           select coalesce(array_agg(alias order by alias), '{}') as aliases,
                  min(created_at) as created_at
             from ${table("stream_aliases")} where stream_id = id.stream_id) a
        where last.stream_seq is not null or s.stream_id is not null or a.created_at is not null`,
      [streamId],
    );
    if (!row) return null;
    return {
      streamId,
      version: row.version,
      category: row.category,
      archived: row.archived,
      aliases: row.aliases,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }
}
