/**
 * Compiles {@linkcode Predicate} trees to SQL fragments. Paths and values are
 * bound parameters; operators come from frozen allowlists; a path with a
 * ready duplicated field is compared on its column instead of the JSON.
 *
 * @module
 */
import { joinSql, sql, SqlFragment, trusted } from "../db/sql.ts";
import { quoteIdent } from "../db/identifiers.ts";
import type { CollectionInfo, ReadyField } from "../schema/collection.ts";
import { isKeyPath, type JsonPath, nestUnder, pathKey } from "../schema/json_path.ts";
import type { ComparisonOperator, Predicate, PredicateNode } from "./predicate.ts";

/** SQL operators for each comparison; nothing else is ever spliced as an operator. */
const OPERATORS: Readonly<Record<ComparisonOperator, string>> = Object.freeze({
  eq: "=",
  ne: "<>",
  gt: ">",
  ge: ">=",
  lt: "<",
  le: "<=",
});

/** The JSON type a value compares against (`jsonb_typeof`). */
const JSON_TYPES: Readonly<Record<string, string>> = Object.freeze({
  number: "'number'",
  string: "'string'",
  boolean: "'boolean'",
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The JSON text of a value for a `::jsonb` parameter (a Date becomes its ISO text).
 *
 * @param value A JSON value or Date.
 * @returns JSON text.
 */
export function jsonParam(value: unknown): string {
  return JSON.stringify(value);
}

/**
 * The SQL for the value at a path: `d.doc #> $n::text[]`.
 *
 * @param path The path.
 * @returns The fragment.
 */
export function jsonAt(path: JsonPath): SqlFragment {
  return sql`d.doc #> ${path.segments}::text[]`;
}

/**
 * The ready duplicated field for a path, if any.
 *
 * @param info The collection.
 * @param path The path.
 * @returns The field or undefined.
 */
export function fieldFor(info: CollectionInfo, path: JsonPath): ReadyField | undefined {
  return info.fields.get(pathKey(path));
}

/** Does a query value fit a duplicated column's type (else the JSON path is used)? */
function fits(field: ReadyField, value: unknown): boolean {
  switch (field.type) {
    case "text":
      return typeof value === "string";
    case "integer":
    case "bigint":
      return Number.isSafeInteger(value);
    case "numeric":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    case "timestamptz":
      return value instanceof Date;
    case "uuid":
      return typeof value === "string" && UUID.test(value);
    case "jsonb":
      return value !== null;
  }
}

/** `transform($n::type)`: the compared value as the column stores it. */
function columnValue(field: ReadyField, value: unknown): SqlFragment {
  const typed = field.type === "jsonb"
    ? sql`${jsonParam(value)}::jsonb`
    : sql`${value}::${trusted(field.type)}`;
  return applyTransform(field, typed);
}

function applyTransform(field: ReadyField, inner: SqlFragment): SqlFragment {
  if (!field.transform) return inner;
  const parts = field.transform.split("{value}");
  return new SqlFragment(parts, parts.slice(1).map(() => inner));
}

function column(field: ReadyField): SqlFragment {
  return sql`d.${trusted(quoteIdent(field.column))}`;
}

function typeGuard(path: JsonPath, value: unknown): SqlFragment {
  const type = JSON_TYPES[value instanceof Date ? "string" : typeof value]!;
  return sql`jsonb_typeof(${jsonAt(path)}) = ${trusted(type)}`;
}

function compareJson(op: ComparisonOperator, path: JsonPath, value: unknown): SqlFragment {
  if (op === "eq") return equalsJson(path, value);
  if (op === "ne") return sql`not coalesce(${equalsJson(path, value)}, false)`;
  return sql`(${typeGuard(path, value)} and ${jsonAt(path)} ${trusted(OPERATORS[op])} ${
    jsonParam(value)
  }::jsonb)`;
}

function equalsJson(path: JsonPath, value: unknown): SqlFragment {
  if (value === null) return sql`coalesce(${jsonAt(path)}, 'null'::jsonb) = 'null'::jsonb`;
  const exact = sql`${jsonAt(path)} = ${jsonParam(value)}::jsonb`;
  if (!isKeyPath(path)) return exact;
  // Containment is equality for scalars and lets the collection's GIN index
  // serve it with one parameter; objects and arrays also need the exact check.
  const contained = sql`d.doc @> ${jsonParam(nestUnder(path, value))}::jsonb`;
  return typeof value === "object" && !(value instanceof Date)
    ? sql`(${contained} and ${exact})`
    : contained;
}

function compareColumn(op: ComparisonOperator, field: ReadyField, value: unknown): SqlFragment {
  if (value === null) {
    return sql`${column(field)} ${trusted(op === "eq" ? "is null" : "is not null")}`;
  }
  if (op === "ne") return sql`${column(field)} is distinct from ${columnValue(field, value)}`;
  return sql`${column(field)} ${trusted(OPERATORS[op])} ${columnValue(field, value)}`;
}

function compileIn(path: JsonPath, values: readonly unknown[], info: CollectionInfo): SqlFragment {
  if (values.length === 0) return sql`false`;
  const field = fieldFor(info, path);
  if (field && field.type !== "jsonb" && values.every((v) => fits(field, v))) {
    const list = sql`${[...values]}::${trusted(field.type)}[]`;
    if (!field.transform) return sql`${column(field)} = any(${list})`;
    return sql`${column(field)} = any(array(select ${
      applyTransform(field, sql`u.v`)
    } from unnest(${list}) as u(v)))`;
  }
  const present = values.filter((v) => v !== null);
  const anyOf = sql`${jsonAt(path)} = any(${present.map(jsonParam)}::text[]::jsonb[])`;
  return present.length === values.length ? anyOf : sql`(${anyOf} or ${equalsJson(path, null)})`;
}

function compileRegex(node: Extract<PredicateNode, { kind: "regex" }>, info: CollectionInfo) {
  const op = trusted(node.ignoreCase ? "~*" : "~");
  const field = fieldFor(info, node.path);
  if (field?.type === "text") return sql`${column(field)} ${op} ${node.pattern}::text`;
  return sql`(${
    typeGuard(node.path, "")
  } and d.doc #>> ${node.path.segments}::text[] ${op} ${node.pattern}::text)`;
}

function compileContains(path: JsonPath, value: unknown, info: CollectionInfo): SqlFragment {
  const field = fieldFor(info, path);
  if (field?.type === "jsonb" && !field.transform) {
    return sql`${column(field)} @> ${jsonParam(value)}::jsonb`;
  }
  const atPath = sql`${jsonAt(path)} @> ${jsonParam(value)}::jsonb`;
  if (!isKeyPath(path)) return atPath;
  if (value === null || typeof value !== "object") {
    // At the top of the compared value PostgreSQL lets an array hold a scalar (`["a"] @> "a"`);
    // nested in the whole document it does not (`{"p":["a"]} @> {"p":"a"}` is false). So a scalar
    // is asked for both ways, each served by the collection's GIN index: together they are
    // exactly `doc #> path @> value` (the differential query fuzzer found the difference).
    return sql`(d.doc @> ${jsonParam(nestUnder(path, value))}::jsonb or d.doc @> ${
      jsonParam(nestUnder(path, [value]))
    }::jsonb)`;
  }
  // The whole-document form uses the collection's GIN index, the path form a
  // GIN index on (doc #> path) as the index advisor suggests.
  return sql`(d.doc @> ${jsonParam(nestUnder(path, value))}::jsonb and ${atPath})`;
}

/**
 * Compiles a predicate for a collection.
 *
 * @param predicate The predicate.
 * @param info What the store knows of the collection (its ready duplicated fields).
 * @returns A fragment whose value is never SQL NULL where it matters (`not` is null-safe).
 */
export function compilePredicate(predicate: Predicate, info: CollectionInfo): SqlFragment {
  const node = predicate.node;
  switch (node.kind) {
    case "compare": {
      const field = fieldFor(info, node.path);
      return field && (node.value === null || fits(field, node.value))
        ? compareColumn(node.op, field, node.value)
        : compareJson(node.op, node.path, node.value);
    }
    case "between": {
      const field = fieldFor(info, node.path);
      if (field && fits(field, node.low) && fits(field, node.high)) {
        return sql`(${compareColumn("ge", field, node.low)} and ${
          compareColumn("le", field, node.high)
        })`;
      }
      return sql`(${compareJson("ge", node.path, node.low)} and ${
        compareJson("le", node.path, node.high)
      })`;
    }
    case "in":
      return compileIn(node.path, node.values, info);
    case "contains":
      return compileContains(node.path, node.value, info);
    case "exists":
      return sql`${jsonAt(node.path)} is not null`;
    case "regex":
      return compileRegex(node, info);
    case "and":
    case "or":
      if (node.predicates.length === 0) {
        return sql`${trusted(node.kind === "and" ? "true" : "false")}`;
      }
      return sql`(${
        joinSql(node.predicates.map((p) => compilePredicate(p, info)), ` ${node.kind} `)
      })`;
    case "not":
      return sql`not coalesce(${compilePredicate(node.predicate, info)}, false)`;
  }
}
