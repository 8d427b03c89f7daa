/**
 * A small JSON format for document queries, used by `rillflow docs explain`:
 *
 * ```json
 * { "collection": "customers",
 *   "filter": { "and": [{ "eq": ["status", "active"] }, { "gt": ["age", 25] }] },
 *   "orderBy": [["age", "desc"], "email"], "limit": 10, "offset": 0,
 *   "search": "alice", "deleted": "include", "select": { "who": "profile.name" } }
 * ```
 *
 * Conditions are one-key objects: `eq`, `ne`, `gt`, `ge`, `lt`, `le`, `contains`,
 * `regex`, `iregex`: `[path, value]`; `in`: `[path, [values]]`; `between`:
 * `[path, low, high]`; `exists`: `path`; `and`, `or`: `[conditions]`; `not`: a condition.
 *
 * @module
 */
import type { DocumentQuery } from "./document_query.ts";
import { Predicate } from "./predicate.ts";

/** A query in the JSON format. */
export interface QueryJson {
  /** The collection (default `docs`). */
  collection?: string;
  /** The condition. */
  filter?: unknown;
  /** A path, or an array of paths and `["path", "asc" | "desc"]` pairs. */
  orderBy?: unknown;
  /** At most this many documents. */
  limit?: number;
  /** Skip this many. */
  offset?: number;
  /** Full-text search: the text, or `{ text, language }`. */
  search?: string | { text: string; language?: string };
  /** `include` or `only` soft-deleted documents. */
  deleted?: "include" | "only";
  /** Output name → path. */
  select?: Record<string, string>;
}

const COMPARE = ["eq", "ne", "gt", "ge", "lt", "le", "contains", "regex", "iregex"] as const;

function fail(message: string): never {
  throw new TypeError(`Invalid query JSON: ${message}`);
}

function args(value: unknown, count: number, op: string): unknown[] {
  if (!Array.isArray(value) || value.length !== count) {
    fail(`"${op}" takes an array of ${count} items`);
  }
  return value;
}

/**
 * Parses a condition of the JSON format.
 *
 * @param json The condition.
 * @returns The predicate.
 * @throws {TypeError} For anything malformed.
 */
export function predicateFromJson(json: unknown): Predicate {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    fail('a condition is an object with one key, such as {"eq": ["status", "active"]}');
  }
  const entries = Object.entries(json);
  if (entries.length !== 1) fail("a condition has exactly one key");
  const [op, value] = entries[0]!;
  if ((COMPARE as readonly string[]).includes(op)) {
    const [path, operand] = args(value, 2, op);
    // deno-lint-ignore no-explicit-any
    return (Predicate as any)[op](path, operand);
  }
  switch (op) {
    case "in": {
      const [path, values] = args(value, 2, op);
      return Predicate.in(path as string, values as unknown[]);
    }
    case "between": {
      const [path, low, high] = args(value, 3, op);
      return Predicate.between(path as string, low as number, high as number);
    }
    case "exists":
      return Predicate.exists(value as string);
    case "and":
    case "or":
      if (!Array.isArray(value)) fail(`"${op}" takes an array of conditions`);
      return Predicate[op](...value.map(predicateFromJson));
    case "not":
      return Predicate.not(predicateFromJson(value));
    default:
      fail(`unknown operator "${op}"`);
  }
}

/**
 * Applies a JSON query to a query of its collection.
 *
 * @param query An empty query on the collection.
 * @param json The parsed JSON query.
 * @returns The configured query.
 * @throws {TypeError} For anything malformed.
 */
export function applyQueryJson<T>(
  query: DocumentQuery<T>,
  json: QueryJson,
): DocumentQuery<unknown> {
  let q: DocumentQuery<unknown> = query as DocumentQuery<unknown>;
  if (json.filter !== undefined) q = q.filter(predicateFromJson(json.filter));
  const orders = json.orderBy === undefined
    ? []
    : typeof json.orderBy === "string"
    ? [json.orderBy]
    : Array.isArray(json.orderBy)
    ? json.orderBy
    : fail('"orderBy" is a path or an array of paths and ["path", "asc" | "desc"] pairs');
  for (const order of orders) {
    if (typeof order === "string") q = q.orderBy(order);
    else if (Array.isArray(order) && order.length === 2) q = q.orderBy(order[0], order[1]);
    else fail('"orderBy" items are "path" or ["path", "asc" | "desc"]');
  }
  if (json.limit !== undefined) q = q.limit(json.limit);
  if (json.offset !== undefined) q = q.offset(json.offset);
  if (json.search !== undefined) {
    q = typeof json.search === "string"
      ? q.search(json.search)
      : q.search(json.search.text, { language: json.search.language });
  }
  if (json.deleted === "include") q = q.includeDeleted();
  else if (json.deleted === "only") q = q.onlyDeleted();
  else if (json.deleted !== undefined) fail('"deleted" is "include" or "only"');
  if (json.select !== undefined) q = q.selectFields(json.select);
  return q;
}

/**
 * Parses the text of a JSON query.
 *
 * @param text JSON text.
 * @returns The query object.
 * @throws {TypeError} When the text is not a JSON object.
 */
export function parseQueryJson(text: string): QueryJson {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    fail((error as Error).message);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) fail("expected an object");
  const known = [
    "collection",
    "filter",
    "orderBy",
    "limit",
    "offset",
    "search",
    "deleted",
    "select",
  ];
  for (const key of Object.keys(json)) {
    if (!known.includes(key)) fail(`unknown key "${key}" (known: ${known.join(", ")})`);
  }
  return json as QueryJson;
}
