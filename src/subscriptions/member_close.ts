/**
 * The close of a subscription member, started once by whoever comes first: the
 * caller's `close()` (which rejects with its failure), or the member's own
 * account — its signal, the store closing, a failed iteration — whose failure
 * goes to `onError`, so that no close failure is dropped.
 *
 * @module
 */
import { reportError, type ResolvedSubscribeOptions } from "./subscribe_options.ts";

/** One member's close: started once, awaited by everyone who needs it over. */
export class MemberClose {
  readonly #shutDown: (waitForNext: boolean) => Promise<void>;
  readonly #onError: ResolvedSubscribeOptions["onError"];
  readonly #onEnded: () => void;
  #signal?: AbortSignal;
  #closing?: Promise<void>;
  #ended?: Promise<void>;

  /**
   * @param shutDown Runs the close (`waitForNext`: wait for the pending iteration step first).
   * @param onError The member's error channel.
   * @param onEnded Called once the close has ended, either way.
   */
  constructor(
    shutDown: (waitForNext: boolean) => Promise<void>,
    onError: ResolvedSubscribeOptions["onError"],
    onEnded: () => void,
  ) {
    this.#shutDown = shutDown;
    this.#onError = onError;
    this.#onEnded = onEnded;
  }

  /** Whether the close has started. */
  get started(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Closes when the caller's signal aborts (at once if it has).
   *
   * @param signal The caller's signal, if any.
   */
  closeOn(signal: AbortSignal | undefined): void {
    if (signal?.aborted) this.#onAbort();
    else if (signal) {
      this.#signal = signal;
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  readonly #onAbort = (): void => this.start(true, "close on abort");

  /**
   * Starts the close unless it has started.
   *
   * @param waitForNext Wait for the pending iteration step first (not from inside it).
   * @param reportAs For a close on the member's own account: what `onError` is told was
   *   going on. Without it, the failure is the caller's, through {@linkcode closing}.
   */
  start(waitForNext: boolean, reportAs?: string): void {
    if (this.#closing) return;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    const closing = this.#shutDown(waitForNext);
    this.#closing = closing;
    this.#ended = closing.then(() => this.#onEnded(), (error) => {
      this.#onEnded();
      if (reportAs !== undefined) reportError(this.#onError, error, reportAs);
    });
  }

  /**
   * The close (start it first): rejects with its failure.
   *
   * @returns The close's promise.
   */
  closing(): Promise<void> {
    if (!this.#closing) throw new Error("The close has not started");
    return this.#closing;
  }

  /**
   * Settles once the close has ended and a failure it owed `onError` was
   * reported; never rejects (start the close first).
   *
   * @returns The promise.
   */
  ended(): Promise<void> {
    if (!this.#ended) throw new Error("The close has not started");
    return this.#ended;
  }
}
