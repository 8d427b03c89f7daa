/**
 * Upcasters: functions that bring stored event data from one (type, version)
 * to the next, so readers only ever see the current shape.
 *
 * @module
 */
import type { EventEnvelope } from "./envelope.ts";
import type { SqlTag } from "../db/sql.ts";

/**
 * A synchronous upcaster: turns the data of events stored as
 * `fromType` v`fromVersion` into the data of `toType` v`toVersion`.
 * A rename is an upcaster whose `toType` differs from its `fromType`.
 */
export interface Upcaster {
  /** The stored event type it reads. */
  readonly fromType: string;
  /** The stored version it reads (a positive integer). */
  readonly fromVersion: number;
  /** The type of its output (equal to `fromType` unless it renames). */
  readonly toType: string;
  /** The version of its output. */
  readonly toVersion: number;
  /** A line shown by `describe()` and `rillflow upcasters list`. */
  readonly description?: string;
  /**
   * Converts the data.
   *
   * @param data The data at `fromType` v`fromVersion` (do not mutate it).
   * @param envelope The envelope being upcast, for metadata-dependent conversions.
   * @returns The data at `toType` v`toVersion`.
   */
  upcast(data: unknown, envelope: EventEnvelope): unknown;
}

/**
 * A read-only database handle given to {@linkcode AsyncUpcaster}s. Every call
 * runs in its own `READ ONLY` transaction whose `search_path` is the store's
 * schema, so `select … from customers` reads the store's tables and any write
 * is rejected by PostgreSQL.
 */
export interface ReadOnlyDb {
  /**
   * Runs one read-only statement with bound parameters.
   *
   * @param text SQL text with `$1…$n` placeholders.
   * @param params The parameter values.
   * @returns The result rows.
   */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs a tagged read-only query; every `${value}` is a bound parameter. */
  readonly sql: SqlTag;
}

/**
 * An asynchronous upcaster: like {@linkcode Upcaster}, but it may look things
 * up in the database through a {@linkcode ReadOnlyDb} (e.g. a customer's
 * region that old events did not carry).
 */
export interface AsyncUpcaster {
  /** The stored event type it reads. */
  readonly fromType: string;
  /** The stored version it reads (a positive integer). */
  readonly fromVersion: number;
  /** The type of its output. */
  readonly toType: string;
  /** The version of its output. */
  readonly toVersion: number;
  /** A line shown by `describe()` and `rillflow upcasters list`. */
  readonly description?: string;
  /**
   * Converts the data.
   *
   * @param data The data at `fromType` v`fromVersion` (do not mutate it).
   * @param db A read-only handle on the store's schema.
   * @param envelope The envelope being upcast.
   * @returns The data at `toType` v`toVersion`.
   */
  upcast(data: unknown, db: ReadOnlyDb, envelope: EventEnvelope): Promise<unknown>;
}

/** What `UpcasterRegistry.describe()` reports for one registered upcaster. */
export interface UpcasterDescriptor {
  /** The stored type it reads. */
  readonly fromType: string;
  /** The stored version it reads. */
  readonly fromVersion: number;
  /** The type it produces. */
  readonly toType: string;
  /** The version it produces. */
  readonly toVersion: number;
  /** Whether it was registered with `registerAsync`. */
  readonly async: boolean;
  /** Its description, when given. */
  readonly description?: string;
}

/**
 * Declares a synchronous upcaster concisely, validating its fields.
 *
 * @example Add a field with a default (v1 → v2)
 * ```ts
 * import { defineUpcaster } from "@rillflow/rillflow";
 *
 * const placedV1toV2 = defineUpcaster({
 *   fromType: "OrderPlaced", fromVersion: 1, toType: "OrderPlaced", toVersion: 2,
 *   upcast: (data) => ({ ...(data as object), currency: "EUR" }),
 * });
 * console.log(placedV1toV2.toVersion); // 2
 * ```
 *
 * @param upcaster Source and target (type, version) and the conversion.
 * @returns The frozen upcaster, ready for `UpcasterRegistry.register`.
 * @throws {TypeError} When a type is empty, a version is not a positive integer or
 *   `upcast` is not a function.
 */
export function defineUpcaster(upcaster: {
  fromType: string;
  fromVersion: number;
  toType: string;
  toVersion: number;
  description?: string;
  upcast(data: unknown, envelope: EventEnvelope): unknown;
}): Upcaster {
  assertUpcasterShape(upcaster);
  return Object.freeze({ ...upcaster });
}

/**
 * Validates the fields of an upcaster (sync or async).
 *
 * @param upcaster The candidate.
 * @throws {TypeError} Naming the offending field.
 */
export function assertUpcasterShape(upcaster: unknown): asserts upcaster is Upcaster {
  const u = upcaster as Partial<Upcaster> | null;
  if (u === null || typeof u !== "object") {
    throw new TypeError("An upcaster must be an object: build it with defineUpcaster()");
  }
  for (const key of ["fromType", "toType"] as const) {
    if (typeof u[key] !== "string" || u[key].length === 0) {
      throw new TypeError(
        `Upcaster ${key} must be a non-empty string, got ${JSON.stringify(u[key])}`,
      );
    }
  }
  for (const key of ["fromVersion", "toVersion"] as const) {
    const value = u[key];
    if (!Number.isSafeInteger(value) || (value as number) < 1) {
      throw new TypeError(`Upcaster ${key} must be a positive integer, got ${value}`);
    }
  }
  if (typeof u.upcast !== "function") {
    throw new TypeError(
      `Upcaster from ${nodeLabel([u.fromType!, u.fromVersion!])} needs an upcast function`,
    );
  }
  if (u.description !== undefined && typeof u.description !== "string") {
    throw new TypeError("Upcaster description must be a string");
  }
}

/**
 * Formats a (type, version) pair for messages: `OrderPlaced v2`.
 *
 * @param node The pair.
 * @returns The label.
 */
export function nodeLabel([type, version]: readonly [string, number]): string {
  return `${type} v${version}`;
}
