/**
 * The `queued` route of the append pipeline (docs/internals/append.md).
 *
 * Appends to one stream serialise on the unique index entry of its next
 * version, which each writer holds until its commit is durable: concurrent
 * writers of one stream that race each other lose, and run again. So while an
 * `Expected.any` append (no key, no category) to a stream is in flight, the
 * next ones to that stream wait in the stream's queue, and when it returns
 * they go together, as ONE statement with one commit: each caller still gets
 * its own contiguous versions and positions. Only appends that cannot fail for
 * a reason of their own are queued; a combined statement that fails for any
 * reason other than an archived stream or a lost connection is retried append
 * by append, so one caller's bad data never fails another's append.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { RillflowError } from "../errors.ts";
import type { AppendResult, PreparedAppend } from "./append_input.ts";

/** The most events one combined statement carries. */
const MAX_COMBINED_EVENTS = 1000;

interface Waiting {
  readonly prepared: PreparedAppend;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

/** Takes the next group off a queue: the first append, then those behind it within the limit. */
function takeGroup(queue: Waiting[]): Waiting[] {
  let events = 0;
  let taken = 0;
  for (; taken < queue.length; taken++) {
    const { count } = queue[taken]!.prepared;
    if (taken > 0 && events + count > MAX_COMBINED_EVENTS) break;
    events += count;
  }
  return queue.splice(0, taken);
}

/** The whole-group failures: the statement may have committed, or fails every append alike. */
function sharedFailure(error: unknown): boolean {
  return error instanceof RillflowError &&
    (error.code === "STREAM_ARCHIVED" || error.code === "CONNECTION_ERROR");
}

/** Several appends to one stream as one `Expected.any` append, events in order. */
function combined(appends: readonly PreparedAppend[]): PreparedAppend {
  const all = <T>(pick: (p: PreparedAppend) => readonly T[]) => appends.flatMap(pick);
  return {
    ...appends[0]!,
    count: appends.reduce((sum, p) => sum + p.count, 0),
    types: all((p) => p.types),
    datas: all((p) => p.datas),
    versions: all((p) => p.versions),
    headers: all((p) => p.headers),
    causationIds: all((p) => p.causationIds),
    correlationIds: all((p) => p.correlationIds),
  };
}

/**
 * The stream queues of one store (one context): the streams with an append in
 * flight, and the appends waiting behind it. The store context keeps it
 * (`StoreContext.stateOf`).
 */
export class AppendQueues {
  /** Runs one (possibly combined) append on its own. */
  readonly #run: (prepared: PreparedAppend) => Promise<AppendResult>;
  /** Streams with an append in flight, and the appends waiting behind it. */
  readonly #queues = new Map<string, Waiting[]>();

  /** @param run Runs one append on its own (the `statement` route). */
  constructor(run: (prepared: PreparedAppend) => Promise<AppendResult>) {
    this.#run = run;
  }

  /**
   * Appends through the stream's queue: at once when no append of the stream
   * is in flight, else together with the others waiting behind it.
   *
   * @param prepared An `Expected.any` append without key or category.
   * @returns Its own result.
   */
  queued(prepared: PreparedAppend): Promise<AppendResult> {
    const { promise, resolve, reject } = Promise.withResolvers<AppendResult>();
    const waiting = { prepared, resolve, reject };
    const { streamId } = prepared;
    const queue = this.#queues.get(streamId);
    if (queue) {
      queue.push(waiting);
    } else {
      const started = [waiting];
      this.#queues.set(streamId, started);
      // #drain settles every waiting append and never rejects (see #runGroup): it is owned by the
      // callers' own promises. Were that ever broken, the appends still waiting fail with its
      // error instead of waiting forever behind a queue nobody drains.
      this.#drain(streamId).catch((error: unknown) => this.#abandon(streamId, started, error));
    }
    return promise;
  }

  /** Fails the appends still waiting in a queue whose drain failed, and removes the queue. */
  #abandon(streamId: string, queue: Waiting[], error: unknown): void {
    if (this.#queues.get(streamId) === queue) this.#queues.delete(streamId);
    for (const waiting of queue.splice(0)) waiting.reject(error);
  }

  async #drain(streamId: string): Promise<void> {
    const queue = this.#queues.get(streamId)!;
    await this.#runGroup(takeGroup(queue));
    // Contended (appends waited): each next group leaves one macrotask after the last returned,
    // so that the callers just resolved, who typically append again at once, join it instead of
    // starting a queue of their own behind it (the "8 writers on one stream" row of
    // bench/README.md). setImmediate, not setTimeout(0): Deno clamps timers to 1 ms.
    let contended = queue.length > 0;
    while (contended) {
      await new Promise((resolve) => setImmediate(resolve));
      contended = queue.length > 0;
      if (contended) await this.#runGroup(takeGroup(queue));
    }
    this.#queues.delete(streamId);
  }

  /** Runs a group and settles each of its appends; never rejects. */
  async #runGroup(group: Waiting[]): Promise<void> {
    if (group.length === 1) return this.#runOne(group[0]!);
    let result: AppendResult;
    try {
      result = await this.#run(combined(group.map((w) => w.prepared)));
    } catch (error) {
      if (sharedFailure(error)) { for (const waiting of group) waiting.reject(error); }
      else for (const waiting of group) await this.#runOne(waiting);
      return;
    }
    // The group's events are contiguous in the stream, each caller's in order.
    let offset = 0;
    let version = result.streamVersion - result.globalSeqs.length;
    for (const { prepared, resolve } of group) {
      resolve({
        streamVersion: version += prepared.count,
        globalSeqs: result.globalSeqs.slice(offset, offset += prepared.count),
      });
    }
  }

  async #runOne(waiting: Waiting): Promise<void> {
    try {
      waiting.resolve(await this.#run(waiting.prepared));
    } catch (error) {
      waiting.reject(error);
    }
  }
}
