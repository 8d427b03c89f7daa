/**
 * Guessing that an `Expected.any` append starts its stream (docs/events.md):
 * what a store process learnt about its guesses, the guess in front of an
 * append, and the note every pool append leaves so streams with events are
 * not guessed again.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";
import { isLostRace } from "./append_errors.ts";
import {
  type AppendResult,
  type PreparedAppend,
  resultOfPositions,
  writeFirstGuess,
} from "./append.ts";

/**
 * What a store process learnt about guessing the next version of
 * `Expected.any` appends: the streams it saw with events, and how often a
 * guess missed lately.
 */
class FirstVersionGuesses {
  /** Streams known to have events (bounded; forgetting one costs one wasted guess). */
  readonly #known = new Set<string>();
  /** Exponentially weighted share of recent guesses that missed. */
  #missRate = 0;
  #declined = 0;

  worthTrying(prepared: PreparedAppend): boolean {
    if (
      prepared.expected.kind !== "any" || prepared.idempotencyKey !== null ||
      prepared.category !== null || this.#known.has(prepared.streamId)
    ) return false;
    // Mostly missing (appends to streams other processes started): read the version instead,
    // guessing one append in 32 to notice when that changes.
    return this.#missRate < MAX_MISS_RATE || ++this.#declined % 32 === 0;
  }

  guessed(streamId: string, hit: boolean): void {
    this.#missRate = this.#missRate * 0.9 + (hit ? 0 : 0.1);
    this.remember(streamId);
  }

  remember(streamId: string): void {
    if (this.#known.size >= 10_000) this.#known.clear();
    this.#known.add(streamId);
  }
}

/** Above this share of missed guesses, `Expected.any` appends read the version first. */
const MAX_MISS_RATE = 0.25;

const guesses = new WeakMap<StoreContext, FirstVersionGuesses>();

function guessesOf(context: StoreContext): FirstVersionGuesses {
  let learnt = guesses.get(context);
  if (!learnt) guesses.set(context, learnt = new FirstVersionGuesses());
  return learnt;
}

/**
 * Runs a pool append, first guessing, when worth it, that it starts its
 * stream. An `Expected.any` append to a stream this process has not seen
 * with events is sent as the stream's first events (from version 1, the
 * statement of `noStream`: no version read, no combiner queue to join, no
 * race to retry). When the stream has events the unique index refuses the
 * statement, nothing is written (it runs outside a transaction) and `append`
 * runs (a second round trip); a process whose guesses mostly miss stops
 * guessing.
 *
 * @param context The store context.
 * @param prepared From {@linkcode prepareAppend}.
 * @param append The append without a guess.
 * @returns The new stream version and global positions.
 * @throws {RillflowError} As `append`.
 */
export function appendGuessingFirst(
  context: StoreContext,
  prepared: PreparedAppend,
  append: () => Promise<AppendResult>,
): Promise<AppendResult> {
  const known = guessesOf(context);
  if (!known.worthTrying(prepared)) return append();
  return writeFirstGuess(context.executor, context, prepared).then(
    (rows) => {
      known.guessed(prepared.streamId, true);
      return resultOfPositions(rows[0]!);
    },
    (error) => {
      if (!isLostRace(error)) throw error;
      known.guessed(prepared.streamId, false);
      return append();
    },
  );
}

/**
 * Notes that a stream has events, so later appends to it do not guess
 * ({@linkcode appendGuessingFirst}).
 *
 * @param context The store context.
 * @param streamId The stream an append just wrote.
 */
export function noteStreamWritten(context: StoreContext, streamId: string): void {
  guessesOf(context).remember(streamId);
}
