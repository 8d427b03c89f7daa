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
 * free may guess that it starts the stream (docs/events.md); those
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
import { jsonArray, type PositionsRow, startStreamsSql } from "./append_sql.ts";
import { appendOnPool } from "./append_tx.ts";
import { type FirstVersionGuesses, guessesOf } from "./append_guess.ts";
import { isLostRace } from "./append_errors.ts";
import {
  type AppendResult,
  executeAppend,
  type PreparedAppend,
  resultOfPositions,
  writeFirstGuess,
} from "./append.ts";

/** The most events one combined statement carries. */
const MAX_COMBINED_EVENTS = 1000;

/**
 * How long guesses of new streams wait for the guess in flight before they
 * leave without it: far above a round trip, so they normally go together, but
 * a guess that waits on another transaction (its stream's first event
 * uncommitted elsewhere) does not hold back the process's other new streams.
 */
const GUESS_WAIT_MS = 20;

/** The token of a guess sent outside the lanes (a group's retries, each on its own). */
const NO_LANE = 0;

/** How many guess statements (alone or together) a store process keeps in flight at most. */
const GUESS_LANES = 2;

/**
 * Takes the next group off a queue: the first append, then those behind it
 * while the group stays within {@linkcode MAX_COMBINED_EVENTS} (and, with
 * `distinct`, names no stream twice).
 */
function takeGroup(queue: Waiting[], distinct: boolean): Waiting[] {
  const streams = new Set<string>();
  let events = 0;
  let taken = 0;
  for (; taken < queue.length; taken++) {
    const { count, streamId } = queue[taken]!.prepared;
    if (taken > 0 && (events + count > MAX_COMBINED_EVENTS || streams.has(streamId))) break;
    events += count;
    if (distinct) streams.add(streamId);
  }
  return queue.splice(0, taken);
}

/** A row of {@linkcode startStreamsSql}. */
interface StartedRow {
  stream: string;
  version: number;
  first: number;
}

/** The whole-group failures: the statement may have committed, or fails every append alike. */
function sharedFailure(error: unknown): boolean {
  return error instanceof RillflowError &&
    (error.code === "STREAM_ARCHIVED" || error.code === "CONNECTION_ERROR");
}

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
  readonly #known: FirstVersionGuesses;
  /**
   * The guess statements in flight (tokens, one per lane; a lane is taken as
   * soon as its statement is scheduled), the guesses of other streams waiting
   * for a lane, and the timer that stops waiting for statements that hang.
   */
  readonly #lanes = new Set<number>();
  #lastToken = 0;
  readonly #guesses: Waiting[] = [];
  #watchdog: ReturnType<typeof setTimeout> | undefined;

  constructor(context: StoreContext) {
    this.#context = context;
    this.#known = guessesOf(context);
  }

  append(prepared: PreparedAppend): Promise<AppendResult> {
    const streamId = prepared.streamId;
    const queue = this.#queues.get(streamId);
    if (queue) {
      return new Promise((resolve, reject) => queue.push({ prepared, resolve, reject }));
    }
    this.#queues.set(streamId, []);
    const run = this.#known.worthTrying(streamId)
      ? this.#guess(prepared)
      : appendOnPool(this.#context, prepared);
    // `then` with both handlers, not `finally`: one promise reaction less on every append.
    return run.then(
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
    this.#runGroup(takeGroup(queue, false)).finally(() => this.#settle(streamId, true));
  }

  /**
   * A guessed append (docs/events.md): sent as its stream's first events at
   * once while fewer than {@linkcode GUESS_LANES} guess statements are in
   * flight; otherwise it waits with the guesses of other new streams, which go
   * together, in one statement, as soon as a statement returns (or after
   * {@linkcode GUESS_WAIT_MS}, should all wait on other transactions).
   */
  #guess(prepared: PreparedAppend): Promise<AppendResult> {
    if (this.#lanes.size >= GUESS_LANES) {
      const queued = new Promise<AppendResult>((resolve, reject) =>
        this.#guesses.push({ prepared, resolve, reject })
      );
      this.#watch();
      return queued;
    }
    return this.#sendOne(prepared, this.#hold());
  }

  /** Sends one guess; `token` is its lane ({@linkcode NO_LANE} when it holds none). */
  #sendOne(prepared: PreparedAppend, token: number): Promise<AppendResult> {
    return writeFirstGuess(this.#context.executor, this.#context, prepared).then(
      (rows) => (this.#release(token), this.#hit(prepared, resultOfPositions(rows[0]!))),
      (error) => (this.#release(token), this.#missed(prepared, error)),
    );
  }

  #hit(prepared: PreparedAppend, result: AppendResult): AppendResult {
    this.#known.guessed(prepared.streamId, true);
    return result;
  }

  /** A guess the unique index refused (the stream has events): the append reads the version. */
  #missed(prepared: PreparedAppend, error: unknown): Promise<AppendResult> {
    if (!isLostRace(error)) return Promise.reject(error);
    this.#known.guessed(prepared.streamId, false);
    return appendOnPool(this.#context, prepared);
  }

  /** Takes a lane for a statement about to be sent. */
  #hold(): number {
    const token = ++this.#lastToken;
    this.#lanes.add(token);
    if (this.#guesses.length > 0) this.#watch();
    return token;
  }

  /** The statement `token` returned (or was given up on): the queued guesses take its lane. */
  #release(token: number): void {
    if (!this.#lanes.delete(token)) return; // given up on already
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    if (this.#guesses.length === 0) return;
    const next = this.#hold();
    setImmediate(() => this.#sendGroup(takeGroup(this.#guesses, true), next));
  }

  /** With every lane busy, gives up waiting for the oldest after {@linkcode GUESS_WAIT_MS}. */
  #watch(): void {
    if (this.#watchdog !== undefined || this.#lanes.size < GUESS_LANES) return;
    this.#watchdog = setTimeout(() => {
      this.#watchdog = undefined;
      const [oldest] = this.#lanes;
      if (oldest !== undefined) this.#release(oldest);
    }, GUESS_WAIT_MS);
  }

  #sendGroup(group: Waiting[], token: number): void {
    if (group.length <= 1) {
      if (group.length === 0) this.#release(token);
      else this.#sendOne(group[0]!.prepared, token).then(group[0]!.resolve, group[0]!.reject);
      return;
    }
    this.#context.executor.query<StartedRow>(startStreamsSql(this.#context), startValues(group))
      .then(
        (rows) => {
          this.#release(token);
          let results: AppendResult[];
          try {
            results = startedResults(group, rows);
          } catch (error) {
            // Written, but not as sent: never written again by a retry.
            for (const waiting of group) waiting.reject(error);
            return;
          }
          for (const [i, result] of results.entries()) {
            group[i]!.resolve(this.#hit(group[i]!.prepared, result));
          }
        },
        (error) => {
          this.#release(token);
          // Refused as a whole (a stream has events, one append's bad data): nothing was
          // written, so each guesses on its own.
          for (const { prepared, resolve, reject } of group) {
            if (sharedFailure(error)) reject(error);
            else {
              this.#sendOne(prepared, NO_LANE).then(resolve, reject);
            }
          }
        },
      );
  }

  async #runGroup(group: Waiting[]): Promise<void> {
    if (group.length === 1) return this.#runOne(group[0]!);
    let combined: AppendResult;
    try {
      combined = await this.#runCombined(group.map((w) => w.prepared));
    } catch (error) {
      if (sharedFailure(error)) { for (const waiting of group) waiting.reject(error); }
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
    const first = appends[0]!;
    const events = eventsOf(appends);
    const stand: PreparedAppend = { ...first, expected: Expected.any, count: events.types.length };
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
        uniform: false,
      },
      {
        stream: first.streamId,
        count: events.types.length,
        types: events.types,
        datas: events.datas,
        versions: events.versions,
        headers: events.headers,
        causation: events.causation,
        correlation: events.correlation,
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

/**
 * The events of several appends as per-event values, in order: data and
 * headers as one JSON array text each; `streams` and `seqs` give each event's
 * stream and its version when the appends start their streams.
 */
function eventsOf(appends: readonly PreparedAppend[]) {
  const streams: string[] = [];
  const seqs: number[] = [];
  const types: string[] = [];
  const datas: string[] = [];
  const versions: number[] = [];
  const headers: string[] = [];
  const causation: (string | null)[] = [];
  const correlation: (string | null)[] = [];
  for (const p of appends) {
    for (let i = 0; i < p.count; i++) {
      streams.push(p.streamId);
      seqs.push(i + 1);
      types.push(p.types[i]!);
      datas.push(p.datas[i]!);
      versions.push(p.versions[i]!);
      headers.push(typeof p.headers === "string" ? p.headers : p.headers[i]!);
      causation.push(p.causationId);
      correlation.push(p.correlationId);
    }
  }
  return {
    streams,
    seqs,
    types,
    datas: jsonArray(datas),
    versions,
    headers: jsonArray(headers),
    causation,
    correlation,
  };
}

/** The values of {@linkcode startStreamsSql} for a group of guesses. */
function startValues(group: readonly Waiting[]): unknown[] {
  const e = eventsOf(group.map((w) => w.prepared));
  return [e.streams, e.seqs, e.types, e.datas, e.versions, e.headers, e.causation, e.correlation];
}

/** Each guess's result, from the rows of its group's statement. */
function startedResults(group: readonly Waiting[], rows: readonly StartedRow[]): AppendResult[] {
  const index = new Map(group.map((w, i) => [w.prepared.streamId, i]));
  const results = group.map((w) => ({
    streamVersion: w.prepared.count,
    globalSeqs: new Array<number>(w.prepared.count),
  }));
  for (const row of rows) {
    const result = results[index.get(row.stream) ?? -1];
    if (!result) throw new Error(`A combined append returned an unknown stream ${row.stream}`);
    result.globalSeqs[row.version - 1] = row.first;
  }
  return results;
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
