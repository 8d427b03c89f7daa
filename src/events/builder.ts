/**
 * The fluent append builder, reached as `store.events.builder(streamId)`.
 *
 * @module
 */
import type { AppendOptions, AppendResult } from "./append_input.ts";
import { assertExpected, Expected, type ExpectedVersion } from "./expected.ts";
import type { NewEvent } from "./new_event.ts";

type Send = (
  streamId: string,
  expected: ExpectedVersion,
  events: readonly NewEvent[],
  options: AppendOptions,
) => Promise<AppendResult>;

interface BuilderState {
  readonly streamId: string;
  readonly expected: ExpectedVersion;
  readonly events: readonly NewEvent[];
  readonly options: Readonly<AppendOptions>;
}

/**
 * Builds one append step by step. Immutable: every method returns a new
 * builder and leaves this one unchanged, so a partly configured builder can be
 * reused as a template. Nothing is written until {@linkcode AppendBuilder.send}.
 * The expected version defaults to `Expected.any`.
 *
 * @example Build and send an append
 * ```ts
 * import { event, Expected, Store } from "@rillflow/rillflow";
 *
 * await using store = await Store.connect("pglite://memory");
 * const streamId = crypto.randomUUID();
 * const result = await store.events.builder(streamId)
 *   .expected(Expected.noStream)
 *   .headers({ source: "api" })
 *   .idempotencyKey("req-123")
 *   .causationId("cmd-1")
 *   .correlationId("conv-9")
 *   .push(event("Opened", {}), event("Deposited", { amount: 5 }))
 *   .send();
 * console.log(result.streamVersion); // 2
 * ```
 */
export class AppendBuilder {
  readonly #send: Send;
  readonly #state: BuilderState;

  /**
   * Created by `store.events.builder(streamId)`.
   *
   * @param send Performs the append.
   * @param state The configuration so far.
   */
  constructor(send: Send, state: BuilderState | string) {
    this.#send = send;
    this.#state = typeof state === "string"
      ? { streamId: state, expected: Expected.any, events: [], options: {} }
      : state;
  }

  #with(change: Partial<BuilderState>): AppendBuilder {
    return new AppendBuilder(this.#send, { ...this.#state, ...change });
  }

  #option(change: AppendOptions): AppendBuilder {
    return this.#with({ options: { ...this.#state.options, ...change } });
  }

  /**
   * Sets the expected version.
   *
   * @param expected One of the `Expected` values.
   * @returns A new builder.
   * @throws {TypeError} When `expected` is not an `Expected` value.
   */
  expected(expected: ExpectedVersion): AppendBuilder {
    assertExpected(expected);
    return this.#with({ expected });
  }

  /**
   * Adds headers, merged over those given before (a repeated key wins).
   *
   * @param headers The headers.
   * @returns A new builder.
   */
  headers(headers: Record<string, unknown>): AppendBuilder {
    return this.#option({ headers: { ...this.#state.options.headers, ...headers } });
  }

  /**
   * Sets the idempotency key.
   *
   * @param key A key unique for all time in the store.
   * @returns A new builder.
   */
  idempotencyKey(key: string): AppendBuilder {
    return this.#option({ idempotencyKey: key });
  }

  /**
   * Sets the causation id.
   *
   * @param id The id of the message that caused these events.
   * @returns A new builder.
   */
  causationId(id: string): AppendBuilder {
    return this.#option({ causationId: id });
  }

  /**
   * Sets the correlation id.
   *
   * @param id The id correlating these events with a wider conversation.
   * @returns A new builder.
   */
  correlationId(id: string): AppendBuilder {
    return this.#option({ correlationId: id });
  }

  /**
   * Sets the stream's category, recorded when the stream has none yet.
   *
   * @param category The category.
   * @returns A new builder.
   */
  category(category: string): AppendBuilder {
    return this.#option({ category });
  }

  /**
   * Adds events after those pushed before.
   *
   * @param events The events.
   * @returns A new builder.
   */
  push(...events: NewEvent[]): AppendBuilder {
    return this.#with({ events: [...this.#state.events, ...events] });
  }

  /**
   * Appends the pushed events.
   *
   * @returns The new stream version and global positions.
   * @throws {RillflowError} As `events.append`.
   * @throws {TypeError} When no event was pushed, or for bad input; nothing is written.
   */
  send(): Promise<AppendResult> {
    const { streamId, expected, events, options } = this.#state;
    return this.#send(streamId, expected, events, options);
  }
}
