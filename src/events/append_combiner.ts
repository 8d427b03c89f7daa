/**
 * Combines concurrent `Expected.any` appends to one stream into one statement.
 *
 * Appends to one stream serialise on the unique index entry of its next
 * version, which each writer holds until its commit is durable: N writers of
 * one stream commit one after another, whatever the pool size, and the ones
 * that read the same version lose the race and run again. While one append
 * of a stream is in flight, this process queues the next `Expected.any` appends to that stream and sends them
 * together, as ONE statement, when it returns: each caller still gets its own
 * contiguous stream versions and positions. The append that finds the stream
 * free may guess that it starts the stream (`appendGuessingFirst`); those
 * queued behind it never guess, so concurrent first appends to a new stream
 * cost one guess, not a missed guess each. Only appends that cannot fail for
 * a reason of their own are combined (`Expected.any`, no idempotency key, no
 * category); a combined statement that fails for any reason other than an
 * archived stream or a lost connection is retried append by append, so one
 * caller's bad data never fails another caller's append.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { StoreContext } from "../_context.ts";
import { RillflowError } from "../errors.ts";
import { Expected } from "./expected.ts";
import { jsonArray, type PositionsRow } from "./append_sql.ts";
import { appendOnPool } from "./append_tx.ts";
import { appendGuessingFirst } from "./append_guess.ts";
import {
  type AppendResult,
  executeAppend,
  type PreparedAppend,
  resultOfPositions,
} from "./append.ts";

/** The most events one combined statement carries. */
const MAX_COMBINED_EVENTS = 1000;

interface Waiting {
  readonly prepared: PreparedAppend;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

/**
 * Whether an append may be combined with others.
 *
 * @param prepared The append.
 * @returns `true` for `Expected.any` without idempotency key or category.
 */
export function isCombinable(prepared: PreparedAppend): boolean {
  return prepared.expected.kind === "any" && prepared.idempotencyKey === null &&
    prepared.category === null;
}

class AppendCombiner {
  readonly #context: StoreContext;
  /** Streams with an append in flight, and the appends waiting for it. */
  readonly #queues = new Map<string, Waiting[]>();

  constructor(context: StoreContext) {
    this.#context = context;
  }

  append(prepared: PreparedAppend): Promise<AppendResult> {
    const streamId = prepared.streamId;
    const queue = this.#queues.get(streamId);
    if (queue) {
      return new Promise((resolve, reject) => queue.push({ prepared, resolve, reject }));
    }
    this.#queues.set(streamId, []);
    const context = this.#context;
    // `then` with both handlers, not `finally`: one promise reaction less on every append.
    return appendGuessingFirst(context, prepared, () => appendOnPool(context, prepared)).then(
      (result) => (this.#settle(streamId, false), result),
      (error) => {
        this.#settle(streamId, false);
        throw error;
      },
    );
  }

  /**
   * After a statement of the stream returned. Uncontended (a lone append and
   * nobody waiting): the stream is free at once. Contended: the next group
   * leaves one macrotask later, so that the callers just resolved, who
   * typically append again at once (in microtasks), join it instead of forming
   * a group of their own behind it.
   */
  #settle(streamId: string, contended: boolean): void {
    const queue = this.#queues.get(streamId)!;
    if (queue.length === 0 && !contended) {
      this.#queues.delete(streamId);
      return;
    }
    // setImmediate, not setTimeout(0): Deno clamps timers to a millisecond or more.
    setImmediate(() => this.#drain(streamId));
  }

  #drain(streamId: string): void {
    const queue = this.#queues.get(streamId)!;
    if (queue.length === 0) {
      this.#queues.delete(streamId);
      return;
    }
    let events = 0;
    let taken = 0;
    while (
      taken < queue.length &&
      (taken === 0 || events + queue[taken]!.prepared.count <= MAX_COMBINED_EVENTS)
    ) {
      events += queue[taken]!.prepared.count;
      taken++;
    }
    const group = queue.splice(0, taken);
    this.#runGroup(group).finally(() => this.#settle(streamId, true));
  }

  async #runGroup(group: Waiting[]): Promise<void> {
    if (group.length === 1) return this.#runOne(group[0]!);
    let combined: AppendResult;
    try {
      combined = await this.#runCombined(group.map((w) => w.prepared));
    } catch (error) {
      const shared = error instanceof RillflowError &&
        (error.code === "STREAM_ARCHIVED" || error.code === "CONNECTION_ERROR");
      if (shared) { for (const waiting of group) waiting.reject(error); }
      else for (const waiting of group) await this.#runOne(waiting);
      return;
    }
    // The group's events are contiguous in the stream, each caller's in order.
    const total = combined.globalSeqs.length;
    let offset = 0;
    for (const waiting of group) {
      const globalSeqs = combined.globalSeqs.slice(offset, offset += waiting.prepared.count);
      waiting.resolve({ streamVersion: combined.streamVersion - (total - offset), globalSeqs });
    }
  }

  async #runOne(waiting: Waiting): Promise<void> {
    try {
      waiting.resolve(await appendOnPool(this.#context, waiting.prepared));
    } catch (error) {
      waiting.reject(error);
    }
  }

  async #runCombined(appends: PreparedAppend[]): Promise<AppendResult> {
    const perEvent = <T>(pick: (p: PreparedAppend, i: number) => T) =>
      appends.flatMap((p) => p.types.map((_, i) => pick(p, i)));
    const first = appends[0]!;
    const count = appends.reduce((sum, p) => sum + p.count, 0);
    const stand: PreparedAppend = { ...first, expected: Expected.any, count };
    const [row] = await executeAppend<PositionsRow>(
      this.#context.executor,
      this.#context,
      {
        check: "any",
        events: "mixed",
        keyed: false,
        categorized: false,
        envelopes: false,
        plain: false,
      },
      {
        stream: first.streamId,
        count,
        types: perEvent((p, i) => p.types[i]),
        datas: jsonArray(perEvent((p, i) => p.datas[i]!)),
        versions: perEvent((p, i) => p.versions[i]),
        headers: jsonArray(
          perEvent((p, i) => typeof p.headers === "string" ? p.headers : p.headers[i]!),
        ),
        causation: perEvent((p) => p.causationId),
        correlation: perEvent((p) => p.correlationId),
        category: null,
        expected: null,
        key: null,
        hash: null,
      },
      stand,
    );
    return resultOfPositions(row!);
  }
}

const combiners = new WeakMap<StoreContext, AppendCombiner>();

/**
 * Appends through the store's combiner: at once when no append of the stream
 * is in flight, else together with the others that queued behind it.
 *
 * @param context The store context.
 * @param prepared A combinable append (see {@linkcode isCombinable}).
 * @returns Its own result.
 */
export function appendCombined(
  context: StoreContext,
  prepared: PreparedAppend,
): Promise<AppendResult> {
  let combiner = combiners.get(context);
  if (!combiner) combiners.set(context, combiner = new AppendCombiner(context));
  return combiner.append(prepared);
}
