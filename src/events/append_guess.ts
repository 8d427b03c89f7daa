/**
 * Guessing that an `Expected.any` append starts its stream (docs/events.md):
 * what a store process learnt about its guesses, and the note every pool
 * append leaves so streams with events are not guessed again. The combiner
 * (`append_combiner.ts`) sends the guesses.
 *
 * @module
 */
import type { StoreContext } from "../_context.ts";

/**
 * What a store process learnt about guessing the next version of
 * `Expected.any` appends: the streams it saw with events, and how often a
 * guess missed lately.
 */
export class FirstVersionGuesses {
  /** Streams known to have events (bounded; forgetting one costs one wasted guess). */
  readonly #known = new Set<string>();
  /** Exponentially weighted share of recent guesses that missed. */
  #missRate = 0;
  #declined = 0;

  /** Whether to guess that a combinable append (`isCombinable`) to this stream starts it. */
  worthTrying(streamId: string): boolean {
    if (this.#known.has(streamId)) return false;
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

/**
 * What this process learnt about guessing in a store.
 *
 * @param context The store context.
 * @returns Its guesses' bookkeeping.
 */
export function guessesOf(context: StoreContext): FirstVersionGuesses {
  let learnt = guesses.get(context);
  if (!learnt) guesses.set(context, learnt = new FirstVersionGuesses());
  return learnt;
}

/**
 * Notes that a stream has events, so later appends to it do not guess.
 *
 * @param context The store context.
 * @param streamId The stream an append just wrote.
 */
export function noteStreamWritten(context: StoreContext, streamId: string): void {
  guessesOf(context).remember(streamId);
}
