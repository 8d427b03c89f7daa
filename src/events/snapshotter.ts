/**
 * {@linkcode Snapshotter}: background compaction that snapshots the streams
 * whose snapshot lags their version by a threshold or more.
 *
 * @module
 */
import { routedContext, type StoreContext, type StoreRef } from "../_context.ts";
import { isRillflowError } from "../errors.ts";
import { type Aggregate, assertAggregate } from "./aggregate.ts";
import { loadAggregate } from "./aggregate_load.ts";
import { schemaVersionOf, snapshotJson, writeSnapshot } from "./snapshot_store.ts";

/** Options of a {@linkcode Snapshotter}. */
export interface SnapshotterOptions {
  /** Snapshot a stream when its version is this far past its snapshot (default 100). */
  threshold?: number;
  /** At most this many streams per tick (default 100). */
  batch?: number;
  /** Called after every tick with the pass's totals so far (progress bars). */
  onProgress?: (progress: SnapshotterProgress) => void;
}

/** A stream the snapshotter could not snapshot, passed over until the next pass. */
export interface SnapshotFailure {
  /** The aggregate's name. */
  readonly aggregate: string;
  /** The stream. */
  readonly streamId: string;
  /** What went wrong (evolve, fromSnapshot, upcasting or serialisation threw). */
  readonly error: string;
}

/** What one tick did. */
export interface SnapshotterTick {
  /** Streams found lagging and loaded. */
  readonly examined: number;
  /** Snapshots written. */
  readonly written: number;
  /** Streams passed over because loading or serialising their state failed. */
  readonly failed: SnapshotFailure[];
  /** Whether this tick finished the pass (the next tick starts a new one). */
  readonly passComplete: boolean;
}

/** Totals of a pass so far. */
export interface SnapshotterProgress {
  /** The aggregate being compacted. */
  readonly aggregate: string;
  /** Streams examined in this pass. */
  readonly examined: number;
  /** Snapshots written in this pass. */
  readonly written: number;
  /** Streams that failed in this pass. */
  readonly failed: number;
}

/** What {@linkcode Snapshotter.runUntilIdle} did. */
export interface SnapshotterSummary {
  /** Ticks run. */
  readonly ticks: number;
  /** Streams examined. */
  readonly examined: number;
  /** Snapshots written. */
  readonly written: number;
  /** Streams passed over, with the reason. */
  readonly failed: SnapshotFailure[];
}

interface Pass {
  /**
   * The database clock at the start, as text and bound as text: microseconds
   * survive (postgres.js would send a timestamptz parameter through a JS Date).
   */
  startedAt: string;
  aggregateIndex: number;
  after: string | null;
  examined: number;
  written: number;
  failed: number;
}

function positiveInteger(value: number | undefined, name: string, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return result;
}

/**
 * Compacts aggregate streams: each pass walks the streams every aggregate's
 * repository created (in stream-id order, only those registered before the pass
 * began) and snapshots those at least `threshold` events past their snapshot
 * of the aggregate's current schema version. A pass always ends: its cursor
 * only moves forward, streams that keep growing are visited once, and a stream
 * whose state cannot be built (evolve throws, bad snapshot data, upcasting
 * fails) is recorded as failed and passed over. It never writes a snapshot of
 * a stream with no events.
 *
 * @example Compact until idle
 * ```ts
 * import { type Aggregate, Snapshotter, Store } from "@rillflow/rillflow";
 *
 * const Counter: Aggregate<{ count: number }> = {
 *   name: "counter",
 *   initialState: () => ({ count: 0 }),
 *   evolve: (s) => ({ count: s.count + 1 }),
 * };
 * await using store = await Store.connect("pglite://memory");
 * const snapshotter = new Snapshotter(store, [Counter], { threshold: 500, batch: 50 });
 * const { written, failed } = await snapshotter.runUntilIdle();
 * console.log(written, failed); // 0 []
 * ```
 */
export class Snapshotter {
  readonly #context: StoreContext;
  readonly #aggregates: readonly Aggregate<unknown>[];
  readonly #threshold: number;
  readonly #batch: number;
  readonly #onProgress?: (progress: SnapshotterProgress) => void;
  #pass: Pass | null = null;

  /**
   * Creates a snapshotter.
   *
   * @param store A connected store (under schema-per-tenant: a tenant's view, or a
   *   store whose resolver names the tenant now).
   * @param aggregates The aggregates whose streams to compact (unique names).
   * @param options Threshold, batch size and a progress callback.
   * @throws {TypeError} For a malformed aggregate or a duplicate name.
   * @throws {RangeError} For a threshold or batch that is not a positive integer.
   * @throws {RillflowError} `TENANT_REQUIRED` when the store is schema-per-tenant and
   *   names no tenant.
   */
  constructor(
    store: StoreRef,
    // deno-lint-ignore no-explicit-any -- each aggregate has its own state type
    aggregates: readonly Aggregate<any>[],
    options: SnapshotterOptions = {},
  ) {
    this.#context = routedContext(store);
    if (!Array.isArray(aggregates)) throw new TypeError("aggregates must be an array");
    const names = new Set<string>();
    for (const aggregate of aggregates) {
      assertAggregate(aggregate);
      if (names.has(aggregate.name)) {
        throw new TypeError(`Aggregate "${aggregate.name}" is listed twice`);
      }
      names.add(aggregate.name);
    }
    this.#aggregates = [...aggregates];
    this.#threshold = positiveInteger(options.threshold, "threshold", 100);
    this.#batch = positiveInteger(options.batch, "batch", 100);
    this.#onProgress = options.onProgress;
  }

  /**
   * Snapshots up to `batch` lagging streams, continuing the current pass (or
   * starting one).
   *
   * SQL: `select … from aggregate_streams join streams left join snapshots where
   * aggregate = $1 and stream_id > $cursor and registered_at <= $passStart and
   * version - snapshot version >= $threshold order by stream_id limit $n`, then per
   * stream a snapshot-plus-tail load and one upsert.
   *
   * @returns What the tick did.
   * @throws {RillflowError} `CONNECTION_ERROR` / `DATABASE_ERROR` from the database.
   */
  async tickOnce(): Promise<SnapshotterTick> {
    const pass = this.#pass ??= await this.#startPass();
    const tick = { examined: 0, written: 0, failed: [] as SnapshotFailure[] };
    while (tick.examined < this.#batch && pass.aggregateIndex < this.#aggregates.length) {
      const aggregate = this.#aggregates[pass.aggregateIndex]!;
      const budget = this.#batch - tick.examined;
      const streams = await this.#lagging(aggregate, pass, budget);
      for (const streamId of streams) {
        tick.examined++;
        const failure = await this.#compact(aggregate, streamId, tick);
        if (failure) tick.failed.push(failure);
        pass.after = streamId;
      }
      if (streams.length < budget) {
        pass.aggregateIndex++;
        pass.after = null;
      }
    }
    pass.examined += tick.examined;
    pass.written += tick.written;
    pass.failed += tick.failed.length;
    const passComplete = pass.aggregateIndex >= this.#aggregates.length;
    this.#onProgress?.({
      aggregate: this.#aggregates[Math.min(pass.aggregateIndex, this.#aggregates.length - 1)]
        ?.name ?? "",
      examined: pass.examined,
      written: pass.written,
      failed: pass.failed,
    });
    if (passComplete) this.#pass = null;
    return { ...tick, passComplete };
  }

  /**
   * Runs one full pass from the start: ticks until every lagging stream
   * registered before the pass began has been visited.
   *
   * @param options An optional signal that stops the pass between ticks.
   * @returns The pass's totals and failures.
   */
  async runUntilIdle(options: { signal?: AbortSignal } = {}): Promise<SnapshotterSummary> {
    this.#pass = null;
    const summary = { ticks: 0, examined: 0, written: 0, failed: [] as SnapshotFailure[] };
    while (!options.signal?.aborted) {
      const tick = await this.tickOnce();
      summary.ticks++;
      summary.examined += tick.examined;
      summary.written += tick.written;
      summary.failed.push(...tick.failed);
      if (tick.passComplete) break;
    }
    return summary;
  }

  async #startPass(): Promise<Pass> {
    const [row] = await this.#context.executor.query<{ now: string }>(
      "select clock_timestamp()::text as now",
    );
    return {
      startedAt: row!.now,
      aggregateIndex: 0,
      after: null,
      examined: 0,
      written: 0,
      failed: 0,
    };
  }

  async #lagging(aggregate: Aggregate<unknown>, pass: Pass, limit: number): Promise<string[]> {
    const { table, executor } = this.#context;
    const rows = await executor.query<{ stream_id: string }>(
      `select a.stream_id
         from ${table("aggregate_streams")} a
         left join ${table("snapshots")} p
           on p.stream_id = a.stream_id and p.aggregate = a.aggregate and p.schema_version = $2
        where a.aggregate = $1 and ($3::uuid is null or a.stream_id > $3::uuid)
          and a.registered_at <= $4::text::timestamptz
          and not exists (select 1 from ${table("streams")} s
                           where s.stream_id = a.stream_id and s.archived_at is not null)
          and (select coalesce(max(stream_seq), 0) from ${table("events")} e
                where e.stream_id = a.stream_id) - coalesce(p.stream_version, 0) >= $5
        order by a.stream_id
        limit $6`,
      [
        aggregate.name,
        schemaVersionOf(aggregate),
        pass.after,
        pass.startedAt,
        this.#threshold,
        limit,
      ],
    );
    return rows.map((row) => row.stream_id);
  }

  async #compact(
    aggregate: Aggregate<unknown>,
    streamId: string,
    tick: { written: number },
  ): Promise<SnapshotFailure | null> {
    const context = this.#context;
    try {
      const loaded = await loadAggregate(context, aggregate, streamId, true);
      if (loaded.version === 0) return null;
      const json = snapshotJson(aggregate, loaded.state);
      if (
        await writeSnapshot(context.executor, context, aggregate, streamId, loaded.version, json)
      ) {
        tick.written++;
      }
      return null;
    } catch (error) {
      if (isRillflowError(error, "CONNECTION_ERROR") || isRillflowError(error, "DATABASE_ERROR")) {
        throw error;
      }
      return {
        aggregate: aggregate.name,
        streamId,
        error: error instanceof Error ? error.message : String(error),
      };
    }
  }
}
