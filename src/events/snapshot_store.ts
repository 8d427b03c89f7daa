/**
 * The snapshots table and the aggregate-stream registry: one statement per
 * operation, runnable on the pool or inside a transaction.
 *
 * @module
 */
import type { Queryable } from "../db/executor.ts";
import type { StoreContext } from "../_context.ts";
import type { Aggregate, LoadedAggregate } from "./aggregate.ts";

/**
 * The schema version snapshots of an aggregate are written and read with.
 *
 * @param aggregate The aggregate.
 * @returns Its `schemaVersion`, 1 by default.
 */
export function schemaVersionOf(aggregate: Aggregate<unknown>): number {
  return aggregate.schemaVersion ?? 1;
}

/**
 * Serialises an aggregate's state for a snapshot.
 *
 * @param aggregate The aggregate.
 * @param state The state.
 * @returns JSON text.
 * @throws {TypeError} When the state (or what `toSnapshot` returned) is not JSON data.
 */
export function snapshotJson<S>(aggregate: Aggregate<S>, state: S): string {
  const data = aggregate.toSnapshot ? aggregate.toSnapshot(state) : state;
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw new TypeError(
      `Aggregate "${aggregate.name}" state cannot be snapshotted: ${
        error instanceof Error ? error.message : error
      } (give the aggregate toSnapshot/fromSnapshot)`,
      { cause: error },
    );
  }
  if (json === undefined) {
    throw new TypeError(`Aggregate "${aggregate.name}" state has no JSON form to snapshot`);
  }
  return json;
}

/**
 * Reads the snapshot of a stream written by this aggregate at its current schema version.
 *
 * @param db Where to read.
 * @param context The store context.
 * @param aggregate The aggregate.
 * @param streamId The stream.
 * @returns The snapshot's state and version, or null when there is none usable.
 */
export async function readSnapshot<S>(
  db: Queryable,
  context: StoreContext,
  aggregate: Aggregate<S>,
  streamId: string,
): Promise<LoadedAggregate<S> | null> {
  const [row] = await db.query<{ stream_version: number; state: unknown }>(
    `select stream_version, state from ${context.table("snapshots")}
      where stream_id = $1 and aggregate = $2 and schema_version = $3`,
    [streamId, aggregate.name, schemaVersionOf(aggregate)],
  );
  if (!row) return null;
  const state = aggregate.fromSnapshot ? aggregate.fromSnapshot(row.state) : row.state as S;
  return { state, version: row.stream_version };
}

/**
 * Writes (or advances) a snapshot and records the stream as the aggregate's,
 * in one statement. A snapshot at a lower version never replaces a newer one
 * of the same schema version.
 *
 * SQL: `with registered as (insert into aggregate_streams … on conflict do nothing)
 * insert into snapshots … on conflict (stream_id, aggregate) do update … where
 * older or of another schema version`.
 *
 * @param db Where to write (the pool or the append's transaction).
 * @param context The store context.
 * @param aggregate The aggregate.
 * @param streamId The stream.
 * @param version The stream version the state reflects (> 0).
 * @param json The state from {@linkcode snapshotJson}.
 * @returns Whether the snapshot was written.
 */
export async function writeSnapshot(
  db: Queryable,
  context: StoreContext,
  aggregate: Aggregate<unknown>,
  streamId: string,
  version: number,
  json: string,
): Promise<boolean> {
  const { table } = context;
  const rows = await db.query(
    `with registered as (
       insert into ${table("aggregate_streams")} (aggregate, stream_id) values ($2, $1)
       on conflict do nothing
     )
     insert into ${
      table("snapshots")
    } as s (stream_id, aggregate, schema_version, stream_version, state)
     values ($1, $2, $3, $4, $5::jsonb)
     on conflict (stream_id, aggregate) do update
       set schema_version = excluded.schema_version, stream_version = excluded.stream_version,
           state = excluded.state, created_at = now()
       where s.schema_version <> excluded.schema_version or s.stream_version < excluded.stream_version
     returning 1`,
    [streamId, aggregate.name, schemaVersionOf(aggregate), version, json],
  );
  return rows.length > 0;
}

/**
 * Records that an aggregate folds a stream, for the snapshotter.
 *
 * @param db Where to write.
 * @param context The store context.
 * @param aggregate The aggregate's name.
 * @param streamId The stream.
 */
export async function registerAggregateStream(
  db: Queryable,
  context: StoreContext,
  aggregate: string,
  streamId: string,
): Promise<void> {
  await db.query(
    `insert into ${context.table("aggregate_streams")} (aggregate, stream_id) values ($1, $2)
     on conflict do nothing`,
    [aggregate, streamId],
  );
}
