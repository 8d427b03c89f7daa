/**
 * The registry of upcasters a store applies on every read.
 *
 * @module
 */
import { RillflowError } from "../errors.ts";
import {
  assertUpcasterShape,
  type AsyncUpcaster,
  nodeLabel,
  type Upcaster,
  type UpcasterDescriptor,
} from "./upcaster.ts";

/** A (type, version) pair: one shape an event's data can have. */
export type EventShape = [type: string, version: number];

/** One registered upcaster and how to call it. */
export type UpcastStep =
  | { readonly async: false; readonly upcaster: Upcaster }
  | { readonly async: true; readonly upcaster: AsyncUpcaster };

const key = (type: string, version: number) => `${version}\u0000${type}`;

let lookupStep: (
  registry: UpcasterRegistry,
  type: string,
  version: number,
) => UpcastStep | undefined;

/**
 * The upcaster registered for a stored (type, version), if any. Internal.
 *
 * @param registry The registry.
 * @param type The stored type.
 * @param version The stored version.
 * @returns The step, or undefined when that shape is current.
 */
export function upcastStepFor(
  registry: UpcasterRegistry,
  type: string,
  version: number,
): UpcastStep | undefined {
  return lookupStep(registry, type, version);
}

function assertShape(value: unknown, what: string): asserts value is EventShape {
  if (
    !Array.isArray(value) || value.length !== 2 || typeof value[0] !== "string" ||
    value[0].length === 0 || !Number.isSafeInteger(value[1]) || value[1] < 1
  ) {
    throw new TypeError(`${what} must be a [type, version] pair, got ${JSON.stringify(value)}`);
  }
}

/** Stored shapes whose upcasting renames them: parallel arrays, see `UpcasterRegistry.renames`. */
export interface Renames {
  /** The stored type. */
  readonly types: readonly string[];
  /** The stored version. */
  readonly versions: readonly number[];
  /** The type the upcasting chain from that shape ends in. */
  readonly finals: readonly string[];
}

/**
 * Upcasters by the stored (type, version) they read. Each stored shape has at
 * most one upcaster, so an event's path to its current shape is unique: the
 * registry follows upcasters from the stored shape until none applies
 * (v1 → v2 → v3, renames included). A registration that would close a cycle
 * is refused at once with `UPCASTING_FAILED` naming the cycle, so a registry
 * that was built without error can always be applied.
 *
 * Pass it to `Store.connect(url, { upcasters })`; readers (streams, global
 * reads, aggregates, projections, subscriptions) then see current shapes, and
 * appends of events built without an explicit version store the current
 * version of their type ({@linkcode UpcasterRegistry.currentVersion}).
 *
 * @example A chain with a rename
 * ```ts
 * import { defineUpcaster, UpcasterRegistry } from "@rillflow/rillflow";
 *
 * const registry = new UpcasterRegistry()
 *   .register(defineUpcaster({
 *     fromType: "OrderCreated", fromVersion: 1, toType: "OrderPlaced", toVersion: 2,
 *     upcast: (data) => ({ ...(data as object), currency: "EUR" }),
 *   }))
 *   .register(defineUpcaster({
 *     fromType: "OrderPlaced", fromVersion: 2, toType: "OrderPlaced", toVersion: 3,
 *     upcast: (data) => ({ ...(data as object), lines: [] }),
 *   }));
 * console.log(registry.findPath(["OrderCreated", 1], ["OrderPlaced", 3]));
 * // [["OrderCreated", 1], ["OrderPlaced", 2], ["OrderPlaced", 3]]
 * ```
 */
export class UpcasterRegistry {
  readonly #steps = new Map<string, UpcastStep>();
  readonly #latest = new Map<string, number>();
  #renames: Renames | undefined;

  static {
    lookupStep = (registry, type, version) => registry.#steps.get(key(type, version));
  }

  /**
   * Registers a synchronous upcaster.
   *
   * @param upcaster From {@linkcode defineUpcaster} or an object of the same shape.
   * @returns This registry, for chaining.
   * @throws {TypeError} For a malformed upcaster, or when one is already registered
   *   for the same stored (type, version).
   * @throws {RillflowError} `UPCASTING_FAILED` when it would close a cycle
   *   (the message names it); the registry is left unchanged.
   */
  register(upcaster: Upcaster): this {
    return this.#add({ async: false, upcaster });
  }

  /**
   * Registers an asynchronous upcaster, which receives a read-only database handle.
   *
   * @param upcaster The upcaster; `upcast(data, db, envelope)` returns a promise.
   * @returns This registry, for chaining.
   * @throws {TypeError} For a malformed upcaster or a duplicate stored (type, version).
   * @throws {RillflowError} `UPCASTING_FAILED` when it would close a cycle.
   */
  registerAsync(upcaster: AsyncUpcaster): this {
    return this.#add({ async: true, upcaster });
  }

  #add(step: UpcastStep): this {
    assertUpcasterShape(step.upcaster);
    const { fromType, fromVersion, toType, toVersion } = step.upcaster;
    const existing = this.#steps.get(key(fromType, fromVersion));
    if (existing) {
      throw new TypeError(
        `An upcaster from ${nodeLabel([fromType, fromVersion])} is already registered (to ${
          nodeLabel([existing.upcaster.toType, existing.upcaster.toVersion])
        })`,
      );
    }
    const cycle = this.#cycleThrough([fromType, fromVersion], [toType, toVersion]);
    if (cycle) {
      throw new RillflowError(
        "UPCASTING_FAILED",
        `Upcaster ${nodeLabel([fromType, fromVersion])} → ${
          nodeLabel([toType, toVersion])
        } would create a cycle: ${cycle.map(nodeLabel).join(" → ")}`,
        { retryable: false, details: { cycle } },
      );
    }
    this.#steps.set(key(fromType, fromVersion), Object.freeze(step) as UpcastStep);
    for (const [type, version] of [[fromType, fromVersion], [toType, toVersion]] as const) {
      this.#latest.set(type, Math.max(this.#latest.get(type) ?? 1, version));
    }
    this.#renames = undefined;
    return this;
  }

  /** The cycle a new edge from → to would close, as a list of shapes, or null. */
  #cycleThrough(from: EventShape, to: EventShape): EventShape[] | null {
    const path: EventShape[] = [from, to];
    let current = to;
    while (true) {
      if (current[0] === from[0] && current[1] === from[1]) return path;
      const step = this.#steps.get(key(current[0], current[1]));
      if (!step) return null;
      current = [step.upcaster.toType, step.upcaster.toVersion];
      path.push(current);
    }
  }

  /**
   * Lists the registered upcasters, sorted by stored type and version.
   *
   * @returns One descriptor per upcaster.
   */
  describe(): UpcasterDescriptor[] {
    return [...this.#steps.values()]
      .map(({ async, upcaster: u }) => ({
        fromType: u.fromType,
        fromVersion: u.fromVersion,
        toType: u.toType,
        toVersion: u.toVersion,
        async,
        ...(u.description === undefined ? {} : { description: u.description }),
      }))
      .sort((a, b) =>
        a.fromType < b.fromType ? -1 : a.fromType > b.fromType ? 1 : a.fromVersion - b.fromVersion
      );
  }

  /**
   * The shapes an event goes through from one (type, version) to another.
   *
   * @param from The stored shape, e.g. `["OrderCreated", 1]`.
   * @param to The wanted shape, e.g. `["OrderPlaced", 3]`.
   * @returns Every shape from `from` to `to` inclusive (`[from]` when they are
   *   equal), or null when the upcasters do not lead from one to the other.
   * @throws {TypeError} When `from` or `to` is not a [non-empty type, positive version] pair.
   */
  findPath(from: [string, number], to: [string, number]): Array<[string, number]> | null {
    assertShape(from, "findPath's from");
    assertShape(to, "findPath's to");
    const path: EventShape[] = [[from[0], from[1]]];
    let current: EventShape = path[0]!;
    while (current[0] !== to[0] || current[1] !== to[1]) {
      const step = this.#steps.get(key(current[0], current[1]));
      if (!step) return null;
      current = [step.upcaster.toType, step.upcaster.toVersion];
      path.push(current);
    }
    return path;
  }

  /**
   * The version new events of a type are stored with when built without an
   * explicit version: the highest version of that type any upcaster reads or
   * produces, 1 for types the registry does not know.
   *
   * @param type The event type.
   * @returns The current version.
   */
  currentVersion(type: string): number {
    return this.#latest.get(type) ?? 1;
  }

  /**
   * The stored (type, version) shapes whose upcasting ends in another type,
   * with that type: what a reader filtering by type (`readAll({ eventTypes })`,
   * projections' and subscriptions' `eventTypes`) matches instead of the stored
   * type, so renamed events are selected under their new name only.
   *
   * @returns Three parallel arrays (stored type, stored version, final type), in
   *   registration order.
   */
  renames(): Renames {
    if (this.#renames) return this.#renames;
    const types: string[] = [];
    const versions: number[] = [];
    const finals: string[] = [];
    for (const { upcaster } of this.#steps.values()) {
      const [final] = this.#finalShape([upcaster.fromType, upcaster.fromVersion]);
      if (final === upcaster.fromType) continue;
      types.push(upcaster.fromType);
      versions.push(upcaster.fromVersion);
      finals.push(final);
    }
    // Shared by every read until the next registration: frozen, so no caller can change them.
    return this.#renames = Object.freeze({
      types: Object.freeze(types),
      versions: Object.freeze(versions),
      finals: Object.freeze(finals),
    });
  }

  #finalShape(shape: EventShape): EventShape {
    let current = shape;
    for (
      let step = this.#steps.get(key(...current));
      step;
      step = this.#steps.get(key(...current))
    ) {
      current = [step.upcaster.toType, step.upcaster.toVersion];
    }
    return current;
  }

  /** How many upcasters are registered. */
  get size(): number {
    return this.#steps.size;
  }
}
