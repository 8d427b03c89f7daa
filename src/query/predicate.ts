/**
 * Query conditions on document fields: immutable trees built with the
 * {@linkcode Predicate} factories and compiled to SQL where every value and
 * every path is a bound parameter.
 *
 * @module
 */
import { type JsonPath, parsePath } from "../schema/json_path.ts";
import { assertJsonValue } from "./json_value.ts";

/** A comparison operator of {@linkcode Predicate}; the allowlist of SQL operators. */
export type ComparisonOperator = "eq" | "ne" | "gt" | "ge" | "lt" | "le";

/** The node types of a predicate tree. */
export type PredicateNode =
  | {
    readonly kind: "compare";
    readonly op: ComparisonOperator;
    readonly path: JsonPath;
    readonly value: unknown;
  }
  | { readonly kind: "in"; readonly path: JsonPath; readonly values: readonly unknown[] }
  | { readonly kind: "contains"; readonly path: JsonPath; readonly value: unknown }
  | { readonly kind: "exists"; readonly path: JsonPath }
  | {
    readonly kind: "regex";
    readonly path: JsonPath;
    readonly pattern: string;
    readonly ignoreCase: boolean;
  }
  | {
    readonly kind: "between";
    readonly path: JsonPath;
    readonly low: unknown;
    readonly high: unknown;
  }
  | { readonly kind: "and" | "or"; readonly predicates: readonly Predicate[] }
  | { readonly kind: "not"; readonly predicate: Predicate };

function orderable(value: unknown, what: string): unknown {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new RangeError(`${what} is an invalid Date`);
    return value;
  }
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new RangeError(`${what} must be a finite number, got ${value}`);
  }
  if (typeof value !== "number" && typeof value !== "string" && typeof value !== "boolean") {
    throw new TypeError(
      `${what} must be a number, string, boolean or Date, got ${describe(value)}`,
    );
  }
  return value;
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

function kindOf(value: unknown): string {
  return value instanceof Date ? "string" : typeof value;
}

function many(predicates: readonly Predicate[], what: string): readonly Predicate[] {
  for (const p of predicates) {
    if (!(p instanceof Predicate)) throw new TypeError(`${what}() takes predicates only`);
  }
  return Object.freeze([...predicates]);
}

/**
 * A condition on documents. Build with the static factories; combine with
 * `and`, `or` and `not`. Paths are dotted (`profile.age`, `items[0].sku`).
 *
 * JSON typing rules: a condition compares a field with a value of the same
 * JSON type. Numbers compare as numbers, strings as strings (byte order of
 * the database collation), booleans as booleans; a `Date` is compared as its
 * ISO-8601 text, which orders chronologically for `toJSON()` timestamps. A
 * field of another type never matches `gt`/`ge`/`lt`/`le`/`between`/`regex`.
 * `eq(path, null)` matches JSON null and missing fields; `ne` is the exact
 * negation of `eq` (it matches documents without the field).
 *
 * @example Active customers over 25
 * ```ts
 * import { Predicate } from "@rillflow/rillflow";
 *
 * const p = Predicate.and(Predicate.eq("status", "active"), Predicate.gt("age", 25));
 * console.log(p.node.kind); // "and"
 * ```
 */
export class Predicate {
  /** The condition's tree node. */
  readonly node: PredicateNode;

  private constructor(node: PredicateNode) {
    this.node = Object.freeze(node);
  }

  /**
   * The field equals `value` (JSON equality; objects and arrays compare whole).
   * SQL: `d.doc @> $1::jsonb` for scalars on key paths (the collection's GIN index serves it).
   *
   * @param path A dotted path.
   * @param value Any JSON value, a Date, or null (null or missing).
   * @returns The predicate.
   */
  static eq(path: string, value: unknown): Predicate {
    return Predicate.#compare("eq", path, assertJsonValue(value, "An eq() value"));
  }

  /**
   * The field does not equal `value` (also true when the field is missing).
   *
   * @param path A dotted path.
   * @param value Any JSON value, a Date, or null.
   * @returns The predicate.
   */
  static ne(path: string, value: unknown): Predicate {
    return Predicate.#compare("ne", path, assertJsonValue(value, "A ne() value"));
  }

  /**
   * The field is greater than `value`, of the same JSON type.
   * SQL: `(jsonb_typeof(d.doc #> $1::text[]) = 'number' and d.doc #> $1::text[] > $2::jsonb)`.
   *
   * @param path A dotted path.
   * @param value A number, string, boolean or Date.
   * @returns The predicate.
   */
  static gt(path: string, value: number | string | boolean | Date): Predicate {
    return Predicate.#compare("gt", path, orderable(value, "A gt() value"));
  }

  /**
   * The field is greater than or equal to `value`.
   *
   * @param path A dotted path.
   * @param value A number, string, boolean or Date.
   * @returns The predicate.
   */
  static ge(path: string, value: number | string | boolean | Date): Predicate {
    return Predicate.#compare("ge", path, orderable(value, "A ge() value"));
  }

  /**
   * The field is less than `value`.
   *
   * @param path A dotted path.
   * @param value A number, string, boolean or Date.
   * @returns The predicate.
   */
  static lt(path: string, value: number | string | boolean | Date): Predicate {
    return Predicate.#compare("lt", path, orderable(value, "A lt() value"));
  }

  /**
   * The field is less than or equal to `value`.
   *
   * @param path A dotted path.
   * @param value A number, string, boolean or Date.
   * @returns The predicate.
   */
  static le(path: string, value: number | string | boolean | Date): Predicate {
    return Predicate.#compare("le", path, orderable(value, "A le() value"));
  }

  /**
   * The field equals one of `values`.
   * SQL: `d.doc #> $1::text[] = any($2::text[]::jsonb[])`.
   *
   * @param path A dotted path.
   * @param values JSON values (null matches null or missing); an empty list matches nothing.
   * @returns The predicate.
   */
  static in(path: string, values: readonly unknown[]): Predicate {
    if (!Array.isArray(values)) throw new TypeError("in() needs an array of values");
    values.forEach((v) => assertJsonValue(v, "An in() value"));
    return new Predicate({ kind: "in", path: parsePath(path), values: Object.freeze([...values]) });
  }

  /**
   * The field contains `value` as JSON containment: an array holds the given
   * elements (or the given scalar), an object holds the given keys and values, a
   * scalar equals it. SQL: `(d.doc @> $1::jsonb and d.doc #> $2::text[] @> $3::jsonb)`;
   * for a scalar `(d.doc @> $1::jsonb or d.doc @> $2::jsonb)` (GIN index).
   *
   * @param path A dotted path.
   * @param value A JSON value.
   * @returns The predicate.
   */
  static contains(path: string, value: unknown): Predicate {
    assertJsonValue(value, "A contains() value");
    return new Predicate({ kind: "contains", path: parsePath(path), value });
  }

  /**
   * The field is present (even when its value is JSON null).
   * SQL: `d.doc #> $1::text[] is not null`.
   *
   * @param path A dotted path.
   * @returns The predicate.
   */
  static exists(path: string): Predicate {
    return new Predicate({ kind: "exists", path: parsePath(path) });
  }

  /**
   * The field is a string matching a POSIX regular expression.
   * SQL: `d.doc #>> $1::text[] ~ $2`.
   *
   * @param path A dotted path.
   * @param pattern A POSIX regular expression.
   * @returns The predicate.
   */
  static regex(path: string, pattern: string): Predicate {
    return Predicate.#regex(path, pattern, false);
  }

  /**
   * Like {@linkcode Predicate.regex}, ignoring case (`~*`).
   *
   * @param path A dotted path.
   * @param pattern A POSIX regular expression.
   * @returns The predicate.
   */
  static iregex(path: string, pattern: string): Predicate {
    return Predicate.#regex(path, pattern, true);
  }

  /**
   * The field lies between `low` and `high`, both included, all of one JSON type.
   *
   * @param path A dotted path.
   * @param low The lower bound.
   * @param high The upper bound.
   * @returns The predicate.
   * @throws {TypeError} When the bounds have different types.
   */
  static between(
    path: string,
    low: number | string | Date,
    high: number | string | Date,
  ): Predicate {
    orderable(low, "A between() bound");
    orderable(high, "A between() bound");
    if (kindOf(low) !== kindOf(high)) {
      throw new TypeError("between() needs two bounds of the same type");
    }
    return new Predicate({ kind: "between", path: parsePath(path), low, high });
  }

  /**
   * All of the predicates hold (true when none are given).
   *
   * @param predicates The predicates.
   * @returns The predicate.
   */
  static and(...predicates: Predicate[]): Predicate {
    return new Predicate({ kind: "and", predicates: many(predicates, "and") });
  }

  /**
   * At least one of the predicates holds (false when none are given).
   *
   * @param predicates The predicates.
   * @returns The predicate.
   */
  static or(...predicates: Predicate[]): Predicate {
    return new Predicate({ kind: "or", predicates: many(predicates, "or") });
  }

  /**
   * The predicate does not hold.
   *
   * @param predicate The predicate.
   * @returns The predicate.
   */
  static not(predicate: Predicate): Predicate {
    return new Predicate({ kind: "not", predicate: many([predicate], "not")[0]! });
  }

  static #compare(op: ComparisonOperator, path: string, value: unknown): Predicate {
    return new Predicate({ kind: "compare", op, path: parsePath(path), value });
  }

  static #regex(path: string, pattern: string, ignoreCase: boolean): Predicate {
    if (typeof pattern !== "string") throw new TypeError("A regex pattern must be a string");
    return new Predicate({ kind: "regex", path: parsePath(path), pattern, ignoreCase });
  }
}
