/**
 * Aggregates: state folded from a stream's events.
 *
 * @module
 */
import type { EventEnvelope } from "./envelope.ts";

/**
 * How to fold a stream into state. `evolve` should be a pure function of the
 * state and the event (type, data, streamSeq, metadata): a snapshot plus the
 * events after it then gives the same state as folding the whole stream.
 *
 * @example A counter
 * ```ts
 * import type { Aggregate } from "@rillflow/rillflow";
 *
 * const Counter: Aggregate<{ count: number }> = {
 *   name: "counter",
 *   initialState: () => ({ count: 0 }),
 *   evolve: (state, event) =>
 *     event.type === "Incremented" ? { count: state.count + 1 } : state,
 * };
 * ```
 */
export interface Aggregate<S> {
  /** A stable name, stored with snapshots and with the streams the repository creates. */
  readonly name: string;
  /**
   * The version of the state's shape (default 1). Raise it when `evolve` or
   * the state changes: snapshots of another version are ignored.
   */
  readonly schemaVersion?: number;
  /** The state of a stream with no events. */
  initialState(): S;
  /**
   * Applies one event to the state.
   *
   * @param state The state so far (return a new one or the same, changed).
   * @param event The event, upcast to its current shape.
   * @returns The state after the event.
   */
  evolve(state: S, event: EventEnvelope): S;
  /**
   * Turns the state into JSON data for a snapshot (default: the state itself,
   * which must then be JSON-serialisable).
   *
   * @param state The state.
   * @returns JSON-serialisable data.
   */
  toSnapshot?(state: S): unknown;
  /**
   * Rebuilds the state from snapshot data (default: the data itself).
   *
   * @param data What `toSnapshot` returned, after a JSON round trip.
   * @returns The state.
   */
  fromSnapshot?(data: unknown): S;
}

/** An aggregate's state at a stream version. */
export interface LoadedAggregate<S> {
  /** The folded state. */
  readonly state: S;
  /** The stream version the state reflects (0 for a stream with no events). */
  readonly version: number;
}

/**
 * Validates an aggregate definition.
 *
 * @param aggregate The candidate.
 * @throws {TypeError} Naming what is missing or malformed.
 */
export function assertAggregate<S>(aggregate: Aggregate<S>): void {
  const a = aggregate as Partial<Aggregate<S>> | null;
  if (a === null || typeof a !== "object") throw new TypeError("An aggregate must be an object");
  if (typeof a.name !== "string" || a.name.length === 0 || a.name.length > 200) {
    throw new TypeError(
      `An aggregate needs a name of 1 to 200 characters, got ${JSON.stringify(a.name)}`,
    );
  }
  for (const key of ["initialState", "evolve"] as const) {
    if (typeof a[key] !== "function") {
      throw new TypeError(`Aggregate "${a.name}" needs an ${key} function`);
    }
  }
  for (const key of ["toSnapshot", "fromSnapshot"] as const) {
    if (a[key] !== undefined && typeof a[key] !== "function") {
      throw new TypeError(`Aggregate "${a.name}" has a ${key} that is not a function`);
    }
  }
  const version = a.schemaVersion;
  if (version !== undefined && (!Number.isSafeInteger(version) || version < 1)) {
    throw new TypeError(
      `Aggregate "${a.name}" schemaVersion must be a positive integer, got ${version}`,
    );
  }
}

/**
 * Folds envelopes into a state.
 *
 * @param aggregate The aggregate.
 * @param from The state and version to start from.
 * @param envelopes The events after `from.version`, in stream order.
 * @returns The state and version after the last envelope.
 */
export function foldEnvelopes<S>(
  aggregate: Aggregate<S>,
  from: LoadedAggregate<S>,
  envelopes: readonly EventEnvelope[],
): LoadedAggregate<S> {
  let state = from.state;
  for (const envelope of envelopes) state = aggregate.evolve(state, envelope);
  const last = envelopes[envelopes.length - 1];
  return { state, version: last ? last.streamSeq : from.version };
}
